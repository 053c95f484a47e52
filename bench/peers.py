#!/usr/bin/python3
"""Benchmark peers for bench/ann-bench.mjs: Faiss k-means, IndexFlatL2, IndexIVFFlat, the compressed
IVF{n},SQ8 and IVF{n},PQ{m}np (each also wrapped in IndexRefineFlat), and optionally hnswlib, on the
same .fvecs files, queries, thread count, nlist, nprobe sweep and k-means settings as nitamono.
Run with Debian's /usr/bin/python3 (python3-faiss, python3-hnswlib, python3-threadpoolctl) and
libopenblas0 installed: without it Debian's Faiss runs on the reference BLAS (libblas3), about
50x slower in batch search and k-means, and every BLAS-bound ratio would be wrong, so this script
refuses to run then. Prints one JSON object.

Timing: "single" is one query per call from Python (each call pays the Python/SWIG call, about
10 us); recall is taken from those same calls. "batch" (all queries in one call) is measured for
the flat index always and for the IVF rows only with --batch."""
import argparse, json, sys, time
import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    return np.ascontiguousarray(rows[:, 1:].view(dtype))


def recall(found, gt, k=10):
    r1 = float(np.mean(found[:, 0] == gt[:, 0]))
    inter = [len(set(found[i, :k]) & set(gt[i, :k])) for i in range(len(gt))]
    return r1, float(np.mean(inter)) / k


def single_pass(search, q, k):
    """One query per call over all of q: queries/s, and the ids found (for recall)."""
    ids = np.empty((len(q), k), dtype=np.int64)
    t0 = time.perf_counter()
    for i in range(len(q)):
        ids[i] = search(q[i:i + 1], k)[1][0]
    return len(q) / (time.perf_counter() - t0), ids


def time_single(search, q, k, n_single):
    t0 = time.perf_counter()
    for i in range(n_single):
        search(q[i:i + 1], k)
    return n_single / (time.perf_counter() - t0)


def has_pq(ivf, faiss):
    """IVF-PQ, 8-bit or 4-bit fast scan (IndexIVFPQFastScan is no IndexIVFPQ)."""
    return isinstance(ivf, (faiss.IndexIVFPQ, faiss.IndexIVFPQFastScan))


