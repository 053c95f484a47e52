/**
 * `catalog.sqlite`: the source of truth of a collection. One row per file seen under the root
 * (indexed, skipped with its reason, or excluded by the user), the feature vectors as float32
 * little-endian BLOBs, and a generation counter that lets the derived index files detect that
 * they are stale and catch up incrementally.
 *
 * Generations: every write transaction that changes the set of searchable vectors bumps
 * `meta.generation` once; rows inserted in it carry that generation in `images.gen`, and ids
 * that leave the searchable set are recorded in `removed(id, gen)`. An index saved at
 * generation g is brought up to date by removing `removed.gen > g` and adding
 * `images.gen > g AND status = 'ok'`. Ids are never reused (AUTOINCREMENT), and a file whose
 * content changes gets a new id, so a vector never changes under an id.
 */
import Database from 'better-sqlite3';
import type { FeatureKind } from './config.js';

export type ImageStatus = 'ok' | 'skipped' | 'excluded';

export interface ImageRow {
  id: number;
  relpath: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  status: ImageStatus;
  width: number | null;
  height: number | null;
  format: string | null;
  error_code: string | null;
  error_message: string | null;
  gen: number;
  added_at: number;
}

/** Row without vectors plus which kinds have a vector. */
export interface ImageSummary extends ImageRow {
  has_color: number;
  has_deep: number;
}

export interface NewImage {
  relpath: string;
  size: number;
  mtime_ms: number;
  sha256: string | null;
  status: ImageStatus;
  width?: number | null;
  height?: number | null;
  format?: string | null;
  error_code?: string | null;
  error_message?: string | null;
  vectors?: Partial<Record<FeatureKind, Float32Array>>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  relpath       TEXT NOT NULL UNIQUE,
  size          INTEGER NOT NULL,
  mtime_ms      REAL NOT NULL,
  sha256        TEXT,
  status        TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'excluded')),
  width         INTEGER,
  height        INTEGER,
  format        TEXT,
  error_code    TEXT,
  error_message TEXT,
  color         BLOB,
  deep          BLOB,
  gen           INTEGER NOT NULL,
  added_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS images_sha256 ON images (sha256);
