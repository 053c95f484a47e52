/** Catalogue backends behind one interface; SQLite is the default. */
export * from './types.js';
export { SQLiteCatalogStore, type SQLiteCatalogOptions } from './sqlite.js';
export { LATEST_SCHEMA, MIGRATIONS, type MigrationContext } from './sqlite-migrations.js';
export { blobToVector, vectorToBlob } from './vector-bytes.js';
