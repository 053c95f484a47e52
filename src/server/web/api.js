// Thin client for the nitamono HTTP API. Every error becomes an Error whose message is the
// server's `error.message` (and `.code` / `.status` are set).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(path, init = {}) {
  let res;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init.headers || {}) } });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `cannot reach the server (${err.message})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new ApiError(res.status, e ? e.code : 'HTTP_' + res.status, e ? e.message : `request failed (${res.status})`);
  }
  return body;
}

function queryInit(query, params) {
  if (query.file) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) fd.append(k, String(v));
    fd.append('image', query.file, query.file.name || 'image');
    return { method: 'POST', body: fd };
  }
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: query.id, ...Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)) }),
  };
}

export const api = {
  stats: () => call('/api/stats'),
  images: (offset, limit) => call(`/api/images?offset=${offset}&limit=${limit}`),
  /** query: { id } or { file }; params: { k, features, method, nprobe } */
  search: (query, params) => call('/api/search', queryInit(query, params)),
  evaluate: (query, params) => call('/api/evaluate', queryInit(query, params)),
  sweep: (features, k) => call(`/api/sweep?features=${encodeURIComponent(features)}&k=${k}`),
};
