/**
 * One error type for everything nitamono refuses, so the CLI and the server can map a `code`
 * to an exit status or an HTTP status without parsing messages.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'NOT_FINITE'
  | 'NOT_TRAINED'
  | 'EMPTY_INDEX'
  | 'BAD_FILE'
  | 'UNSUPPORTED'
  | 'NOT_FOUND'
  | 'TOO_LARGE'
  | 'DECODE_FAILED'
  | 'IO'
  /** Another process is writing the collection (and the caller chose not to wait). */
  | 'LOCKED'
  /** The disk (or quota) is full: nothing of the failed write was stored. */
  | 'NO_SPACE'
  /** The collection's folder or files cannot be written (read-only mount, permissions). */
  | 'READ_ONLY'
  /** The deep model's weights cannot be loaded: a broken or partial install. */
  | 'MODEL_UNAVAILABLE'
  /** A server nitamono needs (the PostgreSQL catalogue, the job queue's Redis) cannot be reached or is shutting down. */
  | 'UNAVAILABLE'
  /** A server the collection needs refused its credentials or permissions. */
  | 'ACCESS_DENIED';

/** Codes that name a refusal of the machine, not of the input: the CLI exits 4 for them. */
export const ENVIRONMENT_CODES: readonly ErrorCode[] = ['NO_SPACE', 'READ_ONLY', 'MODEL_UNAVAILABLE', 'UNAVAILABLE', 'ACCESS_DENIED'];

export class NitamonoError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NitamonoError';
    this.code = code;
  }
}

export function invalid(message: string): NitamonoError {
  return new NitamonoError('INVALID_ARGUMENT', message);
}

/**
 * The code of a failed filesystem write: a full disk and a read-only place are told apart from
 * other I/O failures, since the user fixes them differently (free space; a writable folder).
 */
export function writeErrorCode(errno: string | undefined): ErrorCode {
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'NO_SPACE';
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return 'READ_ONLY';
    default:
      return 'IO';
  }
}

/** What to tell the user for a write refused with this code. */
export function writeErrorHint(code: ErrorCode): string {
  if (code === 'NO_SPACE') return 'the disk is full; free some space and run it again';
  if (code === 'READ_ONLY') return 'the place is read-only or not writable by this user';
  return '';
}
