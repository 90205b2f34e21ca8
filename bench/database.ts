/**
 * The PostgreSQL the benchmark runs on (the configured one, else the embedded server) and the
 * scratch databases it creates on it: one fresh database per timed run, dropped right after, so
 * every timing starts from the same state and nothing is left behind.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactSecrets } from '../src/observe/redact.js';
import { startEmbedded } from '../src/db/embedded.js';
import { quoteIdent } from '../src/db/quote.js';

export interface Server {
  /** Connection URL of the database given (or the embedded server's postgres database). */
  url: string;
  kind: 'url' | 'embedded';
  /** Where, without secrets. */
  description: string;
  version: string;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? ':' + u.port : ''}${decodeURIComponent(u.pathname)}`;
  } catch {
    return redactSecrets(url);
  }
}

/** Runs statements on a short-lived connection and returns the last result. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  ...statements: string[]
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url, application_name: 'etl bench' });
  await client.connect();
  try {
    let result: pg.QueryResult<R> | undefined;
    for (const text of statements) result = await client.query<R>(text);
    return result!;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function openServer(
  url: string | undefined,
  embeddedDir: string,
  log: (m: string) => void,
): Promise<Server> {
  let server: Omit<Server, 'version'>;
  if (url) {
    server = { url, kind: 'url', description: describeUrl(url), stop: async () => undefined };
  } else {
    log(`no --database-url or DATABASE_URL: using the embedded PostgreSQL in ${embeddedDir}`);
    const embedded = await startEmbedded(embeddedDir, log);
    server = {
      url: embedded.url,
      kind: 'embedded',
      description: `embedded PostgreSQL in ${embeddedDir}`,
      stop: () => embedded.stop(),
    };
  }
  try {
    const r = await query<{ v: string }>(server.url, `SELECT current_setting('server_version') AS v`);
    return { ...server, version: r.rows[0].v };
  } catch (error) {
    await server.stop();
    throw new Error(`cannot connect to ${server.description}: ${redactSecrets((error as Error).message)}`, {
      cause: error,
    });
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';
const INVALID_PARAMETER_VALUE = '22023';

/** Creates and drops the run's scratch databases; all share one prefix unique to this run. */
export class ScratchDatabases {
  readonly prefix = `etlbench_${randomBytes(3).toString('hex')}`;
  private counter = 0;
  private readonly live = new Set<string>();
  private checkpointAllowed = true;

  constructor(
    private readonly adminUrl: string,
    private readonly log: (m: string) => void,
  ) {}

  /** A fresh UTF-8 database from template0 (template1 may hold someone's objects). */
  async create(label: string): Promise<{ name: string; url: string }> {
    this.counter += 1;
    const name = `${this.prefix}_${this.counter}_${label}`.slice(0, 63);
    const create = `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`;
    try {
      await query(this.adminUrl, create);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === INSUFFICIENT_PRIVILEGE) {
        throw new Error(
          `the benchmark creates a fresh database per run and the configured user may not (${(error as Error).message}); grant it CREATEDB or use another user`,
          { cause: error },
        );
      }
      // The server's default locale does not fit UTF-8: the C locale fits every encoding.
      if (code !== INVALID_PARAMETER_VALUE) throw error;
      await query(this.adminUrl, `${create} LC_COLLATE 'C' LC_CTYPE 'C'`);
    }
    this.live.add(name);
    return { name, url: withDatabase(this.adminUrl, name) };
  }

  async drop(name: string): Promise<void> {
    await query(this.adminUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    this.live.delete(name);
  }

  async dropAll(): Promise<void> {
    for (const name of [...this.live])
      await this.drop(name).catch((error: Error) => this.log(`could not drop ${name}: ${error.message}`));
  }

  /**
   * Flushes dirty buffers before a timed run, so no run pays for the previous run's writes.
   * Needs superuser or pg_checkpoint; without it the benchmark warns once and goes on.
   */
  async checkpoint(): Promise<void> {
    if (!this.checkpointAllowed) return;
    try {
      await query(this.adminUrl, 'CHECKPOINT');
    } catch (error) {
      if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw error;
      this.checkpointAllowed = false;
      this.log('warning: CHECKPOINT is not allowed for this user (needs pg_checkpoint); timings may vary more');
    }
  }
}

/** The followers definition etl creates; the reference uses the same one. */
export const FOLLOWERS_DDL = `CREATE TABLE public.followers (
  email       varchar(255) PRIMARY KEY,
  full_name   varchar(255) NOT NULL,
  modified_at timestamptz  NOT NULL
)`;

/** The same checksum as contentChecksum() in csv-file.ts, computed by the database. */
export const CHECKSUM_SQL = `SELECT count(*)::bigint::text AS rows,
       coalesce(sum(('x' || left(md5(email || E'\\t' || full_name), 15))::bit(60)::bigint), 0)::text AS checksum
  FROM public.followers`;

export interface TableContent {
  rows: number;
  checksum: string;
}

export async function followersContent(url: string): Promise<TableContent> {
  const r = await query<{ rows: string; checksum: string }>(url, CHECKSUM_SQL);
  return { rows: Number(r.rows[0].rows), checksum: r.rows[0].checksum };
}

/** Row versions written to followers so far (from the statistics collector) and its size on disk. */
export interface TableWrites {
  inserted: number;
  updated: number;
  deleted: number;
  bytes: number;
}

export async function followersWrites(url: string): Promise<TableWrites> {
  // A backend's counters reach the shared statistics when it exits; give the one that just did a moment.
  await new Promise((resolve) => setTimeout(resolve, 700));
  const r = await query<{ ins: string; upd: string; del: string; bytes: string }>(
    url,
    `SELECT n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del,
            pg_total_relation_size('public.followers')::text AS bytes
       FROM pg_stat_user_tables WHERE relid = 'public.followers'::regclass`,
  );
  const row = r.rows[0];
  return { inserted: Number(row.ins), updated: Number(row.upd), deleted: Number(row.del), bytes: Number(row.bytes) };
}

/** What a day's wait gives a table before the next sync: autovacuum's visibility map and statistics. */
export async function settleFollowers(url: string): Promise<void> {
  await query(url, 'VACUUM (ANALYZE) public.followers');
}

/** libpq environment for psql (no secret on its command line); inherited PG* variables are dropped. */
export function libpqEnv(url: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('PG') && k !== 'DATABASE_URL') env[k] = v;
  const u = new URL(url);
  const host = u.searchParams.get('host') ?? decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/u, '$1');
  if (host) env.PGHOST = host;
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const database = decodeURIComponent(u.pathname.slice(1));
  if (database) env.PGDATABASE = database;
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  env.PGAPPNAME = 'etl bench reference';
  return env;
}
