/**
 * Numbered schema migrations of the PostgreSQL catalogue, recorded in
 * `nitamono.schema_migrations` (one row per applied version). Opening a store brings the
 * database to POSTGRES_LATEST_SCHEMA: every pending migration runs in ONE transaction that first
 * takes a transaction-scoped advisory lock, so two processes opening a fresh database at once do
 * not both migrate (the second waits for the lock, then finds the work done). PostgreSQL's DDL is
 * transactional: a migration that fails leaves the database as it was.
 * Never edit a migration that has shipped: add the next one.
 *
 * Layout: every table lives in the `nitamono` schema (the database may hold other things) and
 * every row of a collection carries its `collection_id` — see postgres.ts for why collections are
 * rows, not schemas. Vectors are little-endian float32 `bytea` (vector-bytes.ts), stored
 * EXTERNAL: floats do not compress, so PostgreSQL should not try.
 */
import type pg from 'pg';
import { NitamonoError } from '../errors.js';
import { pathTokens } from './names.js';

export interface PostgresMigration {
  version: number;
  description: string;
  /** SQL run inside the migration transaction. */
  sql: string;
}

/** The PostgreSQL schema holding every table. */
export const PG_SCHEMA = 'nitamono';

/** Key of the advisory lock taken while migrating ('nitm' in ASCII; any constant shared by all nitamono versions). */
export const MIGRATION_LOCK_KEY = 0x6e69746d;

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: 'collections with generation, id counter and writer lease; images, feature spaces, vectors, removals',
    sql: `
      CREATE TABLE nitamono.collections (
        id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name        text NOT NULL UNIQUE,
        -- bumped once by every commit that changes the searchable set
        generation  bigint NOT NULL DEFAULT 0,
        -- the next image id of this collection (ids are per collection and never reused)
        next_id     integer NOT NULL DEFAULT 1,
        created_at  bigint NOT NULL
      );
      -- a feature space is a name (kind, model version), shared by every collection of the database
      CREATE TABLE nitamono.spaces (
        id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind  text NOT NULL,
        model text NOT NULL,
        UNIQUE (kind, model)
      );
      CREATE TABLE nitamono.images (
        collection_id integer NOT NULL REFERENCES nitamono.collections (id) ON DELETE CASCADE,
        id            integer NOT NULL,
        relpath       text NOT NULL,
        size          bigint NOT NULL,
        mtime_ms      double precision NOT NULL,
        sha256        text,
        status        text NOT NULL CHECK (status IN ('ok', 'skipped', 'excluded')),
        width         integer,
        height        integer,
        format        text,
        error_code    text,
        error_message text,
        gen           bigint NOT NULL,
        added_at      bigint NOT NULL,
        PRIMARY KEY (collection_id, id),
        UNIQUE (collection_id, relpath)
      );
      CREATE INDEX images_sha256 ON nitamono.images (collection_id, sha256);
      CREATE INDEX images_status ON nitamono.images (collection_id, status, id);
      CREATE INDEX images_gen ON nitamono.images (collection_id, gen);
      CREATE TABLE nitamono.vectors (
        collection_id integer NOT NULL,
        image_id      integer NOT NULL,
        space         integer NOT NULL REFERENCES nitamono.spaces (id),
        data          bytea NOT NULL,
        PRIMARY KEY (collection_id, image_id, space),
        FOREIGN KEY (collection_id, image_id) REFERENCES nitamono.images (collection_id, id) ON DELETE CASCADE
      );
      ALTER TABLE nitamono.vectors ALTER COLUMN data SET STORAGE EXTERNAL;
      CREATE INDEX vectors_space ON nitamono.vectors (collection_id, space, image_id);
      -- ids that left the searchable set, with the generation they left at
      CREATE TABLE nitamono.removed (
        collection_id integer NOT NULL REFERENCES nitamono.collections (id) ON DELETE CASCADE,
        id            integer NOT NULL,
        gen           bigint NOT NULL,
        PRIMARY KEY (collection_id, id)
      );
      CREATE INDEX removed_gen ON nitamono.removed (collection_id, gen);
      -- the writer lease: one row per collection, made with it (so it can always be locked), NULL when free
      CREATE TABLE nitamono.writer (
        collection_id integer PRIMARY KEY REFERENCES nitamono.collections (id) ON DELETE CASCADE,
        token         text,
        pid           integer,
        host          text,
        started_at    bigint,
        command       text,
        acquired_at   bigint
      );
    `,
  },
  {
    version: 2,
    description: 'cluster mode: collection settings, trained artefacts (shared IVF centroids), the shard registry, the partition hash',
    sql: `
      -- what every process of a collection must agree on (feature kinds, colour bins, deep model): src/cluster/settings.ts
      ALTER TABLE nitamono.collections ADD COLUMN settings jsonb;
      -- trained once, shared by every shard: IVF centroids (later PQ codebooks), bit-exact, versioned
      CREATE TABLE nitamono.trained (
        collection_id integer NOT NULL REFERENCES nitamono.collections (id) ON DELETE CASCADE,
        space         integer NOT NULL REFERENCES nitamono.spaces (id),
        name          text NOT NULL,
        version       integer NOT NULL CHECK (version >= 1),
        data          bytea NOT NULL,
        meta          jsonb NOT NULL,
        created_at    bigint NOT NULL,
        PRIMARY KEY (collection_id, space, name, version)
      );
      ALTER TABLE nitamono.trained ALTER COLUMN data SET STORAGE EXTERNAL;
      -- shard processes announce themselves here; coordinators ignore entries whose heartbeat is old
      CREATE TABLE nitamono.shards (
        collection_id integer NOT NULL REFERENCES nitamono.collections (id) ON DELETE CASCADE,
        node          text NOT NULL,
        kind          text NOT NULL,
        model         text NOT NULL,
        shard_index   integer NOT NULL,
        shard_count   integer NOT NULL,
        url           text NOT NULL,
        generation    bigint NOT NULL,
        ready         boolean NOT NULL,
        size          bigint NOT NULL,
        started_at    bigint NOT NULL,
        heartbeat     timestamptz NOT NULL,
        PRIMARY KEY (collection_id, node),
        CHECK (shard_count >= 1 AND shard_index >= 0 AND shard_index < shard_count)
      );
      CREATE INDEX shards_space ON nitamono.shards (collection_id, kind, model, heartbeat);
      -- The partition of an image id, exactly as src/cluster/partition.ts computes it: MurmurHash3's
      -- 32-bit finaliser (fmix32) of the id, modulo the number of shards. 32-bit products are
      -- taken modulo 2^32 in 16-bit halves, so every intermediate fits a bigint.
      CREATE FUNCTION nitamono.mul32(a bigint, c bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $fn$ SELECT ((a & 65535) * c + ((((a >> 16) * c) & 65535) << 16)) & 4294967295 $fn$;
      CREATE FUNCTION nitamono.xorshr(h bigint, s integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $fn$ SELECT h # (h >> s) $fn$;
      CREATE FUNCTION nitamono.fmix32(id integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $fn$ SELECT nitamono.xorshr(nitamono.mul32(nitamono.xorshr(nitamono.mul32(nitamono.xorshr(id::bigint & 4294967295, 16), 2246822507), 13), 3266489909), 16) $fn$;
      CREATE FUNCTION nitamono.shard_of(id integer, shards integer) RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $fn$ SELECT (nitamono.fmix32(id) % shards)::integer $fn$;
    `,
  },
  {
    version: 3,
    description: 'filtered search: the words of file and folder names (search by name), indexes on relpath in byte order, mtime and size',
    sql: `
      -- the tokens of ../catalog/names.ts, written by the store with each row; rows of older
      -- versions are filled when a store opens the database (fillNameTokens), found by the partial index
      ALTER TABLE nitamono.images ADD COLUMN name_file text, ADD COLUMN name_dirs text;
      CREATE INDEX images_unnamed ON nitamono.images (collection_id) WHERE name_file IS NULL;
      -- partial on searchable rows and holding the id, so a filter's ids come from the index alone
      CREATE INDEX images_ok_relpath ON nitamono.images (collection_id, relpath COLLATE "C", id) WHERE status = 'ok';
      CREATE INDEX images_ok_mtime ON nitamono.images (collection_id, mtime_ms, id) WHERE status = 'ok';
      CREATE INDEX images_ok_size ON nitamono.images (collection_id, size, id) WHERE status = 'ok';
    `,
  },
];

