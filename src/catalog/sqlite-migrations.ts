/**
 * Numbered schema migrations of the SQLite catalogue. A new catalogue runs all of them, an
 * existing one the ones past its `meta.schema_version`, each in its own transaction, so a
 * collection written by any earlier nitamono is upgraded in place when it is opened for writing.
 * Never edit a migration that has shipped: add the next one.
 */
import type Database from 'better-sqlite3';
import { NitamonoError } from '../errors.js';
import { pathTokens } from './names.js';

export interface MigrationContext {
  /**
   * Model names of the vectors stored before vectors were keyed by model (schema 1 had one
   * column per kind): the collection's configured colour bins and deep model.
   */
  legacyModels: { color: string; deep: string };
}

interface Migration {
  version: number;
  description: string;
  up(db: Database.Database, ctx: MigrationContext): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'images with one vector column per kind, removals, generation counter',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
        CREATE TABLE IF NOT EXISTS removed (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS removed_gen ON removed (gen);
        INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
      `);
    },
  },
  {
    version: 2,
    description: 'vectors in their own table keyed by (image, feature space); a space is a kind and a model version',
    up(db, ctx) {
      db.exec(`
        CREATE TABLE spaces (
          id    INTEGER PRIMARY KEY,
          kind  TEXT NOT NULL,
          model TEXT NOT NULL,
          UNIQUE (kind, model)
        );
        CREATE TABLE vectors (
          image_id INTEGER NOT NULL,
          space    INTEGER NOT NULL REFERENCES spaces (id),
          data     BLOB NOT NULL,
          UNIQUE (image_id, space)
        );
        CREATE INDEX vectors_space ON vectors (space, image_id);
      `);
      const copy = (column: 'color' | 'deep', model: string) => {
        if (!db.prepare(`SELECT 1 FROM images WHERE ${column} IS NOT NULL LIMIT 1`).get()) return;
        const space = Number(db.prepare('INSERT INTO spaces (kind, model) VALUES (?, ?)').run(column, model).lastInsertRowid);
        db.prepare(`INSERT INTO vectors (image_id, space, data) SELECT id, ?, ${column} FROM images WHERE ${column} IS NOT NULL`).run(space);
      };
      copy('color', ctx.legacyModels.color);
      copy('deep', ctx.legacyModels.deep);
      db.exec('ALTER TABLE images DROP COLUMN color; ALTER TABLE images DROP COLUMN deep;');
    },
  },
  {
    version: 3,
    description: 'the writer lease: one writing process at a time',
    up(db) {
      db.exec(`
        CREATE TABLE writer (
          id          INTEGER PRIMARY KEY CHECK (id = 1),
          token       TEXT NOT NULL,
          pid         INTEGER NOT NULL,
          host        TEXT NOT NULL,
          started_at  INTEGER NOT NULL,
          command     TEXT NOT NULL,
          acquired_at INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 4,
    description: 'filtered search: an FTS5 table of the words of file and folder names (search by name), indexes on mtime and size',
    up(db) {
      // rowid = image id; filled by the store on insert and delete (the tokens are cut in
      // TypeScript, ./names.ts, which no SQLite tokenizer does), and here for existing rows
      db.exec(`
        CREATE VIRTUAL TABLE names USING fts5(file, dirs, tokenize = 'unicode61 remove_diacritics 0');
        -- partial on searchable rows, so a filter's ids are read from the index alone (it holds the rowid)
        CREATE INDEX images_ok_relpath ON images (relpath) WHERE status = 'ok';
        CREATE INDEX images_ok_mtime ON images (mtime_ms) WHERE status = 'ok';
        CREATE INDEX images_ok_size ON images (size) WHERE status = 'ok';
      `);
      const add = db.prepare('INSERT INTO names (rowid, file, dirs) VALUES (?, ?, ?)');
      const page = db.prepare('SELECT id, relpath FROM images WHERE id > ? ORDER BY id LIMIT 8192').raw(true);
      for (let last = -1; ; ) {
        const rows = page.all(last) as [number, string][];
        if (rows.length === 0) break;
        for (const [id, relpath] of rows) {
          const t = pathTokens(relpath);
          add.run(id, t.file, t.dirs);
        }
        last = rows[rows.length - 1]![0];
      }
    },
  },
];

export const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function currentVersion(db: Database.Database): number {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) return 0;
  const r = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  // Catalogues of the first release wrote the images table before recording a version.
  return r ? Number(r.value) : 1;
}

/** Brings the schema to LATEST_SCHEMA; returns the version found before. */
export function migrate(db: Database.Database, file: string, ctx: MigrationContext): number {
  const before = currentVersion(db);
  if (!Number.isInteger(before) || before > LATEST_SCHEMA) {
    throw new NitamonoError('UNSUPPORTED', `${file} has catalogue schema ${before}; this nitamono reads up to ${LATEST_SCHEMA} (upgrade nitamono)`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= before) continue;
    db.transaction(() => {
      m.up(db, ctx);
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(m.version));
    }).immediate();
  }
  return before;
}

/** The schema version of a catalogue opened read-only (no migration possible). */
export function readOnlyVersion(db: Database.Database): number {
  return currentVersion(db);
}
