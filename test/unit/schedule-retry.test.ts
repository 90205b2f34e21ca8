import { describe, expect, it } from 'vitest';
import { ConfigError, LockBusyError, SyncFailedError } from '../../src/errors.js';
import { backoffDelay, MAX_BACKOFF_MS, retryReason, withRetries } from '../../src/schedule/retry.js';
import { causeChain, isTransient, transientReason } from '../../src/schedule/transient.js';

const pgError = (code: string, message = `pg error ${code}`) => Object.assign(new Error(message), { code });
const failedWith = (cause: unknown) =>
  new SyncFailedError('sync of followers failed and was rolled back (load x)', 'x', { cause });

describe('transient failures', () => {
  it.each([
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['55P03', 'lock_not_available'],
    ['57P01', 'admin_shutdown'],
    ['57P02', 'crash_shutdown'],
    ['57P03', 'cannot_connect_now'],
    ['08006', 'connection exception'],
    ['08001', 'connection exception'],
    ['08P01', 'connection exception'],
  ])('SQLSTATE %s (%s) is transient, also deep in a cause chain', (code, name) => {
    expect(transientReason(pgError(code))).toBe(`SQLSTATE ${code} ${name}`);
    const wrapped = failedWith(new Error('in: MERGE ...', { cause: pgError(code) }));
    expect(transientReason(wrapped)).toBe(`SQLSTATE ${code} ${name}`);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])('the socket error %s is transient', (code) => {
    expect(transientReason(Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code }))).toBe(code);
  });

  it('looks inside AggregateError (a connect that tried IPv6 and IPv4)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(isTransient(new AggregateError([refused, refused]))).toBe(true);
  });

  it("treats node-postgres' lost-connection errors, which carry no code, as transient", () => {
    expect(transientReason(new Error('Connection terminated unexpectedly'))).toBe('connection lost');
    expect(isTransient(failedWith(new Error('Client has encountered a connection error and is not queryable')))).toBe(
      true,
    );
  });

  it.each([
    ['a bad setting or file (ConfigError)', new ConfigError('CSV_FILE (--file): cannot read tables/x.csv (ENOENT)')],
    ['too many bad rows', failedWith(new Error('x.csv has more than 0 bad row(s) (--max-errors 0)'))],
    [
      'the empty-file guard',
      failedWith(
        Object.assign(new Error('x.csv has no data rows; refusing to empty public.followers'), {
          name: 'EmptyLoadError',
        }),
      ),
    ],
    ['a unique violation', failedWith(pgError('23505'))],
    ['a syntax error', failedWith(pgError('42601'))],
    ['a query cancelled by statement_timeout', failedWith(pgError('57014'))],
    ['another run holding the table', new LockBusyError('another etl run is syncing followers')],
    ['a thrown string', 'boom'],
  ])('%s is permanent', (_what, error) => {
    expect(isTransient(error)).toBe(false);
  });

  it('is permanent when a ConfigError is anywhere in the chain, even next to a socket error', () => {
    expect(isTransient(new ConfigError('bad file', { cause: pgError('ECONNRESET') }))).toBe(false);
  });

  it('walks cycles in cause chains without looping', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(causeChain(a)).toEqual([a, b]);
    expect(isTransient(a)).toBe(false);
  });
});

describe('backoff', () => {
  it('doubles from the base delay, jittered between half and all of it', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(2, 1000, () => 0.5)).toBe(1500);
  });

  it('is capped, unless the base delay itself is longer', () => {
    expect(backoffDelay(30, 1000, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(backoffDelay(5, 10 * 60_000, () => 1)).toBe(10 * 60_000);
  });
});

describe('withRetries', () => {
  function hooks(overrides: Partial<Parameters<typeof withRetries>[2]> = {}) {
    const waits: number[] = [];
    const retries: { reason: string; n: number }[] = [];
    return {
      waits,
      retries,
      hooks: {
        sleep: async (ms: number) => void waits.push(ms),
        mayRetry: () => true,
        onRetry: (_e: unknown, reason: string, n: number) => void retries.push({ reason, n }),
        random: () => 1,
        ...overrides,
      },
    };
  }

  it('retries transient failures with growing backoff until an attempt succeeds', async () => {
    const h = hooks();
    const attempts: number[] = [];
    const result = await withRetries(
      async (n) => {
        attempts.push(n);
        if (n < 3) throw failedWith(pgError('40P01'));
        return 'synced';
      },
      { retries: 3, baseDelayMs: 100 },
      h.hooks,
    );
    expect(result).toBe('synced');
    expect(attempts).toEqual([1, 2, 3]);
    expect(h.waits).toEqual([100, 200]);
    expect(h.retries).toEqual([
      { reason: 'SQLSTATE 40P01 deadlock_detected', n: 1 },
      { reason: 'SQLSTATE 40P01 deadlock_detected', n: 2 },
    ]);
  });

  it('gives up after --retries extra attempts with the last error', async () => {
    const h = hooks();
    let calls = 0;
    const last = pgError('ECONNREFUSED');
    const error = await withRetries(
      async () => {
        calls += 1;
        throw calls === 3 ? last : pgError('ECONNREFUSED');
      },
      { retries: 2, baseDelayMs: 10 },
      h.hooks,
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(error).toBe(last);
  });

  it('does not retry a permanent failure', async () => {
    const h = hooks();
    let calls = 0;
    const permanent = failedWith(new Error('has no data rows; refusing to empty public.followers'));
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw permanent;
        },
        { retries: 5, baseDelayMs: 10 },
        h.hooks,
      ),
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
    expect(h.waits).toEqual([]);
  });

  it('stops retrying when told to (shutdown), and when the backoff wait is cancelled', async () => {
    let calls = 0;
    const transient = () => {
      calls += 1;
      return Promise.reject(pgError('57P01'));
    };
    await expect(
      withRetries(transient, { retries: 5, baseDelayMs: 10 }, hooks({ mayRetry: () => false }).hooks),
    ).rejects.toMatchObject({ code: '57P01' });
    expect(calls).toBe(1);
    calls = 0;
    const cancelled = hooks({ sleep: () => Promise.reject(new Error('aborted')) });
    await expect(withRetries(transient, { retries: 5, baseDelayMs: 10 }, cancelled.hooks)).rejects.toMatchObject({
      code: '57P01',
    });
    expect(calls).toBe(1);
  });

  it('retries a busy table lock only after a transient failure (the lost session may still hold it)', async () => {
    const busy = new LockBusyError('another etl run is syncing followers');
    expect(retryReason(busy, 1)).toBeUndefined();
    expect(retryReason(busy, 2)).toMatch(/previous attempt's lost session/);
    const h = hooks();
    const errors = [pgError('ECONNRESET'), busy];
    const result = await withRetries(
      async (n) => {
        if (n <= errors.length) throw errors[n - 1];
        return 'synced';
      },
      { retries: 3, baseDelayMs: 10 },
      h.hooks,
    );
    expect(result).toBe('synced');
    expect(h.retries.map((r) => r.reason)).toEqual([
      'ECONNRESET',
      "table lock still held, likely by the previous attempt's lost session",
    ]);
    await expect(
      withRetries(
        async () => {
          throw busy;
        },
        { retries: 3, baseDelayMs: 10 },
        hooks().hooks,
      ),
    ).rejects.toBe(busy);
  });

  it('makes one attempt with --retries 0', async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw pgError('40001');
        },
        { retries: 0, baseDelayMs: 10 },
        hooks().hooks,
      ),
    ).rejects.toMatchObject({ code: '40001' });
    expect(calls).toBe(1);
  });
});
