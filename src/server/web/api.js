// @ts-check
// Thin client for the nitamono HTTP API. Every error becomes an Error whose message is the
// server's `error.message` (and `.code` / `.status` are set). The typedefs below are the parts
// of the responses the page reads; GET /api/openapi.json has all of them.

/**
 * @typedef {string} Features  color, deep, or the name of learned features (nitamono learn)
 * @typedef {'exact' | 'ivf'} Method
 *
 * @typedef {object} Cost The seed's cost model for one N and D
 * @property {number} n
 * @property {number} d
 * @property {number} k_groups
 * @property {number} exact N·D
 * @property {number} ivf D·(K + N/K)
 * @property {number} ivf_seed D·√N
 * @property {number} ivf_optimal
 * @property {number} ratio
 * @property {number} memory_flat bytes of RAM, float32 vectors
 * @property {number} memory_ivf bytes of RAM, inverted file of float32 vectors
 * @property {number} memory_ivf_sq8 bytes of RAM, inverted file of 8-bit codes
 * @property {number} memory_ivf_pq bytes of RAM, inverted file of PQ codes (pq_m bytes a vector)
 * @property {number} pq_m
 *
 * @typedef {{ collection: Cost, seed: Cost[] }} CostTable
 *
 * @typedef {object} ImageItem An image of the collection (a listed image or a search result)
 * @property {number} id
 * @property {string} path
 * @property {string} thumbnail_url
 * @property {string} file_url
 * @property {number} [distance] search results only
 *
 * @typedef {object} IndexFacts
 * @property {string} kind flat, ivf, sq8, pq, ivf-sq8, ivf-pq, fp16, ivf-fp16
 * @property {string} factory e.g. 'IVF317,PQ64,RFlat'
 * @property {string} [codec] PQ kinds: sub-quantizers, bits, bytes a vector, of residuals or vectors
 * @property {number} size
 * @property {number | null} nlist
 * @property {number} memory_bytes RAM
 * @property {number} bytes_per_image RAM per image
 * @property {number} refine_bytes full vectors re-ranked from the catalogue on disk
 * @property {number} raw_bytes the vectors as float32
 * @property {string | null} reason
 * @property {{ nprobe: number | null, refine_factor: number | null }} search_defaults
 * @property {{ target_recall: number, recall: number, reached: boolean, queries: number } | null} tuning
 *
 * @typedef {object} FeatureStats
 * @property {Features} kind
 * @property {number} dim
 * @property {IndexFacts | null} index
 * @property {number | null} ivf_nlist
 * @property {boolean} ivf_nlist_estimated
 * @property {CostTable} costs
 *
 * @typedef {object} Stats
 * @property {number} images
 * @property {number} skipped
 * @property {FeatureStats[]} features
 * @property {Features} default_features
 * @property {{ index_bytes: number, refine_bytes: number, rss_bytes: number, heap_used_bytes: number }} memory
 * @property {number} disk_bytes
 *
 * @typedef {object} ImagePage
 * @property {number} total
 * @property {ImageItem[]} images
 *
 * @typedef {object} SearchResponse
 * @property {number} took_ms
 * @property {number} extract_ms
 * @property {Method} method
 * @property {Features} features
 * @property {number} distances_computed
 * @property {number} n
 * @property {number} dim
 * @property {number} k
 * @property {number} [nprobe]
 * @property {number} [nlist]
 * @property {number} [refine_factor]
 * @property {string} [index]
 * @property {{ source: 'indexed' | 'extracted', id?: number, path?: string, ref?: string }} query  ref: an upload kept for a shared link
 * @property {Cost} cost
 * @property {{ bins: number, values: number[] }} [color_histogram]
 * @property {number} [filtered] images that pass the filters (a filtered search)
 * @property {(ImageItem & { distance: number })[]} results
 * @property {string[]} [warnings]
 *
 * @typedef {{ took_ms: number, distances_computed: number }} Timing
 *
 * @typedef {object} Evaluation
 * @property {number} k
 * @property {number} recall_at_1
 * @property {number} recall_at_k
 * @property {Timing} exact
 * @property {Timing} ivf
 *
 * @typedef {{ mean_ms: number, p50_ms: number, distances_computed: number }} SweepTiming
 *
 * @typedef {object} Sweep
 * @property {number} k
 * @property {number} nlist
 * @property {number} queries
 * @property {SweepTiming} exact
 * @property {SweepPoint[]} points
 * @property {KindSeries[]} [series] with `kinds`: one line per index kind
 * @property {{ train_vectors: number, train_max: number, time_budget_ms: number, skipped: { name: string, factory: string, reason: string }[], took_ms: number }} [comparison]
 *
 * @typedef {SweepTiming & { nprobe: number, recall_at_k: number, recall_at_1: number }} SweepPoint
 *
 * @typedef {object} KindSeries An index kind measured on the collection's vectors
 * @property {string} name flat, sq8, pq, pq-rflat
 * @property {string} label e.g. 'IVF-SQ8'
 * @property {string} factory e.g. 'IVF39,SQ8'
 * @property {boolean} own the collection's own index
 * @property {number} memory_bytes RAM
 * @property {number} refine_bytes disk (re-ranking reads)
 * @property {number | null} refine_factor
 * @property {SweepPoint[]} points
 * @property {boolean} complete
 *
 * @typedef {object} DuplicateGroup
 * @property {{ id: number, path: string, exact_copy: boolean, thumbnail_url: string, file_url: string }[]} images
 * @property {number} max_distance
 * @property {boolean} exact
 *
 * @typedef {object} Duplicates
 * @property {Features} features
 * @property {number} threshold
 * @property {'default' | 'given'} threshold_source
 * @property {boolean} verified
 * @property {Method} method
 * @property {number} [nprobe]
 * @property {number} n
 * @property {number} images_in_groups
 * @property {number} took_ms
 * @property {DuplicateGroup[]} groups
 *
 * @typedef {{ id: number } | { file: File } | { ref: string }} Query  ref: an earlier upload, 'sha256:<hex>'
 * @typedef {{ k: number, features: Features, method?: Method, nprobe?: number, in?: string, name?: string }} QueryParams
 * @typedef {{ total: number, offset: number, limit: number, results: ImageItem[] }} NameResults
 */

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>} the parsed JSON body
 */
