/**
 * Whether anyone committed to a SQLite database in WAL mode since a moment we remember, told by
 * one small read of its wal-index header instead of a read transaction.
 *
 * Why: every search reads the catalogue's generation, so that a write by another process is
 * seen; as a SQL statement that is a read transaction, which SQLite opens and closes with two
 * fcntl locks and an fstat: ≈ 15 µs on the benchmark machine, a tenth of a filtered search's
 * fixed cost. The `-shm` file begins with the wal-index header, twice (48 bytes each; SQLite's
 * "WAL-mode file format" documentation). Every commit rewrites it (its frame count, salts and
 * checksums change), the second copy first, then the first; readers accept the header only when
 * both copies agree. So when both copies agree now and equal the header read just before the
 * generation was last read by SQL, nothing was committed since, and that generation still holds.
 * A header being rewritten, a missing file or any read error only means the SQL read is made.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Bytes of one copy of the wal-index header. */
const HEADER = 48;
/** Offset of its isInit byte (0 until a connection has built the wal-index). */
const IS_INIT = 12;

export class WalHeader {
  /** undefined: not opened yet; null: not usable (no -shm file, or a read failed). */
  private fd: number | null | undefined;
  private readonly now = Buffer.alloc(2 * HEADER);
  private readonly kept = Buffer.alloc(HEADER);
  private hasKept = false;
  private consistent = false;

  /** `shmFile`: the database's `-shm` file, present while a connection has it in WAL mode. */
  constructor(private readonly shmFile: string | undefined) {}

  /**
   * Reads the header: true when it is whole and the same as the one `keep` last kept, i.e.
   * nothing was committed since.
   */
  unchanged(): boolean {
    if (this.fd === undefined) this.fd = openShm(this.shmFile);
    this.consistent = false;
    if (this.fd === null) return false;
    try {
      if (readSync(this.fd, this.now, 0, 2 * HEADER, 0) !== 2 * HEADER) return false;
    } catch {
      this.close();
      return false;
    }
    this.consistent = this.now[IS_INIT] !== 0 && this.now.compare(this.now, HEADER, 2 * HEADER, 0, HEADER) === 0;
    return this.consistent && this.hasKept && this.now.compare(this.kept, 0, HEADER, 0, HEADER) === 0;
  }

  /** Keeps the header `unchanged` has just read (call after reading what it vouches for), if it was whole. */
  keep(): void {
    this.hasKept = this.consistent;
    if (this.consistent) this.now.copy(this.kept, 0, 0, HEADER);
  }

  close(): void {
    if (typeof this.fd === 'number') closeSync(this.fd);
    this.fd = null;
    this.hasKept = false;
  }
}

function openShm(file: string | undefined): number | null {
  if (file === undefined) return null;
  try {
    return openSync(file, 'r');
  } catch {
    return null;
  }
}
