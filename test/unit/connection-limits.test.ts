import { describe, expect, it } from 'vitest';
import { withLimits } from '../../src/db/connect.js';
import { ConfigError, resolveSyncConfig } from '../../src/index.js';

describe('connection limits', () => {
  it('defaults to limits sized for bulk work, and reads flags and the environment', () => {
    expect(resolveSyncConfig({}, {}).limits).toEqual({
      connectTimeoutMs: 30_000,
      statementTimeoutMs: 3_600_000,
      idleInTransactionTimeoutMs: 600_000,
    });
    expect(
      resolveSyncConfig(
        { statementTimeout: '0' },
        { DB_CONNECT_TIMEOUT: '5s', DB_STATEMENT_TIMEOUT: '2h', DB_IDLE_IN_TRANSACTION_TIMEOUT: '1m30s' },
      ).limits,
    ).toEqual({ connectTimeoutMs: 5000, statementTimeoutMs: 0, idleInTransactionTimeoutMs: 90_000 });
  });

  it('refuses a value that is not a duration, or a connect timeout of 0, naming the setting', () => {
    expect(() => resolveSyncConfig({}, { DB_STATEMENT_TIMEOUT: 'soon' })).toThrow(
      new ConfigError(
        'DB_STATEMENT_TIMEOUT="soon" is not a duration up to 24 days; write e.g. 30s, 5m, 1h (0 = no limit)',
      ),
    );
    expect(() => resolveSyncConfig({ connectTimeout: '0' }, {})).toThrow(
      /^--db-connect-timeout="0" is not a positive duration up to 24 days/,
    );
  });

  it('turns them into keepalive, timeouts and a client-side answer limit', () => {
    const limits = { connectTimeoutMs: 5000, statementTimeoutMs: 60_000, idleInTransactionTimeoutMs: 0 };
    expect(withLimits({ connectionString: 'postgres://h/db' }, limits)).toEqual({
      connectionString: 'postgres://h/db',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5000,
      statement_timeout: 60_000,
      query_timeout: 90_000,
    });
  });
});
