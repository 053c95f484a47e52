#!/usr/bin/python3
"""Benchmark peers for bench/ann-bench.mjs: Faiss IndexFlatL2 / IndexIVFFlat and hnswlib on the
same .fvecs files, thread count, nlist, nprobe sweep and k-means settings as nitamono.
Run with Debian's /usr/bin/python3 (python3-faiss, python3-hnswlib, python3-threadpoolctl) and
libopenblas0 installed: without it Debian's Faiss runs on the reference BLAS (libblas3), about
50x slower in batch search and k-means, and every BLAS-bound ratio would be wrong, so this script
refuses to run then. Prints one JSON object."""
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


def time_single(index_search, q, k, n_single):
    t0 = time.perf_counter()
    for i in range(n_single):
        index_search(q[i:i + 1], k)
    return n_single / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--base', required=True)
    p.add_argument('--queries', required=True)
    p.add_argument('--gt', required=True)
    p.add_argument('--nlist', type=int, required=True)
    p.add_argument('--nprobe', default='1,2,4,8,16,32,64')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--iterations', type=int, default=25)
    p.add_argument('--single-queries', type=int, default=1000)
    p.add_argument('--flat-single-queries', type=int, default=200)
    p.add_argument('--hnsw', action='store_true')
    p.add_argument('--ef', default='10,20,40,80,160,320')
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
    n, d = xb.shape
    k = 10
    out = {'n': n, 'dim': d, 'threads': a.threads, 'faiss_version': faiss.__version__,
           'blas': [{k: i.get(k) for k in ('internal_api', 'version', 'num_threads', 'architecture')} for i in threadpool_info()
                    if i.get('user_api') == 'blas']}

    flat = faiss.IndexFlatL2(d)
    t0 = time.perf_counter(); flat.add(xb); add_s = time.perf_counter() - t0
    nsf = min(a.flat_single_queries, len(xq))
    qs = time_single(flat.search, xq, k, nsf)
    t0 = time.perf_counter(); _, I = flat.search(xq, k); bs = len(xq) / (time.perf_counter() - t0)
    r1, r10 = recall(I, gt)
    out['flat'] = {'add_s': add_s, 'qps_single': qs, 'qps_batch': bs, 'recall_at_1': r1, 'recall_at_10': r10}

    quantizer = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, a.nlist)
    ivf.cp.niter = a.iterations
    ivf.cp.max_points_per_centroid = 256
    t0 = time.perf_counter(); ivf.train(xb); train_s = time.perf_counter() - t0
    t0 = time.perf_counter(); ivf.add(xb); add_s = time.perf_counter() - t0
    rows = []
    ns = min(a.single_queries, len(xq))
    for nprobe in [int(x) for x in a.nprobe.split(',') if int(x) <= a.nlist]:
        ivf.nprobe = nprobe
        qs = time_single(ivf.search, xq, k, ns)
        t0 = time.perf_counter(); _, I = ivf.search(xq, k); bs = len(xq) / (time.perf_counter() - t0)
        r1, r10 = recall(I, gt)
        rows.append({'nprobe': nprobe, 'recall_at_1': r1, 'recall_at_10': r10, 'qps_single': qs, 'qps_batch': bs})
    out['ivf'] = {'nlist': a.nlist, 'train_s': train_s, 'add_s': add_s, 'rows': rows}

    if a.hnsw:
        import hnswlib
        h = hnswlib.Index(space='l2', dim=d)
        h.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
        h.set_num_threads(a.threads)
        t0 = time.perf_counter(); h.add_items(xb, np.arange(n)); build_s = time.perf_counter() - t0
        hrows = []
        for ef in [int(x) for x in a.ef.split(',')]:
            h.set_ef(max(ef, k))
            t0 = time.perf_counter()
            for i in range(ns):
                h.knn_query(xq[i:i + 1], k=k)
            qs = ns / (time.perf_counter() - t0)
            t0 = time.perf_counter(); I, _ = h.knn_query(xq, k=k); bs = len(xq) / (time.perf_counter() - t0)
            r1, r10 = recall(I.astype(np.int64), gt)
            hrows.append({'ef': ef, 'recall_at_1': r1, 'recall_at_10': r10, 'qps_single': qs, 'qps_batch': bs})
        out['hnsw'] = {'M': 16, 'ef_construction': 200, 'build_s': build_s, 'rows': hrows}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
