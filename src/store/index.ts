export * from './types.js';
export {
  SqliteEventStore,
  openDatabase,
  readAllFrom,
  headPositionOf,
  projectionCheckpoints,
  logHasEvents,
  type OpenDatabaseOptions,
  type SqliteStoreOptions,
} from './sqlite-store.js';
export { DEFAULT_WAL_MAX_BYTES } from './wal-checkpointer.js';
export {
  StartupError,
  LOCK_FILE,
  PRIVATE_FILE_MODE,
  PRIVATE_DIRECTORY_MODE,
  acquireDataDirLock,
  assertDataDirExists,
  ensurePrivateDirectory,
  makeFilePrivate,
  prepareDataDir,
  type DataDirLock,
} from './startup.js';
export { InMemoryEventStore, type MemoryStoreOptions } from './memory-store.js';
export { assertExpectedVersion } from './expected-version.js';
export { statement, openScratchDatabase, tableRows } from './projection.js';

/** The event log's file name inside the data directory. */
export const DATABASE_FILE = 'switchyard.db';
export { JetStreamEventStore, type JetStreamStoreOptions, type JetStreamLogger } from './jetstream-store.js';
export { subjectToken, streamIdOfToken } from './jetstream-codec.js';
