export * from './types.js';
export {
  SqliteEventStore,
  openDatabase,
  readAllFrom,
  headPositionOf,
  projectionCheckpoints,
  type SqliteStoreOptions,
} from './sqlite-store.js';
export { InMemoryEventStore, type MemoryStoreOptions } from './memory-store.js';
export { assertExpectedVersion } from './expected-version.js';
export { statement, openScratchDatabase, tableRows } from './projection.js';

/** The event log's file name inside the data directory. */
export const DATABASE_FILE = 'switchyard.db';
