import type pg from 'pg';
import type { ConnectionLimits, DatabaseSetting } from '../config/types.js';
import { startEmbedded } from './embedded.js';

export interface Database {
  /** Plain, cloneable connection settings (workers receive a copy). */
  connection: pg.ClientConfig;
  /** Where we are connected, without secrets, for messages. */
  description: string;
  close(): Promise<void>;
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? ':' + u.port : ''}${u.pathname}`;
  } catch {
    return 'the configured database';
  }
}

/** Resolves the configured database, starting the embedded server when none is configured. */
export async function openDatabase(setting: DatabaseSetting, log: (message: string) => void): Promise<Database> {
  switch (setting.kind) {
    case 'url':
      return {
        connection: { connectionString: setting.url },
        description: describeUrl(setting.url),
        close: async () => undefined,
      };
    case 'pg-env': {
      const { host, port, user, password, database } = setting;
      return {
        connection: { host, port, user, password, database },
        description: `${host ?? 'localhost'}:${port ?? 5432}/${database ?? user ?? ''}`,
        close: async () => undefined,
      };
    }
    case 'embedded': {
      log('no database configured (DATABASE_URL or PG* variables): using the embedded PostgreSQL');
      const server = await startEmbedded(setting.dir, log);
      return {
        connection: { connectionString: server.url },
        description: `embedded PostgreSQL in ${setting.dir}`,
        close: () => server.stop(),
      };
    }
  }
}

/** How long after the server should have cancelled a statement the client stops waiting for its answer. */
const ANSWER_GRACE_MS = 30_000;
/** TCP keepalive probes start after this much silence, so a peer that vanished is noticed. */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * Connection settings for bulk work: TCP keepalive, a connect timeout, the server's statement and
 * idle-in-transaction timeouts, and a client-side limit on waiting for an answer (a stalled network
 * never delivers the server's cancellation). Plain data, so workers can receive it.
 */
export function withLimits(base: pg.ClientConfig, limits: ConnectionLimits): pg.ClientConfig {
  return {
    ...base,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    ...(limits.statementTimeoutMs > 0
      ? { statement_timeout: limits.statementTimeoutMs, query_timeout: limits.statementTimeoutMs + ANSWER_GRACE_MS }
      : {}),
    ...(limits.idleInTransactionTimeoutMs > 0
      ? { idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs }
      : {}),
  };
}
