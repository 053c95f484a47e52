/** fetch helpers for the server tests, bound to the server of one describe block. */
import type { ServerHandle } from './fixture.js';

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

export function client(h: ServerHandle) {
  /** GET `path`, or POST `body` as JSON when given. */
  const json = async (path: string, body?: unknown): Promise<JsonResponse> => {
    const res = await fetch(
      h.srv.url + path,
      body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    );
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  /** POST `png` as the multipart file field "image" (query.png), with text `fields`. */
  const upload = async (path: string, png: Buffer, fields: Record<string, string> = {}, url = h.srv.url, headers: Record<string, string> = {}) => {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    fd.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'query.png');
    const res = await fetch(url + path, { method: 'POST', body: fd, headers });
    return { status: res.status, body: (await res.json()) as any };
  };

  return { json, upload };
}
