// @protomesh/data: a Drizzle database on PostgreSQL or embedded PGlite, with one handle type.
export {
  openDatabase,
  type Database,
  type Db,
  type Tx,
  type Executor,
  type DbQueryResultHKT,
} from "./database.js";
export type { ListenOptions, Unlisten } from "./notifications.js";
export { type DatabaseOptions, resolveDatabaseOptions } from "./options.js";
export { defaultPgliteCacheDir } from "./pglite-template.js";
export { DataError, isDataError, toDataError, type DataErrorCode } from "./data-error.js";
export { runTransaction, type RunTransactionOptions } from "./run-transaction.js";
export { MIGRATION_LOCK_KEY } from "./migrate.js";
export { createDatabase, dropDatabase } from "./provision.js";
export { prepareStatement, columnPlaceholder, type PreparedStatement, type PreparableQuery } from "./prepared-statement.js";