export const POSTGRES_LATEST_SCHEMA = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;

/** Fills the name tokens of rows written before schema 3 (or by an older nitamono since), a page at a time. */
export async function fillNameTokens(client: pg.PoolClient): Promise<void> {
  for (;;) {
    const r = await client.query<{ collection_id: number; id: number; relpath: string }>(
      `SELECT collection_id, id, relpath FROM ${PG_SCHEMA}.images WHERE name_file IS NULL LIMIT 4096`,
    );
    if (r.rows.length === 0) return;
    const t = r.rows.map((row) => pathTokens(row.relpath));
    await client.query(
      `UPDATE ${PG_SCHEMA}.images i SET name_file = u.f, name_dirs = u.d
       FROM unnest($1::int[], $2::int[], $3::text[], $4::text[]) AS u(c, id, f, d) WHERE i.collection_id = u.c AND i.id = u.id`,
      [r.rows.map((x) => x.collection_id), r.rows.map((x) => x.id), t.map((x) => x.file), t.map((x) => x.dirs)],
    );
  }
}

/** The highest applied version, 0 for a database nitamono never wrote. */
async function currentVersion(client: pg.PoolClient): Promise<number> {
  const t = await client.query<{ t: string | null }>(`SELECT to_regclass('${PG_SCHEMA}.schema_migrations')::text AS t`);
  if (!t.rows[0]?.t) return 0;
  const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${PG_SCHEMA}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

function tooNew(version: number, where: string): NitamonoError {
  return new NitamonoError('UNSUPPORTED', `${where} has catalogue schema ${version}; this nitamono reads up to ${POSTGRES_LATEST_SCHEMA} (upgrade nitamono)`);
}

/**
 * Brings the database to POSTGRES_LATEST_SCHEMA; returns the version found before. `where`
 * names the database in messages. An up-to-date database costs one read and takes no lock.
 */
export async function migratePostgres(client: pg.PoolClient, where: string): Promise<number> {
  const seen = await currentVersion(client);
  if (seen > POSTGRES_LATEST_SCHEMA) throw tooNew(seen, where);
  if (seen === POSTGRES_LATEST_SCHEMA) return seen;
  await client.query('BEGIN');
  try {
    // held until COMMIT/ROLLBACK: a second process waits here, then reads the version again
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${PG_SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${PG_SCHEMA}.schema_migrations (
      version     integer PRIMARY KEY,
      description text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const before = await currentVersion(client);
    if (before > POSTGRES_LATEST_SCHEMA) throw tooNew(before, where);
    for (const m of POSTGRES_MIGRATIONS) {
      if (m.version <= before) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO ${PG_SCHEMA}.schema_migrations (version, description) VALUES ($1, $2)`, [m.version, m.description]);
    }
    await client.query('COMMIT');
    return before;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
