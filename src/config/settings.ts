/**
 * Every setting a sync reads: its flag, its environment variable and its default. The README's
 * settings table documents exactly this list (a test keeps them in step).
 */
export interface SettingDef {
  key: string;
  flag: string;
  env?: string;
  default?: string;
  help: string;
}

export const SYNC_SETTINGS = [
  {
    key: 'databaseUrl',
    flag: '--database-url <url>',
    env: 'DATABASE_URL',
    help: 'PostgreSQL connection URL (else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, else the embedded server)',
  },
  {
    key: 'file',
    flag: '--file <path>',
    env: 'CSV_FILE',
    default: 'tables/followers.csv',
    help: 'the file to sync: a path, - for stdin, or an http(s) URL; .gz is decompressed',
  },
  {
    key: 'format',
    flag: '--format <format>',
    env: 'SOURCE_FORMAT',
    help: 'csv, ndjson or json (default: from the file name; csv when it does not say)',
  },
  {
    key: 'batchSize',
    flag: '--batch-size <rows>',
    env: 'BATCH_SIZE',
    default: '20000',
    help: 'rows per batch handed to a worker',
  },
  {
    key: 'workers',
    flag: '--workers <n>',
    env: 'WORKER_POOL_SIZE',
    default: '2',
    help: 'worker threads that parse, validate and COPY batches',
  },
  {
    key: 'minConns',
    flag: '--db-min-conns <n>',
    env: 'DB_MIN_CONNS',
    default: '0',
    help: 'connections kept open while idle',
  },
  {
    key: 'maxConns',
    flag: '--db-max-conns <n>',
    env: 'DB_MAX_CONNS',
    default: '10',
    help: 'most connections one run opens (workers + 3)',
  },
  {
    key: 'connectTimeout',
    flag: '--db-connect-timeout <duration>',
    env: 'DB_CONNECT_TIMEOUT',
    default: '30s',
    help: 'give up opening a database connection after this long',
  },
  {
    key: 'statementTimeout',
    flag: '--db-statement-timeout <duration>',
    env: 'DB_STATEMENT_TIMEOUT',
    default: '1h',
    help: 'longest one statement (a COPY batch, the merge) may run; the client stops waiting 30s later (0 = no limit)',
  },
  {
    key: 'idleInTransactionTimeout',
    flag: '--db-idle-timeout <duration>',
    env: 'DB_IDLE_IN_TRANSACTION_TIMEOUT',
    default: '10m',
    help: 'the server ends a session left idle inside a transaction this long, freeing its locks (0 = never)',
  },
  {
    key: 'lockTimeout',
    flag: '--lock-timeout <duration>',
    env: 'LOCK_TIMEOUT',
    default: '30s',
    help: 'how long to wait for another run of the same table (0 = do not wait)',
  },
  {
    key: 'maxErrors',
    flag: '--max-errors <n>',
    env: 'MAX_ERROR_RECORDS',
    default: '0',
    help: 'bad rows to skip (and record) before the load fails',
  },
  {
    key: 'maxRecordSize',
    flag: '--max-record-size <size>',
    env: 'MAX_RECORD_SIZE',
    default: '16MiB',
    help: 'the largest record (a CSV row or a JSON element) read; a larger one is a bad row (e.g. 16MiB, 512KiB)',
  },
  { key: 'rejects', flag: '--rejects <path>', env: 'REJECTS_FILE', help: 'also write bad rows to this CSV file' },
  {
    key: 'allowEmpty',
    flag: '--allow-empty',
    env: 'ALLOW_EMPTY',
    default: 'false',
    help: 'let a file with no valid rows empty the table',
  },
  {
    key: 'maxDelete',
    flag: '--max-delete <percent>',
    env: 'MAX_DELETE_PERCENT',
    help: 'refuse a sync that would delete more than this share of the table (default: no limit)',
  },
  {
    key: 'delimiter',
    flag: '--delimiter <char>',
    env: 'CSV_DELIMITER',
    default: ',',
    help: 'field delimiter (use "\\t" for tabs)',
  },
  { key: 'quote', flag: '--quote <char>', env: 'CSV_QUOTE', default: '"', help: 'quote character' },
  {
    key: 'header',
    flag: '--no-header',
    env: 'CSV_HEADER',
    default: 'true',
    help: 'the file has no header: fields are email,full_name by position',
  },
  {
    key: 'encoding',
    flag: '--encoding <name>',
    env: 'CSV_ENCODING',
    default: 'utf-8',
    help: 'file encoding (utf-8, latin1, windows-1252, ...)',
  },
  {
    key: 'dryRun',
    flag: '--dry-run',
    default: 'false',
    help: 'read, validate and report what would change, changing nothing',
  },
  {
    key: 'embeddedDir',
    flag: '--embedded-dir <path>',
    env: 'ETL_EMBEDDED_DIR',
    default: '.etl',
    help: 'where the embedded PostgreSQL keeps its data',
  },
] as const satisfies readonly SettingDef[];

export type SyncSettingKey = (typeof SYNC_SETTINGS)[number]['key'];
