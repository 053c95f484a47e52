/**
 * The PostgreSQL catalogue (`pg` pool; PostgreSQL 15 in the tests, 10 or later for its SQL; no
 * extension needed): the catalogue several processes and machines share in cluster mode. Same
 * semantics as the SQLite backend — both pass test/catalog/contract.ts — plus LISTEN/NOTIFY so
 * readers learn of new generations (`onChange`).
 *
 * Several collections per database, as ROWS: every table carries a `collection_id`, and one row
 * of `nitamono.collections` holds a collection's generation, id counter and (in
 * `nitamono.writer`) its writer lease. Rows rather than one PostgreSQL schema per collection
 * because: the migrations run once per database, not once per collection (a schema per
 * collection means DDL at every new collection and N copies to upgrade); a collection's name is
 * data bound as a parameter, never an identifier spliced into SQL (any name is safe, no quoting,
 * no 63-byte limit); one pool serves every collection without per-connection search_path state;
 * and a collection is dropped with one DELETE (foreign keys cascade). Every query names its
 * collection, and the tests check that two collections never see each other's rows.
 *
 * Concurrency. A commit is one READ COMMITTED transaction that first locks its collection's row
 * (`SELECT … FOR UPDATE`), so the commits of one collection are serialised across every process
 * and connection. That is what makes the generation counter trustworthy: a commit's generation
 * is given under the lock and becomes visible together with its rows, so generations are
 * strictly increasing in commit order and a reader at generation g can never later find a row of
 * generation ≤ g appear (with a sequence, commit g+1 could land before g and `changesSince`
 * would skip g's rows forever). Under the lock each statement sees every earlier commit, so
 * `put` is idempotent by relpath exactly as in SQLite (same content → same id, no write; else
 * a new id from the collection's counter). What the collection lock does not cover uses upserts:
 * feature spaces (shared by all collections) with `INSERT … ON CONFLICT DO NOTHING`, a
 * collection's creation likewise, migrations under an advisory lock (postgres-migrations.ts).
 * Reads of several statements (snapshot, changesSince, okPage, summaries) run in one
 * REPEATABLE READ snapshot. Commits are batches, so serialising them costs little: extraction,
 * not the catalogue, is what several machines share out.
 *
 * Cluster mode (ClusterCatalogStore, src/cluster): reads of one partition of the ids (the SQL
 * function `nitamono.shard_of`, the same hash as src/cluster/partition.ts, so a shard reads only
 * its rows), the collection's settings JSON (read-modify-write under the collection's row lock),
 * trained artefacts such as the shared IVF centroids (bit-exact bytea, versions given under the
 * same lock), and the shard registry, whose heartbeats are stamped and aged by the database
 * server's clock, so the machines' own clocks never matter.
 */
import pg from 'pg';
import { NitamonoError } from '../errors.js';
import { type CheckedFilter, folderRange, type NameHit } from './filter.js';
import { likeEscape, type NameQuery, pathTokens } from './names.js';
import { fillNameTokens, migratePostgres, PG_SCHEMA, POSTGRES_LATEST_SCHEMA } from './postgres-migrations.js';
import type {
  CatalogWrite,
  ClusterCatalogStore,
  CommitResult,
  FeatureSpace,
  ImageRow,
  ImageSummary,
  NewImage,
  Partition,
  ShardAnnouncement,
  ShardRecord,
  SpaceCount,
  StatusCounts,
  TrainedArtifact,
  VectorChanges,
  VectorSnapshot,
  WriterIdentity,
  WriterLease,
} from './types.js';
import { blobToVector, distinctIds, vectorToBlob } from './vector-bytes.js';

export interface PostgresCatalogOptions {
  /** The collection inside the database (default 'default'); made on first open. */
  collection?: string;
  /** Connections of the pool (default 4). */
  poolSize?: number;
  /** How long to wait for a connection to the server, in ms (default 10000). */
  connectTimeoutMs?: number;
  /** Make the collection when it does not exist (default true); false: NOT_FOUND naming the collections there are. */
  create?: boolean;
}

const S = PG_SCHEMA;
const ROW_COLUMNS = 'id, relpath, size, mtime_ms, sha256, status, width, height, format, error_code, error_message, gen, added_at';
/** Rows per read while streaming a space's vectors (bounded memory, all in one snapshot). */
const VECTOR_PAGE = 4096;
const MAX_COLLECTION_NAME = 200;
const INT32_MAX = 2 ** 31 - 1;
/** The delay before re-establishing a lost LISTEN connection, doubled up to the maximum. */
const RELISTEN_MS = 200;
const RELISTEN_MAX_MS = 5000;

/**
 * int8 as a JavaScript number: generations, sizes, times (ms) and counts stay far below 2^53.
 * Per pool, so nothing global of `pg` is changed for other users of the package.
 */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(20, (v: string) => Number(v));

type Queryable = pg.Pool | pg.PoolClient;

/** What `commit` hands to `apply` about the unit of work being applied. */
interface Unit {
  c: pg.PoolClient;
  gen: number;
  nextId: number;
  /** Source vectors of copies, read before any write: `${id}/${kind}:${model}` → bytes. */
  sources: Map<string, Buffer>;
}

export class PostgresCatalogStore implements ClusterCatalogStore {
  readonly backend = 'postgres';
  readonly schemaVersion: number;
  /** The collection's name inside the database. */
  readonly collection: string;
  /** Where the store is connected, without any password: user@host:port/database. */
  readonly target: string;
  /** The database's name, as the server reports it (the same from every machine, whatever address it is reached at). */
  readonly database: string;
  private readonly pool: pg.Pool;
  private readonly clientConfig: pg.ClientConfig;
  private readonly cid: number;
  /** The NOTIFY channel of this collection (an identifier made from its integer id: always safe). */
  private readonly channel: string;
  /** Space ids never change once given (spaces are never deleted). */
  private readonly spaceIds = new Map<string, number>();
  /** SQL text → prepared statement name (each connection prepares a statement on first use). */
  private readonly statementNames = new Map<string, string>();
  private closed = false;

  private readonly listeners = new Set<(generation: number) => void>();
  private listenClient: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private relistenTimer: NodeJS.Timeout | undefined;
  private relistenDelay = RELISTEN_MS;
  private delivered = -1;
  /** Bumped by every unsubscribe-all: a connection made for an older epoch is not kept. */
  private listenEpoch = 0;

  private constructor(pool: pg.Pool, clientConfig: pg.ClientConfig, target: string, database: string, collection: string, cid: number, schemaVersion: number) {
    this.pool = pool;
    this.clientConfig = clientConfig;
    this.target = target;
    this.database = database;
    this.collection = collection;
    this.cid = cid;
    this.channel = `nitamono_gen_${cid}`;
    this.schemaVersion = schemaVersion;
  }

