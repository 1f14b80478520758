/**
 * Session advisory lock key held while migrating, so replicas that start at once take turns:
 * the first applies the migrations, the others then find them recorded and apply nothing.
 */
export const MIGRATION_LOCK_KEY = 0x70726f746f6d; // "protom"
