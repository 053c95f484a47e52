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
  /** A service nitamono needs (the job queue's Redis, a catalogue server) cannot be reached. */
  | 'UNAVAILABLE';

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