  /**
   * Connects to `url` (postgres://user:password@host:port/database), brings the database's
   * schema up to date and makes the collection if it is new. Throws NitamonoError
   * INVALID_ARGUMENT (a malformed URL or collection name), UNAVAILABLE (no server answers, or it
   * is shutting down), ACCESS_DENIED (credentials or permissions refused), NOT_FOUND (no such
   * database) or UNSUPPORTED (a schema from a newer nitamono); messages never hold the password.
   */
  static async open(url: string, opts: PostgresCatalogOptions = {}): Promise<PostgresCatalogStore> {
    const collection = opts.collection ?? 'default';
    if (typeof collection !== 'string' || collection.length === 0 || collection.length > MAX_COLLECTION_NAME || collection.includes('\0')) {
      throw new NitamonoError('INVALID_ARGUMENT', `a collection name is 1 to ${MAX_COLLECTION_NAME} characters without NUL, not ${JSON.stringify(collection)}`);
    }
    const target = describeUrl(url);
    const clientConfig: pg.ClientConfig = {
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      types: TYPES,
      application_name: 'nitamono',
    };
    const pool = new pg.Pool({ ...clientConfig, max: opts.poolSize ?? 4, allowExitOnIdle: true });
    // an idle connection that breaks (server restart) is dropped by the pool; the next query reports the problem
    pool.on('error', () => {});
    try {
      return await withClient(pool, async (client) => {
        await migratePostgres(client, target);
        await fillNameTokens(client);
        const cid = opts.create === false ? await findCollection(client, collection, target) : await ensureCollection(client, collection);
        const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
        return new PostgresCatalogStore(pool, clientConfig, target, database, collection, cid, POSTGRES_LATEST_SCHEMA);
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw describeError(err, target, true);
    }
  }

  // ---- plumbing

  /** Runs a method's body, reporting a lost server as UNAVAILABLE (with the database named). */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new NitamonoError('INVALID_ARGUMENT', `the catalogue ${this.target} (collection ${this.collection}) is closed`);
    try {
      return await fn();
    } catch (err) {
      throw describeError(err, this.target, false);
    }
  }

  private q<R extends pg.QueryResultRow = pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    let name = this.statementNames.get(text);
    if (name === undefined) {
      name = `nitamono_${this.statementNames.size}`;
      this.statementNames.set(text, name);
    }
    return c.query<R>({ name, text, values });
  }

  private async one<R extends pg.QueryResultRow>(c: Queryable, text: string, values: unknown[]): Promise<R | undefined> {
    return (await this.q<R>(c, text, values)).rows[0];
  }

  /** `fn` in one transaction on one connection; a connection whose rollback failed is discarded. */
  private async transaction<T>(begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClient(this.pool, async (c, discard) => {
      try {
        await c.query(begin);
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        // a connection that cannot even roll back is broken: not given back to the pool
        await c.query('ROLLBACK').catch(discard);
        throw err;
      }
    });
  }

  /** Reads of several statements, from one consistent snapshot. */
  private snapshotRead<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  /** A space's id, -1 for a space never written (matches no row). */
  private async spaceId(c: Queryable, s: FeatureSpace): Promise<number> {
    const key = `${s.kind}:${s.model}`;
    const known = this.spaceIds.get(key);
    if (known !== undefined) return known;
    const r = await this.one<{ id: number }>(c, `SELECT id FROM ${S}.spaces WHERE kind = $1 AND model = $2`, [s.kind, s.model]);
    if (!r) return -1;
    this.spaceIds.set(key, r.id);
    return r.id;
  }

  /**
   * Makes the spaces a unit of work writes, before its transaction: a space is only a name, so
   * one left unused by a rolled-back unit is harmless, and its unique key is not held for the
   * whole unit (spaces are shared by every collection of the database).
   */
  private async ensureSpaces(spaces: Iterable<FeatureSpace>): Promise<void> {
    for (const s of spaces) {
      if ((await this.spaceId(this.pool, s)) >= 0) continue;
      await this.q(this.pool, `INSERT INTO ${S}.spaces (kind, model) VALUES ($1, $2) ON CONFLICT (kind, model) DO NOTHING`, [s.kind, s.model]);
      if ((await this.spaceId(this.pool, s)) < 0) throw new Error(`feature space ${s.kind}:${s.model} was not created`);
    }
  }

  private async spaceIdList(c: Queryable, spaces: readonly FeatureSpace[]): Promise<number[] | undefined> {
    const ids = new Set<number>();
    for (const s of spaces) {
      const id = await this.spaceId(c, s);
      if (id < 0) return undefined; // a space never written: no row holds a vector in it
      ids.add(id);
    }
    return [...ids];
  }

  // ---- writes

  async generation(): Promise<number> {
    return this.guard(async () => {
      const r = await this.one<{ generation: number }>(this.pool, `SELECT generation FROM ${S}.collections WHERE id = $1`, [this.cid]);
      return r?.generation ?? 0;
    });
  }

  async commit(writes: readonly CatalogWrite[]): Promise<CommitResult> {
    return this.guard(async () => {
      const spaces = new Map<string, FeatureSpace>();
      for (const w of writes) {
        if (w.op !== 'put') continue;
        for (const v of w.vectors ?? []) spaces.set(`${v.space.kind}:${v.space.model}`, v.space);
        for (const s of w.copyVectorsFrom?.spaces ?? []) spaces.set(`${s.kind}:${s.model}`, s);
      }
      await this.ensureSpaces(spaces.values());
      return this.transaction('BEGIN', async (c): Promise<CommitResult> => {
        // the collection's row lock serialises its commits across every connection (see the top of the file)
        const head = await this.one<{ generation: number; next_id: number }>(c, `SELECT generation, next_id FROM ${S}.collections WHERE id = $1 FOR UPDATE`, [
          this.cid,
        ]);
        if (!head) throw new NitamonoError('NOT_FOUND', `collection ${this.collection} no longer exists in ${this.target}`);
        const gen = head.generation + 1;
        // Copies read their source before any write of the unit applies: a write earlier in the
        // unit may replace the source row (two files that swapped contents copy from each other).
        const unit: Unit = { c, gen, nextId: head.next_id, sources: await this.copySources(c, writes) };
        let changed = false;
        const ids: number[] = [];
        for (const w of writes) {
          const r = await this.apply(unit, w);
          if (r.changed) changed = true;
          ids.push(r.id);
        }
        if (changed || unit.nextId !== head.next_id) {
          await this.q(c, `UPDATE ${S}.collections SET generation = $2, next_id = $3 WHERE id = $1`, [this.cid, changed ? gen : head.generation, unit.nextId]);
        }
        // delivered to listeners when (and only if) the transaction commits
        if (changed) await this.q(c, 'SELECT pg_notify($1, $2)', [this.channel, String(gen)]);
        return { generation: changed ? gen : head.generation, changed, ids };
      });
    });
  }

