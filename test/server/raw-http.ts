/**
 * HTTP requests sent exactly as written, for what fetch will not do: an unnormalised request
 * target (`/../etc/passwd`), a forged Host header, a redirect or a Set-Cookie looked at rather
 * than followed.
 */
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** `method path` to the server at `url` (its host and port only), with these headers and body. */
export function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      // agent: false — a fresh connection each time, so a socket the server closed after an error
      // answer (e.g. 431) is never reused for the next request
      { host: u.hostname, port: u.port, method, path, agent: false, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