def ivf_ram_bytes(index, faiss):
    """RAM of an IVF index computed from its structures: codes, 8-byte ids, centroids, codec
    parameters (SQ ranges, PQ codebooks) and IVF-PQ's precomputed table (which serialize_index
    does not store: it is rebuilt on load). Fast scan stores each list's codes in whole blocks
    of n_per_block codes (BlockInvertedLists), padding included."""
    ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    n = ivf.ntotal
    parts = {'codes': n * ivf.code_size, 'ids': n * 8, 'centroids': ivf.nlist * ivf.d * 4, 'codec': 0, 'table': 0}
    if isinstance(ivf, faiss.IndexIVFScalarQuantizer):
        parts['codec'] = ivf.sq.trained.size() * 4
    if has_pq(ivf, faiss):
        parts['codec'] = ivf.pq.centroids.size() * 4
        if ivf.use_precomputed_table:
            parts['table'] = ivf.precomputed_table.size() * 4
    if isinstance(ivf, faiss.IndexIVFPQFastScan):
        il = faiss.downcast_InvertedLists(ivf.invlists)
        parts['codes'] = sum(-(-il.list_size(l) // il.n_per_block) * il.block_size for l in range(ivf.nlist))
    return sum(parts.values()), parts


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--base', required=True)
    p.add_argument('--queries', required=True)
    p.add_argument('--gt', required=True)
    p.add_argument('--nq', type=int, default=0, help='use the first NQ queries (0: all)')
    p.add_argument('--nlist', type=int, required=True)
    p.add_argument('--nprobe', default='1,2,4,8,16,32,64')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--iterations', type=int, default=25)
    p.add_argument('--flat-single-queries', type=int, default=100)
    p.add_argument('--no-ivf-flat', action='store_true')
    p.add_argument('--codecs', default='', help="comma-separated factory storages after IVF{nlist}, e.g. 'SQ8,PQ56np'; "
                   "'OPQ56+PQ56np' is OPQ56,IVF{nlist},PQ56np")
    p.add_argument('--opq-niter', type=int, default=50, help="OPQMatrix.niter (Faiss's default 50)")
    p.add_argument('--refine-factors', default='', help='IndexRefineFlat k_factor values, e.g. 4,16')
    p.add_argument('--batch', action='store_true', help='also time all queries in one call for the IVF rows')
    p.add_argument('--hnsw', action='store_true')
    p.add_argument('--ef', default='10,20,40,80,160')
    a = p.parse_args()

    import faiss
    from threadpoolctl import threadpool_info, threadpool_limits
    blas = [i for i in threadpool_info() if i.get('user_api') == 'blas']
    if not any(i.get('internal_api') == 'openblas' for i in blas):
        sys.exit('peers.py: Faiss is not running on OpenBLAS (found %s): apt-get install libopenblas0'
                 % ([i.get('internal_api') for i in blas] or 'no BLAS'))
    # the same thread count for OpenMP (Faiss's loops) and the BLAS (its batch kernels)
    threadpool_limits(limits=a.threads)
    faiss.omp_set_num_threads(a.threads)
    xb = read_vecs(a.base, np.float32)
    xq = read_vecs(a.queries, np.float32)
    gt = read_vecs(a.gt, np.int32)
    if a.nq:
        xq, gt = xq[:a.nq], gt[:a.nq]
    n, d = xb.shape
    k = 10
    nprobes = [int(x) for x in a.nprobe.split(',') if int(x) <= a.nlist]
    factors = [float(x) for x in a.refine_factors.split(',') if x]
    log = lambda s: print(f'[peers.py] {s}', file=sys.stderr, flush=True)
    out = {'n': n, 'dim': d, 'nq': len(xq), 'threads': a.threads, 'faiss_version': faiss.__version__,
           'blas': [{k: i.get(k) for k in ('internal_api', 'version', 'num_threads', 'architecture')} for i in threadpool_info()
                    if i.get('user_api') == 'blas']}

    # k-means alone: the coarse quantizer's training, same K, iterations, sample cap and seed policy
    log(f'k-means K={a.nlist}, {a.iterations} iterations …')
    clus = faiss.Clustering(d, a.nlist)
    clus.niter = a.iterations
    clus.max_points_per_centroid = 256
    t0 = time.perf_counter(); clus.train(xb, faiss.IndexFlatL2(d)); km_s = time.perf_counter() - t0
    stats = clus.iteration_stats
    out['kmeans'] = {'k': a.nlist, 'iterations': a.iterations, 'trained_on': min(n, 256 * a.nlist), 'train_s': km_s,
                     'objective': float(stats.at(stats.size() - 1).obj) if stats.size() else None}

    log('IndexFlatL2 …')
    flat = faiss.IndexFlatL2(d)
    t0 = time.perf_counter(); flat.add(xb); add_s = time.perf_counter() - t0
    qs = time_single(flat.search, xq, k, min(a.flat_single_queries, len(xq)))
    t0 = time.perf_counter(); _, I = flat.search(xq, k); bs = len(xq) / (time.perf_counter() - t0)
    r1, r10 = recall(I, gt)
    out['flat'] = {'add_s': add_s, 'qps_single': qs, 'qps_batch': bs, 'recall_at_1': r1, 'recall_at_10': r10,
                   'memory_bytes': n * d * 4}
    del flat

    def sweep(index, ivf, label, refine_factor=None):
        rows = []
        for nprobe in nprobes:
            ivf.nprobe = nprobe
            qs, I = single_pass(index.search, xq, k)
            r1, r10 = recall(I, gt)
            row = {'nprobe': nprobe, 'refine_factor': refine_factor, 'recall_at_1': r1, 'recall_at_10': r10, 'qps_single': qs}
            if a.batch:
                t0 = time.perf_counter(); index.search(xq, k); row['qps_batch'] = len(xq) / (time.perf_counter() - t0)
            log(f'{label} nprobe {nprobe}{"" if refine_factor is None else f" refine {refine_factor:g}"}: 10-R@10 {r10:.4f}  {qs:.0f} q/s single')
            rows.append(row)
        return rows

    def build(factory):
        index = faiss.index_factory(d, factory)
        opq_bytes = 0
        if factory.startswith('OPQ'):
            opq = faiss.downcast_VectorTransform(index.chain.at(0))
            opq.niter = a.opq_niter
            opq_bytes = d * d * 4
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        ivf.cp.niter = a.iterations
        ivf.cp.max_points_per_centroid = 256
        if has_pq(ivf, faiss):
            ivf.pq.cp.niter = a.iterations
            ivf.pq.cp.max_points_per_centroid = 256
        log(f'{factory}: training …')
        t0 = time.perf_counter(); index.train(xb); train_s = time.perf_counter() - t0
        t0 = time.perf_counter(); index.add(xb); add_s = time.perf_counter() - t0
        ram, parts = ivf_ram_bytes(index, faiss)
        if opq_bytes:
            parts['rotation'] = opq_bytes
            ram += opq_bytes
        return index, ivf, {'factory': factory, 'nlist': ivf.nlist, 'train_s': train_s, 'add_s': add_s, 'memory_bytes': ram,
                            'memory_parts': parts, 'serialized_bytes': int(faiss.serialize_index(index).size)}

    if not a.no_ivf_flat:
        index, ivf, info = build(f'IVF{a.nlist},Flat')
        info['rows'] = sweep(index, ivf, info['factory'])
        out['ivf'] = info
        del index

    out['coded'] = []
    for codec in [c for c in a.codecs.split(',') if c]:
        pre, storage = codec.split('+') if '+' in codec else (None, codec)
        index, ivf, info = build(f'{pre + "," if pre else ""}IVF{a.nlist},{storage}')
        info['use_precomputed_table'] = int(getattr(ivf, 'use_precomputed_table', 0))
        info['by_residual'] = int(ivf.by_residual)
        info['rows'] = sweep(index, ivf, info['factory'])
        if factors:
            # IndexRefineFlat over the trained, filled index: the full vectors are copied into an
            # IndexFlat in RAM (Faiss's re-ranking reads them from memory)
            refined = faiss.IndexRefineFlat(index, faiss.swig_ptr(xb))
            info['refine_ram_bytes'] = n * d * 4
            for f in factors:
                refined.k_factor = f
                info['rows'] += sweep(refined, ivf, info['factory'] + ',RFlat', f)
            del refined
        out['coded'].append(info)
        del index

    if a.hnsw:
        import hnswlib
        log('hnswlib (Python) …')
        h = hnswlib.Index(space='l2', dim=d)
        h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
        h.set_num_threads(a.threads)
        t0 = time.perf_counter(); h.add_items(xb, np.arange(n)); build_s = time.perf_counter() - t0
        h.set_num_threads(1)
        hrows = []
        for ef in [int(x) for x in a.ef.split(',')]:
            h.set_ef(max(ef, k))
            ids = np.empty((len(xq), k), dtype=np.int64)
            t0 = time.perf_counter()
            for i in range(len(xq)):
                ids[i] = h.knn_query(xq[i:i + 1], k=k)[0][0]
            qs = len(xq) / (time.perf_counter() - t0)
            r1, r10 = recall(ids, gt)
            hrows.append({'ef': ef, 'recall_at_1': r1, 'recall_at_10': r10, 'qps_single': qs})
        out['hnsw'] = {'M': 16, 'ef_construction': 200, 'build_s': build_s, 'rows': hrows}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