  private async copySources(c: pg.PoolClient, writes: readonly CatalogWrite[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const w of writes) {
      if (w.op !== 'put' || !w.copyVectorsFrom) continue;
      const from = w.copyVectorsFrom.id;
      for (const s of w.copyVectorsFrom.spaces) {
        const r = isInt32(from)
          ? await this.one<{ data: Buffer }>(c, `SELECT data FROM ${S}.vectors WHERE collection_id = $1 AND image_id = $2 AND space = $3`, [
              this.cid,
              from,
              await this.spaceId(c, s),
            ])
          : undefined;
        if (!r) throw new NitamonoError('NOT_FOUND', `cannot copy ${s.kind} vectors from image ${from}: it has none`);
        out.set(`${from}/${s.kind}:${s.model}`, r.data);
      }
    }
    return out;
  }

  private async apply(u: Unit, w: CatalogWrite): Promise<{ id: number; changed: boolean }> {
    switch (w.op) {
      case 'put':
        return this.put(u, w);
      case 'delete': {
        const row = await this.row(u.c, w.id);
        if (!row) return { id: -1, changed: false };
        await this.remove(u, row);
        return { id: w.id, changed: row.status === 'ok' };
      }
      case 'exclude': {
        const row = await this.row(u.c, w.id);
        if (row?.status !== 'ok') return { id: -1, changed: false };
        await this.q(u.c, `UPDATE ${S}.images SET status = 'excluded', gen = $3 WHERE collection_id = $1 AND id = $2`, [this.cid, w.id, u.gen]);
        await this.markRemoved(u, w.id);
        return { id: w.id, changed: true };
      }
      case 'touch': {
        if (!isInt32(w.id)) return { id: -1, changed: false };
        const r = await this.q(u.c, `UPDATE ${S}.images SET size = $3, mtime_ms = $4 WHERE collection_id = $1 AND id = $2`, [
          this.cid,
          w.id,
          w.size,
          w.mtime_ms,
        ]);
        return { id: r.rowCount ? w.id : -1, changed: false };
      }
      default:
        throw new NitamonoError('INVALID_ARGUMENT', `unknown catalogue write '${(w as { op: unknown }).op}'`);
    }
  }

  private async put(u: Unit, w: Extract<CatalogWrite, { op: 'put' }>): Promise<{ id: number; changed: boolean }> {
    const img = w.image;
    const spaces = w.vectors?.map((v) => v.space) ?? w.copyVectorsFrom?.spaces ?? [];
    const old = await this.one<ImageRow>(u.c, `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1 AND relpath = $2`, [this.cid, img.relpath]);
    if (old && sameFile(old, img) && (await this.hasVectors(u.c, old.id, spaces))) return { id: old.id, changed: false };
    let changed = false;
    if (old) {
      await this.remove(u, old);
      changed = old.status === 'ok';
    }
    const id = await this.insert(u, img);
    const addVector = `INSERT INTO ${S}.vectors (collection_id, image_id, space, data) VALUES ($1, $2, $3, $4)`;
    for (const v of w.vectors ?? []) await this.q(u.c, addVector, [this.cid, id, await this.spaceId(u.c, v.space), vectorToBlob(v.vector)]);
    if (w.copyVectorsFrom) {
      const from = w.copyVectorsFrom.id;
      for (const s of w.copyVectorsFrom.spaces) {
        await this.q(u.c, addVector, [this.cid, id, await this.spaceId(u.c, s), u.sources.get(`${from}/${s.kind}:${s.model}`)!]);
      }
    }
    return { id, changed: changed || img.status === 'ok' };
  }