CREATE INDEX IF NOT EXISTS images_gen ON images (gen);
CREATE TABLE IF NOT EXISTS removed (
  id  INTEGER PRIMARY KEY,
  gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS removed_gen ON removed (gen);
`;

const ROW_COLUMNS = 'id, relpath, size, mtime_ms, sha256, status, width, height, format, error_code, error_message, gen, added_at';
const SUMMARY_COLUMNS = `${ROW_COLUMNS}, color IS NOT NULL AS has_color, deep IS NOT NULL AS has_deep`;

/** float32 vector → BLOB bytes (little-endian on every platform Node runs on in practice). */
export function vectorToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** BLOB → a fresh Float32Array (copied, so alignment never matters). */
export function blobToVector(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

function kindColumn(kind: FeatureKind): 'color' | 'deep' {
  if (kind === 'color' || kind === 'deep') return kind;
  throw new Error(`unknown feature kind ${String(kind)}`);
}

/** Id-list sizes the batched lookups are prepared for (a list is padded up to the next one). */
const IN_ARITIES = [1, 4, 16, 64, 256, 1024] as const;
/** Entries of the id → relpath cache before it starts over (a few MB at most). */
const RELPATH_CACHE_MAX = 65536;

export class Catalog {
  readonly db: Database.Database;
  readonly readonly: boolean;
  /**
   * Prepared statements by SQL text: compiling one costs far more than running it (a search used
   * to spend most of its time here), and better-sqlite3 statements are reusable.
   */
  private readonly statements = new Map<string, Database.Statement>();
  /** Searchable-row count, valid while `meta.generation` equals `gen` (every change of the searchable set bumps it). */
  private okCountCache: { gen: number; n: number } | undefined;
  /** id → relpath of rows looked up by relpaths(), valid for generation `relpathGen`. */
  private readonly relpathCache = new Map<number, string>();
  private relpathGen = -1;

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    this.readonly = Boolean(opts.readonly);
    this.db = new Database(file, { readonly: this.readonly, fileMustExist: this.readonly });
    this.db.pragma('busy_timeout = 10000');
    if (!this.readonly) {
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit survives power loss too, not only kill -9; batches keep the cost small.
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0')").run();
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')").run();
    }
  }

  close(): void {
    this.statements.clear();
    this.relpathCache.clear();
    if (this.db.open) this.db.close();
  }

  /** The prepared statement for `sql`, compiled on first use and then reused. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Catalog generation: one indexed read of a cached statement (the per-search "did anything change?" check). */
  generation(): number {
    const r = this.stmt("SELECT value FROM meta WHERE key = 'generation'").get() as { value: string } | undefined;
    return r ? Number(r.value) : 0;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction with a fresh generation number. The generation is
   * only persisted if `fn` changed the searchable set (it calls `touched()`), so metadata-only
   * writes do not make the index files look stale.
   */
  write<T>(fn: (gen: number, touched: () => void) => T): T {
    const tx = this.db.transaction(() => {
      const gen = this.generation() + 1;
      let changed = false;
      const result = fn(gen, () => {
        changed = true;
      });
      if (changed) this.stmt("UPDATE meta SET value = ? WHERE key = 'generation'").run(String(gen));
      return result;
    });
    return tx.immediate();
  }

  /** Inserts a row; call inside write(). Returns the new id. */
  insert(img: NewImage, gen: number): number {
    const v = img.vectors ?? {};
    const info = this
      .stmt(
        `INSERT INTO images (relpath, size, mtime_ms, sha256, status, width, height, format, error_code, error_message, color, deep, gen, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        img.relpath,
        img.size,
        img.mtime_ms,
        img.sha256,
        img.status,
        img.width ?? null,
        img.height ?? null,
        img.format ?? null,
        img.error_code ?? null,
        img.error_message ?? null,
        v.color ? vectorToBlob(v.color) : null,
        v.deep ? vectorToBlob(v.deep) : null,
        gen,
        Date.now(),
      );
    return Number(info.lastInsertRowid);
  }

  /** Deletes a row; if it was searchable records the id in `removed`. Returns the deleted row. Call inside write(). */
  delete(id: number, gen: number): ImageRow | undefined {
    const row = this.get(id);
    if (!row) return undefined;
    this.stmt('DELETE FROM images WHERE id = ?').run(id);
    if (row.status === 'ok') this.stmt('INSERT OR REPLACE INTO removed (id, gen) VALUES (?, ?)').run(id, gen);
    return row;
  }

  /** Marks a searchable row as excluded (kept so a re-index does not bring it back). Call inside write(). */
  exclude(id: number, gen: number): boolean {
    const row = this.get(id);
    if (!row || row.status !== 'ok') return false;
    this.stmt("UPDATE images SET status = 'excluded', gen = ? WHERE id = ?").run(gen, id);
    this.stmt('INSERT OR REPLACE INTO removed (id, gen) VALUES (?, ?)').run(id, gen);
    return true;
  }

  /** Updates size and mtime only (content unchanged). */
  touch(id: number, size: number, mtimeMs: number): void {
    this.stmt('UPDATE images SET size = ?, mtime_ms = ? WHERE id = ?').run(size, mtimeMs, id);
  }

  get(id: number): ImageRow | undefined {
    return this.stmt(`SELECT ${ROW_COLUMNS} FROM images WHERE id = ?`).get(id) as ImageRow | undefined;
  }

  byRelpath(relpath: string): ImageRow | undefined {
    return this.stmt(`SELECT ${ROW_COLUMNS} FROM images WHERE relpath = ?`).get(relpath) as ImageRow | undefined;
  }

  /**
   * Relative paths of the rows with these ids (any status); unknown ids are absent from the map.
   * A search maps its k result ids with this: from a cache (an id's relpath never changes while
   * its row exists, and deleting a searchable row bumps the generation, which empties the cache),
   * the misses in one query per 1024 ids.
   */
  relpaths(ids: ArrayLike<number>): Map<number, string> {
    const gen = this.generation(); // read before any row, so a later deletion always clears what is cached now
    if (gen !== this.relpathGen) {
      this.relpathCache.clear();
      this.relpathGen = gen;
    }
    const out = new Map<number, string>();
    const missing: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      const r = this.relpathCache.get(id);
      if (r !== undefined) out.set(id, r);
      else if (id >= 0 && !out.has(id)) missing.push(id);
    }
    for (let start = 0; start < missing.length; start += 1024) {
      const m = Math.min(1024, missing.length - start);
      const arity = IN_ARITIES.find((a) => a >= m)!;
      const st = this.stmt(`SELECT id, relpath FROM images WHERE id IN (${new Array(arity).fill('?').join(', ')})`);
      // Padded with the first id (repeats in IN are harmless), so a handful of statements serve every k.
      const args = new Array<number>(arity);
      for (let j = 0; j < arity; j++) args[j] = missing[start + (j < m ? j : 0)]!;
      if (this.relpathCache.size + m > RELPATH_CACHE_MAX) this.relpathCache.clear();
      for (const [id, relpath] of st.raw(true).all(args) as [number, string][]) {
        out.set(id, relpath);
        this.relpathCache.set(id, relpath);
      }
    }
    return out;
  }

  /** A searchable row's relative path and stored vector of `kind`, in one query. */
  okVector(id: number, kind: FeatureKind): { relpath: string; vector: Float32Array } | undefined {
    const r = this.stmt(`SELECT relpath, ${kindColumn(kind)} AS v FROM images WHERE id = ? AND status = 'ok'`).get(id) as
      | { relpath: string; v: Buffer | null }
      | undefined;
    return r?.v ? { relpath: r.relpath, vector: blobToVector(r.v) } : undefined;
  }

  /** Byte length of one stored vector of `kind` (learns the dimension), or undefined if none is stored. */
  vectorBytes(kind: FeatureKind): number | undefined {
    const col = kindColumn(kind);
    const r = this.stmt(`SELECT length(${col}) AS b FROM images WHERE status = 'ok' AND ${col} IS NOT NULL LIMIT 1`).get() as { b: number } | undefined;
    return r?.b || undefined;
  }

  /** Searchable rows in id order, `limit` of them from `offset`, and how many there are in all (one read transaction). */
  okPage(offset: number, limit: number): { total: number; rows: ImageRow[] } {
    return this.db.transaction(() => ({
      total: this.okCount(),
      rows: this.stmt(`SELECT ${ROW_COLUMNS} FROM images WHERE status = 'ok' ORDER BY id LIMIT ? OFFSET ?`).all(limit, offset) as ImageRow[],
    }))();
  }

  /** Number of searchable rows; counted once per generation. */
  okCount(): number {
    const gen = this.generation();
    if (this.okCountCache?.gen === gen) return this.okCountCache.n;
    const n = (this.stmt("SELECT COUNT(*) AS n FROM images WHERE status = 'ok'").get() as { n: number }).n;
    // Read in the same transaction as `gen` when called inside one (okPage); otherwise a commit
    // in between only makes the next call count again (gen is read first).
    this.okCountCache = { gen, n };
    return n;
  }

  /** All rows without vectors (for change detection). */
  summaries(): ImageSummary[] {
    return this.stmt(`SELECT ${SUMMARY_COLUMNS} FROM images`).all() as ImageSummary[];
  }

  /** A searchable row with this content hash that has a vector for every kind in `kinds`. */
  okBySha(sha256: string, kinds: readonly FeatureKind[]): { id: number; width: number | null; height: number | null; format: string | null; vectors: Partial<Record<FeatureKind, Float32Array>> } | undefined {
    const rows = this.stmt(`SELECT id, width, height, format, color, deep FROM images WHERE sha256 = ? AND status = 'ok'`)
      .all(sha256) as { id: number; width: number | null; height: number | null; format: string | null; color: Buffer | null; deep: Buffer | null }[];
    for (const r of rows) {
      if (kinds.every((k) => r[kindColumn(k)] !== null)) {
        const vectors: Partial<Record<FeatureKind, Float32Array>> = {};
        for (const k of kinds) vectors[k] = blobToVector(r[kindColumn(k)]!);
        return { id: r.id, width: r.width, height: r.height, format: r.format, vectors };
      }
    }
    return undefined;
  }

  vector(id: number, kind: FeatureKind): Float32Array | undefined {
    const r = this.stmt(`SELECT ${kindColumn(kind)} AS v FROM images WHERE id = ? AND status = 'ok'`).get(id) as { v: Buffer | null } | undefined;
    return r?.v ? blobToVector(r.v) : undefined;
  }

  countByStatus(): Record<ImageStatus, number> {
    const out: Record<ImageStatus, number> = { ok: 0, skipped: 0, excluded: 0 };
    for (const r of this.stmt('SELECT status, COUNT(*) AS n FROM images GROUP BY status').all() as { status: ImageStatus; n: number }[]) {
      out[r.status] = r.n;
    }
    return out;
  }

  skipped(): ImageRow[] {
    return this.stmt(`SELECT ${ROW_COLUMNS} FROM images WHERE status = 'skipped' ORDER BY relpath`).all() as ImageRow[];
  }

  /**
   * Searchable vectors of one kind, gathered into one matrix. `sinceGen` limits to rows added
   * after that generation (delta sync). Rows missing this kind are left out.
   */
  vectors(kind: FeatureKind, dim: number, sinceGen = -1): { ids: Int32Array; vectors: Float32Array } {
    const col = kindColumn(kind);
    const n = (this.stmt(`SELECT COUNT(*) AS n FROM images WHERE status = 'ok' AND ${col} IS NOT NULL AND gen > ?`).get(sinceGen) as { n: number }).n;
    const ids = new Int32Array(n);
    const vectors = new Float32Array(n * dim);
    const bytes = new Uint8Array(vectors.buffer);
    let i = 0;
    for (const r of this
      .stmt(`SELECT id, ${col} AS v FROM images WHERE status = 'ok' AND ${col} IS NOT NULL AND gen > ? ORDER BY id`)
      .iterate(sinceGen) as Iterable<{ id: number; v: Buffer }>) {
      if (i >= n) break;
      if (r.v.byteLength !== dim * 4) continue;
      ids[i] = r.id;
      bytes.set(r.v, i * dim * 4);
      i++;
    }
    return { ids: ids.subarray(0, i), vectors: vectors.subarray(0, i * dim) };
  }

  /** Ids that left the searchable set after generation `sinceGen`. */
  removedSince(sinceGen: number): Int32Array {
    const rows = this.stmt('SELECT id FROM removed WHERE gen > ? ORDER BY id').all(sinceGen) as { id: number }[];
    return Int32Array.from(rows, (r) => r.id);
  }

  /** Searchable rows (id, relpath) in id order. */
  okRows(): { id: number; relpath: string }[] {
    return this.stmt("SELECT id, relpath FROM images WHERE status = 'ok' ORDER BY id").all() as { id: number; relpath: string }[];
  }
}
