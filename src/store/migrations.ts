/**
 * Numbered schema migrations. Never edit a migration that has shipped: add the next number.
 * Each runs once, in the same transaction as its record in etl_info_schema.migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'followers, staging, table status, load history, rejects',
    sql: `
CREATE TABLE IF NOT EXISTS public.followers (
  email       varchar(255) PRIMARY KEY,
  full_name   varchar(255) NOT NULL,
  modified_at timestamptz  NOT NULL
);

-- One list partition per load: a finished load is dropped, never deleted row by row, so the
-- staging area never accumulates dead tuples however many syncs run.
CREATE TABLE IF NOT EXISTS public.staging_followers (
  email     text   NOT NULL,
  full_name text   NOT NULL,
  line      bigint NOT NULL,
  load_id   uuid   NOT NULL
) PARTITION BY LIST (load_id);

CREATE TABLE etl_info_schema.table_status (
  id            serial PRIMARY KEY,
  table_name    text NOT NULL UNIQUE,
  last_activity timestamptz NOT NULL
);

CREATE TABLE etl_info_schema.loads (
  load_id        uuid PRIMARY KEY,
  table_name     text NOT NULL,
  source         text NOT NULL,
  status         text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'aborted')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  rows_read      bigint NOT NULL DEFAULT 0,
  rows_staged    bigint NOT NULL DEFAULT 0,
  rows_inserted  bigint NOT NULL DEFAULT 0,
  rows_updated   bigint NOT NULL DEFAULT 0,
  rows_unchanged bigint NOT NULL DEFAULT 0,
  rows_deleted   bigint NOT NULL DEFAULT 0,
  rows_rejected  bigint NOT NULL DEFAULT 0,
  rows_duplicate bigint NOT NULL DEFAULT 0,
  dry_run        boolean NOT NULL DEFAULT false,
  error          text,
  host           text,
  pid            integer
);
CREATE INDEX loads_by_table_recent ON etl_info_schema.loads (table_name, started_at DESC);
CREATE INDEX loads_running ON etl_info_schema.loads (table_name) WHERE status = 'running';

CREATE TABLE etl_info_schema.rejects (
  load_id uuid   NOT NULL REFERENCES etl_info_schema.loads (load_id) ON DELETE CASCADE,
  line    bigint NOT NULL,
  raw     text   NOT NULL,
  reason  text   NOT NULL,
  PRIMARY KEY (load_id, line)
);
`,
  },
  {
    version: 3,
    name: 'source size and SHA-256 with every load; skipped loads (--if-changed)',
    sql: `
ALTER TABLE etl_info_schema.loads
  ADD COLUMN source_bytes  bigint,
  ADD COLUMN source_sha256 text;
ALTER TABLE etl_info_schema.loads DROP CONSTRAINT loads_status_check;
ALTER TABLE etl_info_schema.loads
  ADD CONSTRAINT loads_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'aborted', 'skipped'));
`,
  },
  {
    version: 5,
    name: 'rejects name their file (many files as one load)',
    sql: `
ALTER TABLE etl_info_schema.rejects ADD COLUMN file text NOT NULL DEFAULT '';
ALTER TABLE etl_info_schema.rejects DROP CONSTRAINT rejects_pkey;
ALTER TABLE etl_info_schema.rejects ADD PRIMARY KEY (load_id, file, line);
`,
  },
  {
    version: 6,
    name: 'cursors of incremental syncs from a postgres source',
    sql: `
-- Where each incremental sync (a config entry with a postgres source) has read up to: for each of
-- its targets, the cursor tuple of the last row read, as the source's text. Written in the same
-- transaction as the merge, so a crash neither loses nor repeats changes.
CREATE TABLE etl_info_schema.cursors (
  sync_name  text PRIMARY KEY,
  columns    text[] NOT NULL,
  positions  jsonb NOT NULL,
  read_until text,
  load_ids   uuid[] NOT NULL,
  saved_at   timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 7,
    name: 'API keys and imports of etl serve',
    sql: `
-- Bearer keys of etl serve. Only a SHA-256 of the secret is kept; the key id (in clear in the token)
-- finds the row, and the hashes are compared in constant time.
CREATE TABLE etl_info_schema.api_keys (
  key_id      uuid PRIMARY KEY,
  name        text NOT NULL,
  secret_hash bytea NOT NULL,
  syncs       text[] NOT NULL,
  scope       text NOT NULL CHECK (scope IN ('read', 'write')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE UNIQUE INDEX api_keys_active_name ON etl_info_schema.api_keys (name) WHERE revoked_at IS NULL;

-- One row per import of etl serve: what the API answers about it. The job queue (pg-boss) only
-- carries the import id; this row is the truth that decides whether a job still has work to do.
CREATE TABLE etl_info_schema.imports (
  import_id        uuid PRIMARY KEY,
  sync_name        text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('url', 'upload')),
  source           text NOT NULL,
  url              text,
  options          jsonb NOT NULL DEFAULT '{}',
  status           text NOT NULL CHECK (status IN ('queued', 'staging', 'merging', 'succeeded', 'failed', 'canceled')),
  load_id          uuid,
  idempotency_key  text,
  request_hash     text,
  key_name         text,
  bytes_read       bigint NOT NULL DEFAULT 0,
  bytes_total      bigint,
  rows_read        bigint NOT NULL DEFAULT 0,
  rows_staged      bigint,
  counts           jsonb,
  error            text,
  error_code       text,
  attempts         integer NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX imports_idempotency ON etl_info_schema.imports (sync_name, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX imports_recent ON etl_info_schema.imports (created_at DESC, import_id DESC);
CREATE INDEX imports_pending_loads ON etl_info_schema.imports (load_id) WHERE status IN ('queued', 'merging');
`,
  },
];
