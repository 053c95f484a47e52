/**
 * Who may read and who may write, decided once from how the server is started:
 *
 * - bound to loopback: anyone on this machine reads, but only through a loopback Host name
 *   (a page of another site rebound to 127.0.0.1 names its own host and is refused);
 * - bound elsewhere: every route needs the token, as a bearer header or through the session
 *   cookie the login URL sets — unless `public`, which opens reads (never writes) to anyone;
 * - writes need allowWrite, a same-origin request, and off loopback (or with a token given)
 *   the bearer token.
 */
import { isLoopbackHost } from './hosts.js';
import { generateToken } from './tokens.js';

/** `loopback`: Host check only; `token`: credentials on every route; `public`: open reads off loopback. */
export type ReadAccess = 'loopback' | 'token' | 'public';

export interface AccessPolicy {
  reads: ReadAccess;
  allowWrite: boolean;
  /** Whether the write routes need the bearer token. */
  tokenRequired: boolean;
  /** The token, when one is in force (given or generated). */
  token: string | undefined;
  /** Whether the token was generated here (the CLI prints it then). */
  tokenGenerated: boolean;
}

export interface AccessOptions {
  /** The address the server is bound to (default 127.0.0.1). */
  host?: string | undefined;
  allowWrite?: boolean | undefined;
  token?: string | undefined;
  public?: boolean | undefined;
}

export function accessPolicy(opts: AccessOptions): AccessPolicy {
  const loopback = isLoopbackHost(opts.host);
  const allowWrite = opts.allowWrite === true;
  // On loopback the Host check is all a rebinding page can be refused with: public adds nothing.
  const reads: ReadAccess = loopback ? 'loopback' : opts.public === true ? 'public' : 'token';
  const given = opts.token || undefined;
  const tokenRequired = allowWrite && (!loopback || given !== undefined);
  const needsToken = tokenRequired || reads === 'token';
  const token = given ?? (needsToken ? generateToken() : undefined);
  return { reads, allowWrite, tokenRequired, token, tokenGenerated: token !== undefined && given === undefined };
}
