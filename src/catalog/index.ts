/** Catalogue backends behind one interface; SQLite is the default. */

export { type SQLiteCatalogOptions, SQLiteCatalogStore } from './sqlite.js';
export { LATEST_SCHEMA, MIGRATIONS, type MigrationContext } from './sqlite-migrations.js';
export * from './types.js';
export { blobToVector, vectorToBlob } from './vector-bytes.js';
