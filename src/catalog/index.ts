/** Catalogue backends behind one interface; SQLite is the default, PostgreSQL the shared one of cluster mode. */

export { type CheckedFilter, checkImageFilter, type ImageFilter, type NameHit, type Range } from './filter.js';
export { type NameQuery, parseNameQuery, pathTokens } from './names.js';
export { describeUrl as describePostgresUrl, type PostgresCatalogOptions, PostgresCatalogStore } from './postgres.js';
export { POSTGRES_LATEST_SCHEMA, POSTGRES_MIGRATIONS, type PostgresMigration } from './postgres-migrations.js';

export { type SQLiteCatalogOptions, SQLiteCatalogStore } from './sqlite.js';
export { LATEST_SCHEMA, MIGRATIONS, type MigrationContext } from './sqlite-migrations.js';
export * from './types.js';
export { blobToVector, vectorToBlob } from './vector-bytes.js';
