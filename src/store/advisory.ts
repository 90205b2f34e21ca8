/** Advisory lock keys. The first int is a namespace so etl never collides with an application's own locks. */
export const LOCK_NAMESPACE = 0x45544c; // "ETL"
export const MIGRATION_LOCK_NAMESPACE = 0x45544d;