  private async insert(u: Unit, img: NewImage): Promise<number> {
    const id = u.nextId++;
    if (id > INT32_MAX) throw new NitamonoError('TOO_LARGE', `collection ${this.collection} has used every image id (ids are 31-bit)`);
    const tokens = pathTokens(img.relpath);
    await this.q(
      u.c,
      `INSERT INTO ${S}.images (collection_id, id, relpath, size, mtime_ms, sha256, status, width, height, format, error_code, error_message, gen, added_at, name_file, name_dirs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        this.cid,
        id,
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
        u.gen,
        Date.now(),
        tokens.file,
        tokens.dirs,
      ],
    );
    return id;
  }

  /** Deletes a row (its vectors go with it: the foreign key cascades); a searchable one is recorded as removed. */
  private async remove(u: Unit, row: ImageRow): Promise<void> {
    await this.q(u.c, `DELETE FROM ${S}.images WHERE collection_id = $1 AND id = $2`, [this.cid, row.id]);
    if (row.status === 'ok') await this.markRemoved(u, row.id);
  }

  private async markRemoved(u: Unit, id: number): Promise<void> {
    await this.q(
      u.c,
      `INSERT INTO ${S}.removed (collection_id, id, gen) VALUES ($1, $2, $3) ON CONFLICT (collection_id, id) DO UPDATE SET gen = excluded.gen`,
      [this.cid, id, u.gen],
    );
  }

  /** Whether image `id` holds a vector in every one of `spaces`. */
  private async hasVectors(c: Queryable, id: number, spaces: readonly FeatureSpace[]): Promise<boolean> {
    if (spaces.length === 0) return true;
    const sids = await this.spaceIdList(c, spaces);
    if (!sids) return false;
    const r = await this.one<{ n: number }>(c, `SELECT count(*) AS n FROM ${S}.vectors WHERE collection_id = $1 AND image_id = $2 AND space = ANY($3::int[])`, [
      this.cid,
      id,
      sids,
    ]);
    return r?.n === sids.length;
  }

  private async row(c: Queryable, id: number): Promise<ImageRow | undefined> {
    if (!isInt32(id)) return undefined;
    return this.one<ImageRow>(c, `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1 AND id = $2`, [this.cid, id]);
  }

  // ---- reads

  async get(id: number): Promise<ImageRow | undefined> {
    return this.guard(() => this.row(this.pool, id));
  }

  async byRelpath(relpath: string): Promise<ImageRow | undefined> {
    return this.guard(() =>
      this.one<ImageRow>(this.pool, `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1 AND relpath = $2`, [this.cid, relpath]),
    );
  }

  /** One query for all ids (a search maps its k result ids with this). */
  async relpaths(ids: ArrayLike<number>, _generation?: number): Promise<Map<number, string>> {
    return this.guard(async () => {
      const want = new Set<number>();
      for (let j = 0; j < ids.length; j++) if (isInt32(ids[j]!) && ids[j]! >= 0) want.add(ids[j]!);
      const out = new Map<number, string>();
      if (want.size === 0) return out;
      const r = await this.q<{ id: number; relpath: string }>(
        this.pool,
        `SELECT id, relpath FROM ${S}.images WHERE collection_id = $1 AND id = ANY($2::int[])`,
        [this.cid, [...want]],
      );
      for (const row of r.rows) out.set(row.id, row.relpath);
      return out;
    });
  }

  async summaries(spaces: readonly FeatureSpace[]): Promise<ImageSummary[]> {
    return this.guard(() =>
      this.snapshotRead(async (c) => {
        const rows = (await this.q<ImageRow>(c, `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1`, [this.cid])).rows;
        const have: Set<number>[] = [];
        for (const s of spaces) {
          const r = await this.q<{ image_id: number }>(c, `SELECT image_id FROM ${S}.vectors WHERE collection_id = $1 AND space = $2`, [
            this.cid,
            await this.spaceId(c, s),
          ]);
          have.push(new Set(r.rows.map((x) => x.image_id)));
        }
        return rows.map((r) => ({ ...r, complete: have.every((h) => h.has(r.id)) }));
      }),
    );
  }

  /**
   * The conditions of a filter on `images i` and their values from $2 on ($1 is the collection).
   * Name words match the tokens as SQLite's FTS5 phrases do (./names.ts): ' t1 t2' then any
   * continuation, in the file's or the folders' tokens.
   */
  private filterSql(f: CheckedFilter | undefined): { where: string; args: unknown[] } {
    const where = ['i.collection_id = $1', "i.status = 'ok'"],
      args: unknown[] = [this.cid];
    const v = (x: unknown): string => {
      args.push(x);
      return `$${args.length}`;
    };
    if (f?.folders)
      where.push(
        `(${f.folders
          .map((folder) => folderRange(folder))
          .map(([a, b]) => `(i.relpath COLLATE "C" >= ${v(a)} AND i.relpath COLLATE "C" < ${v(b)})`)
          .join(' OR ')})`,
      );
    if (f?.ids) where.push(`i.id = ANY(${v(f.ids)}::int[])`);
    for (const [col, r] of [
      ['mtime_ms', f?.mtime],
      ['size', f?.size],
    ] as const) {
      if (r?.min !== undefined) where.push(`i.${col} >= ${v(r.min)}`);
      if (r?.max !== undefined) where.push(`i.${col} <= ${v(r.max)}`);
    }
    if (f?.name) where.push(this.nameSql(f.name, v).where);
    return { where: where.join(' AND '), args };
  }

  /** Name conditions, and (for ranking) the count of words found in the file name. */
  private nameSql(q: NameQuery, v: (x: unknown) => string): { where: string; inFile: string } {
    if ('literal' in q) return { where: `i.relpath ILIKE ${v(`%${likeEscape(q.literal)}%`)} ESCAPE '\\'`, inFile: '0' };
    const conds: string[] = [],
      inFile: string[] = [];
    for (const w of q.words) {
      const p = v(`% ${likeEscape(w.join(' '))}%`);
      conds.push(`((' ' || i.name_file) LIKE ${p} OR (' ' || i.name_dirs) LIKE ${p})`);
      inFile.push(`((' ' || i.name_file) LIKE ${p})::int`);
    }
    return { where: conds.join(' AND '), inFile: inFile.join(' + ') };
  }

  async filterIds(filter: CheckedFilter): Promise<Int32Array> {
    return this.guard(async () => {
      const { where, args } = this.filterSql(filter);
      const r = await this.pool.query<{ id: number }>(`SELECT i.id FROM ${S}.images i WHERE ${where} ORDER BY i.id`, args);
      return Int32Array.from(r.rows, (row) => row.id);
    });
  }

  async searchNames(query: NameQuery, opts: { limit: number; offset?: number; filter?: CheckedFilter }): Promise<{ total: number; hits: NameHit[] }> {
    return this.guard(() =>
      this.snapshotRead(async (c) => {
        const { where, args } = this.filterSql(opts.filter);
        const v = (x: unknown): string => {
          args.push(x);
          return `$${args.length}`;
        };
        const n = this.nameSql(query, v);
        const w = `${where} AND ${n.where}`;
        const total = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${S}.images i WHERE ${w}`, args)).rows[0]!.n);
        // words found in the file name first (SQLite ranks by bm25, weighting them the same way), then byte order of paths
        const order = 'literal' in query ? 'i.relpath COLLATE "C"' : `(${n.inFile}) DESC, i.relpath COLLATE "C"`;
        const hits = (
          await c.query<NameHit>(
            `SELECT i.id, i.relpath FROM ${S}.images i WHERE ${w} ORDER BY ${order} LIMIT ${v(opts.limit)} OFFSET ${v(opts.offset ?? 0)}`,
            args,
          )
        ).rows;
        return { total, hits };
      }),
    );
  }

  async okPage(offset: number, limit: number): Promise<{ total: number; rows: ImageRow[] }> {
    return this.guard(() =>
      this.snapshotRead(async (c) => ({
        total: await this.countOk(c),
        rows: (
          await this.q<ImageRow>(c, `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1 AND status = 'ok' ORDER BY id LIMIT $2 OFFSET $3`, [
            this.cid,
            limit,
            offset,
          ])
        ).rows,
      })),
    );
  }

  async okCount(): Promise<number> {
    return this.guard(() => this.countOk(this.pool));
  }

  private async countOk(c: Queryable): Promise<number> {
    return (await this.one<{ n: number }>(c, `SELECT count(*) AS n FROM ${S}.images WHERE collection_id = $1 AND status = 'ok'`, [this.cid]))?.n ?? 0;
  }

  async countByStatus(): Promise<StatusCounts> {
    return this.guard(async () => {
      const out: StatusCounts = { ok: 0, skipped: 0, excluded: 0 };
      const r = await this.q<{ status: keyof StatusCounts; n: number }>(
        this.pool,
        `SELECT status, count(*) AS n FROM ${S}.images WHERE collection_id = $1 GROUP BY status`,
        [this.cid],
      );
      for (const row of r.rows) out[row.status] = row.n;
      return out;
    });
  }

  async skipped(): Promise<ImageRow[]> {
    // byte order, as SQLite sorts, whatever the database's collation
    return this.guard(
      async () =>
        (
          await this.q<ImageRow>(
            this.pool,
            `SELECT ${ROW_COLUMNS} FROM ${S}.images WHERE collection_id = $1 AND status = 'skipped' ORDER BY relpath COLLATE "C"`,
            [this.cid],
          )
        ).rows,
    );
  }

  async okRows(): Promise<{ id: number; relpath: string }[]> {
    return this.guard(
      async () =>
        (
          await this.q<{ id: number; relpath: string }>(
            this.pool,
            `SELECT id, relpath FROM ${S}.images WHERE collection_id = $1 AND status = 'ok' ORDER BY id`,
            [this.cid],
          )
        ).rows,
    );
  }

  async vector(id: number, space: FeatureSpace): Promise<Float32Array | undefined> {
    return this.guard(async () => (await this.okVectorRow(id, space))?.vector);
  }

  async okVector(id: number, space: FeatureSpace): Promise<{ relpath: string; vector: Float32Array } | undefined> {
    return this.guard(() => this.okVectorRow(id, space));
  }

  private async okVectorRow(id: number, space: FeatureSpace): Promise<{ relpath: string; vector: Float32Array } | undefined> {
    if (!isInt32(id)) return undefined;
    const r = await this.one<{ relpath: string; v: Buffer }>(
      this.pool,
      `SELECT i.relpath AS relpath, v.data AS v FROM ${S}.vectors v JOIN ${S}.images i ON i.collection_id = v.collection_id AND i.id = v.image_id
       WHERE v.collection_id = $1 AND v.image_id = $2 AND v.space = $3 AND i.status = 'ok'`,
      [this.cid, id, await this.spaceId(this.pool, space)],
    );
    return r ? { relpath: r.relpath, vector: blobToVector(r.v) } : undefined;
  }

  /**
   * Pages of VECTOR_PAGE ids, each one indexed read of both tables (the ids are given to both
   * sides, so the planner looks them up by key whatever its statistics); several pages are read
   * on one snapshot.
   */
  async okVectors(ids: ArrayLike<number>, space: FeatureSpace, dim: number): Promise<{ ids: Int32Array; vectors: Float32Array }> {
    return this.guard(async () => {
      const want = distinctIds(ids);
      const outIds = new Int32Array(want.length);
      const vectors = new Float32Array(want.length * dim);
      const bytes = new Uint8Array(vectors.buffer);
      let n = 0;
      const read = async (c: Queryable): Promise<void> => {
        const sid = await this.spaceId(c, space);
        if (sid < 0) return;
        for (let start = 0; start < want.length; start += VECTOR_PAGE) {
          const page = Array.from(want.subarray(start, start + VECTOR_PAGE));
          const r = await this.q<{ id: number; data: Buffer }>(
            c,
            `SELECT v.image_id AS id, v.data FROM ${S}.vectors v
               JOIN ${S}.images i ON i.collection_id = v.collection_id AND i.id = v.image_id
             WHERE v.collection_id = $1 AND v.space = $2 AND v.image_id = ANY($3::int[]) AND i.id = ANY($3::int[])
               AND octet_length(v.data) = $4 AND i.status = 'ok'
             ORDER BY v.image_id`,
            [this.cid, sid, page, dim * 4],
          );
          for (const row of r.rows) {
            outIds[n] = row.id;
            bytes.set(row.data, n * dim * 4);
            n++;
          }
        }
      };
      if (want.length > VECTOR_PAGE) await this.snapshotRead(read);
      else if (want.length > 0) await read(this.pool);
      return { ids: outIds.subarray(0, n), vectors: vectors.subarray(0, n * dim) };
    });
  }

  async okBySha(sha256: string, spaces: readonly FeatureSpace[]): Promise<ImageRow | undefined> {
    return this.guard(async () => {
      const sids = await this.spaceIdList(this.pool, spaces);
      if (!sids) return undefined;
      return this.one<ImageRow>(
        this.pool,
        `SELECT ${ROW_COLUMNS} FROM ${S}.images i WHERE collection_id = $1 AND sha256 = $2 AND status = 'ok'
           AND (SELECT count(*) FROM ${S}.vectors v WHERE v.collection_id = i.collection_id AND v.image_id = i.id AND v.space = ANY($3::int[])) = $4
         ORDER BY id LIMIT 1`,
        [this.cid, sha256, sids, sids.length],
      );
    });
  }

  async vectorDim(space: FeatureSpace): Promise<number | undefined> {
    return this.guard(async () => {
      const r = await this.one<{ b: number }>(
        this.pool,
        `SELECT octet_length(v.data) AS b FROM ${S}.vectors v JOIN ${S}.images i ON i.collection_id = v.collection_id AND i.id = v.image_id
         WHERE v.collection_id = $1 AND v.space = $2 AND i.status = 'ok' LIMIT 1`,
        [this.cid, await this.spaceId(this.pool, space)],
      );
      return r?.b ? r.b / 4 : undefined;
    });
  }

  /**
   * Searchable rows of `space` and dimension `dim` added after generation `since` (of one
   * partition when given), in id order, read in pages on `c`'s snapshot.
   *
   * Each page is two single-table reads — the page's ids from `images` in id order, then their
   * vectors by primary key — rather than one join: right after a bulk load the tables have no
   * statistics yet, and the planner then took the join for a one-row nested loop that was
   * quadratic (45 s for 20,000 rows). These two reads stay linear whatever the statistics.
   */
  private async vectorsAfter(
    c: pg.PoolClient,
    space: FeatureSpace,
    dim: number,
    since: number,
    part?: Partition,
  ): Promise<{ ids: Int32Array; vectors: Float32Array }> {
    const sid = await this.spaceId(c, space);
    if (sid < 0) return { ids: new Int32Array(0), vectors: new Float32Array(0) };
    const where = `FROM ${S}.images WHERE collection_id = $1 AND status = 'ok' AND gen > $2${part ? ` AND ${S}.shard_of(id, $3) = $4` : ''}`;
    const args: unknown[] = part ? [this.cid, since, part.count, part.index] : [this.cid, since];
    const p = args.length;
    // an upper bound: a searchable row may hold no vector of this space and dimension
    const most = (await this.one<{ n: number }>(c, `SELECT count(*) AS n ${where}`, args))?.n ?? 0;
    const ids = new Int32Array(most);
    const vectors = new Float32Array(most * dim);
    const bytes = new Uint8Array(vectors.buffer);
    let i = 0;
    let after = -1;
    for (;;) {
      const page = (await this.q<{ id: number }>(c, `SELECT id ${where} AND id > $${p + 1} ORDER BY id LIMIT $${p + 2}`, [...args, after, VECTOR_PAGE])).rows;
      if (page.length === 0) break;
      after = page[page.length - 1]!.id;
      const rows = await this.q<{ id: number; data: Buffer }>(
        c,
        `SELECT image_id AS id, data FROM ${S}.vectors WHERE collection_id = $1 AND space = $2 AND image_id = ANY($3::int[]) AND octet_length(data) = $4
         ORDER BY image_id`,
        [this.cid, sid, page.map((r) => r.id), dim * 4],
      );
      for (const r of rows.rows) {
        if (i >= most) break;
        ids[i] = r.id;
        bytes.set(r.data, i * dim * 4);
        i++;
      }
      if (page.length < VECTOR_PAGE) break;
    }
    return { ids: ids.subarray(0, i), vectors: vectors.subarray(0, i * dim) };
  }

  private async gen(c: Queryable): Promise<number> {
    return (await this.one<{ generation: number }>(c, `SELECT generation FROM ${S}.collections WHERE id = $1`, [this.cid]))?.generation ?? 0;
  }

  async snapshot(space: FeatureSpace, dim: number): Promise<VectorSnapshot> {
    return this.guard(() => this.snapshotRead(async (c) => ({ generation: await this.gen(c), ...(await this.vectorsAfter(c, space, dim, -1)) })));
  }

  async changesSince(space: FeatureSpace, dim: number, since: number): Promise<VectorChanges> {
    return this.guard(() => this.snapshotRead((c) => this.changes(c, space, dim, since)));
  }

  private async changes(c: pg.PoolClient, space: FeatureSpace, dim: number, since: number, part?: Partition): Promise<VectorChanges> {
    const removed = part
      ? await this.q<{ id: number }>(c, `SELECT id FROM ${S}.removed WHERE collection_id = $1 AND gen > $2 AND ${S}.shard_of(id, $3) = $4 ORDER BY id`, [
          this.cid,
          since,
          part.count,
          part.index,
        ])
      : await this.q<{ id: number }>(c, `SELECT id FROM ${S}.removed WHERE collection_id = $1 AND gen > $2 ORDER BY id`, [this.cid, since]);
    return {
      generation: await this.gen(c),
      removed: Int32Array.from(removed.rows, (r) => r.id),
      added: await this.vectorsAfter(c, space, dim, since, part),
    };
  }

  // ---- cluster mode: partitions, settings, trained artefacts, the shard registry

  async partitionSnapshot(space: FeatureSpace, dim: number, partition: Partition): Promise<VectorSnapshot> {
    const part = wholeOrPart(partition);
    return this.guard(() => this.snapshotRead(async (c) => ({ generation: await this.gen(c), ...(await this.vectorsAfter(c, space, dim, -1, part)) })));
  }

  async partitionChangesSince(space: FeatureSpace, dim: number, since: number, partition: Partition): Promise<VectorChanges> {
    const part = wholeOrPart(partition);
    return this.guard(() => this.snapshotRead((c) => this.changes(c, space, dim, since, part)));
  }

  async vectorCounts(): Promise<SpaceCount[]> {
    return this.guard(async () => {
      const r = await this.q<{ kind: FeatureSpace['kind']; model: string; n: number; bytes: number | null }>(
        this.pool,
        `SELECT s.kind, s.model, count(*) AS n, min(octet_length(v.data)) AS bytes
         FROM ${S}.vectors v
         JOIN ${S}.images i ON i.collection_id = v.collection_id AND i.id = v.image_id
         JOIN ${S}.spaces s ON s.id = v.space
         WHERE v.collection_id = $1 AND i.status = 'ok'
         GROUP BY s.kind, s.model ORDER BY s.kind, s.model`,
        [this.cid],
      );
      return r.rows.map((x) => ({ space: { kind: x.kind, model: x.model }, vectors: x.n, dim: x.bytes ? x.bytes / 4 : null }));
    });
  }

  async settings(): Promise<Record<string, unknown> | undefined> {
    return this.guard(async () => {
      const r = await this.one<{ settings: Record<string, unknown> | null }>(this.pool, `SELECT settings FROM ${S}.collections WHERE id = $1`, [this.cid]);
      return r?.settings ?? undefined;
    });
  }

  async updateSettings(
    update: (current: Record<string, unknown> | undefined) => Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    return this.guard(() =>
      this.transaction('BEGIN', async (c) => {
        // the collection's row lock: two processes settling the settings at once take turns
        const r = await this.one<{ settings: Record<string, unknown> | null }>(c, `SELECT settings FROM ${S}.collections WHERE id = $1 FOR UPDATE`, [this.cid]);
        const current = r?.settings ?? undefined;
        const next = update(current);
        if (next === undefined || JSON.stringify(next) === JSON.stringify(current)) return current;
        await this.q(c, `UPDATE ${S}.collections SET settings = $2::jsonb WHERE id = $1`, [this.cid, JSON.stringify(next)]);
        return next;
      }),
    );
  }

  async putTrained(space: FeatureSpace, name: string, data: Uint8Array, meta: Record<string, unknown> = {}): Promise<TrainedArtifact> {
    checkArtifactName(name);
    return this.guard(async () => {
      await this.ensureSpaces([space]);
      return this.transaction('BEGIN', async (c) => {
        // versions are given under the collection's row lock, so two trainings never take the same one
        await this.q(c, `SELECT id FROM ${S}.collections WHERE id = $1 FOR UPDATE`, [this.cid]);
        const sid = await this.spaceId(c, space);
        const last = await this.one<{ v: number | null }>(
          c,
          `SELECT max(version) AS v FROM ${S}.trained WHERE collection_id = $1 AND space = $2 AND name = $3`,
          [this.cid, sid, name],
        );
        const version = (last?.v ?? 0) + 1;
        const created_at = Date.now();
        await this.q(c, `INSERT INTO ${S}.trained (collection_id, space, name, version, data, meta, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`, [
          this.cid,
          sid,
          name,
          version,
          Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          JSON.stringify(meta),
          created_at,
        ]);
        return { space: { ...space }, name, version, data: Uint8Array.from(data), meta: { ...meta }, created_at };
      });
    });
  }

  async getTrained(space: FeatureSpace, name: string, version?: number): Promise<TrainedArtifact | undefined> {
    checkArtifactName(name);
    if (version !== undefined && !isInt32(version)) return undefined;
    return this.guard(async () => {
      const sid = await this.spaceId(this.pool, space);
      if (sid < 0) return undefined;
      type Row = { version: number; data: Buffer; meta: Record<string, unknown>; created_at: number };
      const cols = `SELECT version, data, meta, created_at FROM ${S}.trained WHERE collection_id = $1 AND space = $2 AND name = $3`;
      const r =
        version === undefined
          ? await this.one<Row>(this.pool, `${cols} ORDER BY version DESC LIMIT 1`, [this.cid, sid, name])
          : await this.one<Row>(this.pool, `${cols} AND version = $4`, [this.cid, sid, name, version]);
      if (!r) return undefined;
      return { space: { ...space }, name, version: r.version, data: new Uint8Array(r.data), meta: r.meta, created_at: r.created_at };
    });
  }

  async trainedVersion(space: FeatureSpace, name: string): Promise<number> {
    checkArtifactName(name);
    return this.guard(async () => {
      const sid = await this.spaceId(this.pool, space);
      if (sid < 0) return 0;
      const r = await this.one<{ v: number | null }>(
        this.pool,
        `SELECT max(version) AS v FROM ${S}.trained WHERE collection_id = $1 AND space = $2 AND name = $3`,
        [this.cid, sid, name],
      );
      return r?.v ?? 0;
    });
  }

  async announceShard(a: ShardAnnouncement): Promise<void> {
    const part = checkPartition(a.partition);
    if (typeof a.node !== 'string' || a.node.length === 0 || a.node.length > 300)
      throw new NitamonoError('INVALID_ARGUMENT', 'a shard node name is 1 to 300 characters');
    if (typeof a.url !== 'string' || !/^https?:\/\//.test(a.url))
      throw new NitamonoError('INVALID_ARGUMENT', `a shard URL is http:// or https://, not ${JSON.stringify(a.url)}`);
    await this.guard(async () => {
      await this.q(
        this.pool,
        `INSERT INTO ${S}.shards (collection_id, node, kind, model, shard_index, shard_count, url, generation, ready, size, started_at, heartbeat)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, clock_timestamp())
         ON CONFLICT (collection_id, node) DO UPDATE SET kind = excluded.kind, model = excluded.model, shard_index = excluded.shard_index,
           shard_count = excluded.shard_count, url = excluded.url, generation = excluded.generation, ready = excluded.ready, size = excluded.size,
           started_at = excluded.started_at, heartbeat = excluded.heartbeat`,
        [this.cid, a.node, a.space.kind, a.space.model, part.index, part.count, a.url, a.generation, a.ready, a.size, a.started_at],
      );
      // entries of processes gone for an hour are of no use to anyone: the registry cleans itself
      await this.q(this.pool, `DELETE FROM ${S}.shards WHERE collection_id = $1 AND heartbeat < clock_timestamp() - interval '1 hour'`, [this.cid]);
    });
  }

  async withdrawShard(node: string): Promise<void> {
    if (this.closed) return;
    await this.guard(() => this.q(this.pool, `DELETE FROM ${S}.shards WHERE collection_id = $1 AND node = $2`, [this.cid, node]));
  }

  async liveShards(space: FeatureSpace, maxAgeMs: number): Promise<ShardRecord[]> {
    if (!(Number.isFinite(maxAgeMs) && maxAgeMs > 0)) throw new NitamonoError('INVALID_ARGUMENT', `maxAgeMs must be a positive number, got ${maxAgeMs}`);
    return this.guard(async () => {
      type Row = {
        node: string;
        kind: FeatureSpace['kind'];
        model: string;
        shard_index: number;
        shard_count: number;
        url: string;
        generation: number;
        ready: boolean;
        size: number;
        started_at: number;
        age_ms: number;
      };
      const r = await this.q<Row>(
        this.pool,
        `SELECT node, kind, model, shard_index, shard_count, url, generation, ready, size, started_at,
           (extract(epoch FROM clock_timestamp() - heartbeat) * 1000)::float8 AS age_ms
         FROM ${S}.shards WHERE collection_id = $1 AND kind = $2 AND model = $3 AND heartbeat > clock_timestamp() - make_interval(secs => $4::float8 / 1000)
         ORDER BY shard_count, shard_index, node`,
        [this.cid, space.kind, space.model, maxAgeMs],
      );
      return r.rows.map((x) => ({
        node: x.node,
        space: { kind: x.kind, model: x.model },
        partition: { index: x.shard_index, count: x.shard_count },
        url: x.url,
        generation: x.generation,
        ready: x.ready,
        size: x.size,
        started_at: x.started_at,
        age_ms: Math.max(0, x.age_ms),
      }));
    });
  }

  // ---- the writer lease

  async acquireWriter(me: WriterIdentity, isStale: (holder: WriterLease) => boolean): Promise<{ acquired: true } | { acquired: false; holder: WriterLease }> {
    return this.guard(async () => {
      // the lease row is locked from the check to the take: one atomic step for every connection
      type Held = { acquired: false; holder: WriterLease };
      const refused: Held | undefined = await this.transaction('BEGIN', async (c) => {
        const h = await this.one<{ [K in keyof WriterLease]: WriterLease[K] | null }>(
          c,
          `SELECT token, pid, host, started_at, command, acquired_at FROM ${S}.writer WHERE collection_id = $1 FOR UPDATE`,
          [this.cid],
        );
        if (h?.token != null && h.token !== me.token) {
          const holder = h as WriterLease;
          if (!isStale(holder)) return { acquired: false, holder };
        }
        await this.q(
          c,
          `INSERT INTO ${S}.writer (collection_id, token, pid, host, started_at, command, acquired_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (collection_id) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host,
             started_at = excluded.started_at, command = excluded.command, acquired_at = excluded.acquired_at`,
          [this.cid, me.token, me.pid, me.host, me.started_at, me.command, Date.now()],
        );
        return undefined;
      });
      return refused ?? { acquired: true };
    });
  }

  async releaseWriter(me: WriterIdentity): Promise<void> {
    if (this.closed) return;
    await this.guard(() =>
      this.q(
        this.pool,
        `UPDATE ${S}.writer SET token = NULL, pid = NULL, host = NULL, started_at = NULL, command = NULL, acquired_at = NULL
         WHERE collection_id = $1 AND token = $2`,
        [this.cid, me.token],
      ),
    );
  }

  // ---- change notifications

  /**
   * Calls `listener` with the new generation after every commit (from any process) that changes
   * this collection's searchable set, in commit order. Resolves once subscribed: every such commit
   * after that is reported. When the listening connection is lost it is re-established, and the
   * current generation is then reported, so a missed notification is never missed silently. A
   * listener's exception is ignored. The returned function unsubscribes.
   */
  async onChange(listener: (generation: number) => void): Promise<() => void> {
    return this.guard(async () => {
      this.listeners.add(listener);
      try {
        await this.listen();
      } catch (err) {
        this.listeners.delete(listener);
        throw err;
      }
      return () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.unlisten();
      };
    });
  }

  private listen(): Promise<void> {
    if (!this.listening) {
      const p: Promise<void> = this.connectListener().catch((err) => {
        if (this.listening === p) this.listening = undefined;
        throw err;
      });
      this.listening = p;
    }
    return this.listening;
  }

  private async connectListener(): Promise<void> {
    const epoch = this.listenEpoch;
    const client = new pg.Client({ ...this.clientConfig, application_name: 'nitamono-listen' });
    const lost = () => this.listenerLost(client);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (m) => {
      if (m.channel === this.channel) this.deliver(Number(m.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      client.removeListener('end', lost);
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed || this.listeners.size === 0 || epoch !== this.listenEpoch) {
      client.removeListener('end', lost);
      await client.end().catch(() => {});
      return;
    }
    this.listenClient = client;
    this.relistenDelay = RELISTEN_MS;
  }

  private listenerLost(client: pg.Client): void {
    if (client !== this.listenClient) return;
    this.listenClient = undefined;
    this.listening = undefined;
    client.end().catch(() => {});
    this.scheduleRelisten();
  }

  private scheduleRelisten(): void {
    if (this.closed || this.listeners.size === 0 || this.relistenTimer) return;
    this.relistenTimer = setTimeout(async () => {
      this.relistenTimer = undefined;
      if (this.closed || this.listeners.size === 0) return;
      try {
        await this.listen();
        this.deliver(await this.gen(this.pool), true);
      } catch {
        this.relistenDelay = Math.min(this.relistenDelay * 2, RELISTEN_MAX_MS);
        this.scheduleRelisten();
      }
    }, this.relistenDelay);
    this.relistenTimer.unref();
  }

  private unlisten(): void {
    this.listenEpoch++;
    const client = this.listenClient;
    this.listenClient = undefined;
    this.listening = undefined;
    if (this.relistenTimer) clearTimeout(this.relistenTimer);
    this.relistenTimer = undefined;
    if (client) {
      client.removeAllListeners('end');
      client.end().catch(() => {});
    }
  }

  private deliver(generation: number, evenIfSeen = false): void {
    if (!Number.isFinite(generation) || (generation <= this.delivered && !evenIfSeen)) return;
    this.delivered = Math.max(this.delivered, generation);
    for (const l of [...this.listeners]) {
      try {
        l(generation);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.unlisten();
    await this.pool.end().catch(() => {});
  }
}

/**
 * `fn` with a connection of the pool. A checked-out connection that breaks between two queries
 * emits 'error' (an uncaught exception without a listener): it is caught here, and such a
 * connection, or one `fn` calls `discard` for, is closed instead of going back to the pool.
 */
async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient, discard: () => void) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  c.on('error', onError);
  try {
    return await fn(c, onError);
  } finally {
    c.removeListener('error', onError);
    c.release(broken);
  }
}

/** Makes the collection's row (and its writer-lease row) if new; returns its id. */
async function ensureCollection(client: pg.PoolClient, name: string): Promise<number> {
  await client.query('BEGIN');
  try {
    // a concurrent open of the same new collection waits on the unique name, then finds it
    await client.query(`INSERT INTO ${S}.collections (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [name, Date.now()]);
    const r = await client.query<{ id: number }>(`SELECT id FROM ${S}.collections WHERE name = $1`, [name]);
    const id = r.rows[0]!.id;
    await client.query(`INSERT INTO ${S}.writer (collection_id) VALUES ($1) ON CONFLICT (collection_id) DO NOTHING`, [id]);
    await client.query('COMMIT');
    return id;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** The id of an existing collection; NOT_FOUND naming the database's collections when there is none of that name. */
async function findCollection(client: pg.PoolClient, name: string, target: string): Promise<number> {
  const r = await client.query<{ id: number }>(`SELECT id FROM ${S}.collections WHERE name = $1`, [name]);
  if (r.rows[0]) return r.rows[0].id;
  const names = (await client.query<{ name: string }>(`SELECT name FROM ${S}.collections ORDER BY name LIMIT 21`)).rows.map((x) => JSON.stringify(x.name));
  const there = names.length === 0 ? 'it holds no collection yet' : `its collections: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`;
  throw new NitamonoError('NOT_FOUND', `${target} has no collection ${JSON.stringify(name)} (${there})`);
}

/** Shards of a partitioned read: 1 ≤ count ≤ MAX_PARTITIONS, 0 ≤ index < count. */
const MAX_PARTITIONS = 1 << 16;

/** A checked partition, or undefined for partition 0/1 (every id: no hash to compute). */
function wholeOrPart(p: Partition): Partition | undefined {
  const part = checkPartition(p);
  return part.count === 1 ? undefined : part;
}

function checkPartition(p: Partition): Partition {
  const ok = p && Number.isInteger(p.count) && p.count >= 1 && p.count <= MAX_PARTITIONS && Number.isInteger(p.index) && p.index >= 0 && p.index < p.count;
  if (!ok) throw new NitamonoError('INVALID_ARGUMENT', `a partition is i/S with 0 ≤ i < S ≤ ${MAX_PARTITIONS}, not ${JSON.stringify(p)}`);
  return { index: p.index, count: p.count };
}

function checkArtifactName(name: string): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(name)) {
    throw new NitamonoError('INVALID_ARGUMENT', `a trained artefact's name is lower case letters, digits, '.', '_' and '-', not ${JSON.stringify(name)}`);
  }
}

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -(2 ** 31) && n <= INT32_MAX;
}

/** The stored row already describes this file's current content. */
function sameFile(old: ImageRow, img: NewImage): boolean {
  return old.sha256 !== null && old.sha256 === img.sha256 && old.size === img.size && old.mtime_ms === img.mtime_ms && old.status === img.status;
}

/** user@host:port/database of a postgres:// URL, for messages (never the password); INVALID_ARGUMENT for anything else. */
export function describeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NitamonoError('INVALID_ARGUMENT', `not a PostgreSQL URL: ${JSON.stringify(redact(url))} (expected postgres://user:password@host:port/database)`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new NitamonoError('INVALID_ARGUMENT', `not a PostgreSQL URL: ${u.protocol}// (expected postgres://user:password@host:port/database)`);
  }
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
  const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
  return `${user}${host}:${u.port || '5432'}/${db}`;
}