async function call(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init.headers || {}) } });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `cannot reach the server (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body?.error;
    throw new ApiError(res.status, e ? e.code : `HTTP_${res.status}`, e ? e.message : `request failed (${res.status})`);
  }
  return body;
}

/**
 * @param {Query} query
 * @param {Partial<QueryParams>} params
 * @returns {RequestInit}
 */
function queryInit(query, params) {
  const given = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  if ('file' in query) {
    const fd = new FormData();
    for (const [k, v] of given) fd.append(k, String(v));
    fd.append('image', query.file, query.file.name || 'image');
    return { method: 'POST', body: fd };
  }
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...('ref' in query ? { query: query.ref } : { id: query.id }), ...Object.fromEntries(given) }),
  };
}

export const api = {
  /** @returns {Promise<Stats>} */
  stats: () => call('/api/stats'),
  /** @type {(offset: number, limit: number) => Promise<ImagePage>} */
  images: (offset, limit) => call(`/api/images?offset=${offset}&limit=${limit}`),
  /** @type {(query: Query, params: QueryParams) => Promise<SearchResponse>} */
  search: (query, params) => call('/api/search', queryInit(query, params)),
  /** @type {(query: Query, params: Omit<QueryParams, 'method'>) => Promise<Evaluation>} */
  evaluate: (query, params) => call('/api/evaluate', queryInit(query, params)),
  /** @type {(params: { q: string, limit: number, in?: string }) => Promise<NameResults>} */
  names: (params) => call(`/api/names?${new URLSearchParams(/** @type {Record<string, string>} */ ({ ...params, limit: String(params.limit) }))}`),
  /** @type {(features: Features, k: number, kinds?: string) => Promise<Sweep>} */
  sweep: (features, k, kinds) => call(`/api/sweep?features=${encodeURIComponent(features)}&k=${k}${kinds ? `&kinds=${encodeURIComponent(kinds)}` : ''}`),
  /** @type {(features: Features, threshold?: number) => Promise<Duplicates>} */
  duplicates: (features, threshold) =>
    call(`/api/duplicates?features=${encodeURIComponent(features)}${threshold !== undefined ? `&threshold=${encodeURIComponent(String(threshold))}` : ''}`),
};
