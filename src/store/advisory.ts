/** Advisory lock keys. The first int is a namespace so etl never collides with an application's own locks. */
export const LOCK_NAMESPACE = 0x45544c; // "ETL": one per target, held to merge
export const MIGRATION_LOCK_NAMESPACE = 0x45544d;
/** One per load, held by the connection that opened it for as long as it lives: proof its owner is alive. */
export const LOAD_LOCK_NAMESPACE = 0x45544e;
/** One per target, held for the short setup of a load (recovery, creating the target). */
export const SETUP_LOCK_NAMESPACE = 0x45544f;
