/**
 * Host names and origins, for the checks that keep other sites out: a page of evil.example
 * whose name is rebound to 127.0.0.1 reaches a loopback server, but its requests still carry
 * `Host: evil.example`, and its cross-site requests an Origin that is not ours.
 */

/** Whether `host` (a name or address, IPv6 with or without brackets) is this machine's loopback. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The name of a Host header without its port: `[::1]:3000` → `[::1]`, `localhost:3000` → `localhost`. */
export function hostHeaderName(header: string): string {
  return header.trim().replace(/:\d*$/, '');
}

/**
 * Whether a request's Host header names loopback. Any port is accepted: an SSH tunnel
 * (`ssh -L 8080:localhost:3000`) makes the browser send the local end's port, and a rebinding
 * page cannot choose our name whatever port it uses. No header at all is HTTP/1.0 from a local
 * tool, never a browser.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  return header === undefined || isLoopbackHost(hostHeaderName(header));
}

/** Whether an Origin header names the very host the request was sent to. */
export function isSameOrigin(origin: string, hostHeader: string | undefined): boolean {
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false;
  }
  return originHost !== '' && originHost === hostHeader;
}