/** A string that may be a URL with a password, with the password hidden. */
function redact(s: string): string {
  return s.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT']);

/**
 * A pg or network error as a NitamonoError naming the problem and the database: UNAVAILABLE,
 * ACCESS_DENIED or NOT_FOUND. Others pass through unchanged, except while opening (`opening`),
 * where anything unexpected is reported as IO naming the database.
 */
function describeError(err: unknown, target: string, opening: boolean): unknown {
  if (err instanceof NitamonoError) return err;
  const e = err as Error & { code?: string; errors?: { code?: string }[] };
  const code = e?.code ?? e?.errors?.[0]?.code;
  const message = e?.message || (e?.errors?.[0] as Error | undefined)?.message || String(err);
  if (code && UNREACHABLE.has(code)) {
    return new NitamonoError('UNAVAILABLE', `cannot reach the PostgreSQL server of ${target} (${code}): is it running and is the address right?`, {
      cause: err,
    });
  }
  if (/timeout exceeded when trying to connect|connection timeout|Connection terminated/i.test(message)) {
    return new NitamonoError('UNAVAILABLE', `lost or could not open the connection to the PostgreSQL server of ${target}: ${message}`, { cause: err });
  }
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
      return new NitamonoError('UNAVAILABLE', `the PostgreSQL server of ${target} is not available (${code}): ${message}`, { cause: err });
    }
    if (code.startsWith('28')) {
      return new NitamonoError('ACCESS_DENIED', `the PostgreSQL server of ${target} refused the credentials (${code}): ${message}`, { cause: err });
    }
    if (code === '42501') {
      return new NitamonoError('ACCESS_DENIED', `the PostgreSQL server of ${target} denied a permission nitamono needs (${code}): ${message}`, { cause: err });
    }
    if (code === '3D000') return new NitamonoError('NOT_FOUND', `${target}: ${message} (create it first)`, { cause: err });
  }
  if (opening) return new NitamonoError('IO', `cannot open the catalogue ${target}: ${redact(message)}${code ? ` (${code})` : ''}`, { cause: err });
  return err;
}
