/** `etl daemon NAME... / --all`: which syncs of the config file are scheduled, on which schedule, and the errors. */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/file.js';
import { ConfigError } from '../../src/errors.js';
import { resolveNamedDaemonConfig, type SyncSelection } from '../../src/schedule/named-config.js';
import type { DaemonFlags } from '../../src/schedule/settings.js';

const DB = { DATABASE_URL: 'postgres://etl:s3cret@db.example:5432/etl' };

const entry = (name: string, extra: object = {}) => ({
  name,
  source: `${name}.csv`,
  target: { table: name },
  key: 'code',
  columns: [{ name: 'code', type: 'text' }],
  ...extra,
});

const loaded = (...syncs: object[]) => ({
  file: 'etl.config.json',
  syncs: parseConfigText('etl.config.json', JSON.stringify({ syncs }), '/data'),
});

function resolve(
  file: ReturnType<typeof loaded>,
  selection: SyncSelection,
  env: Record<string, string> = {},
  daemonFlags: DaemonFlags = {},
  syncFlags: Record<string, string> = {},
) {
  return resolveNamedDaemonConfig(file, selection, syncFlags, daemonFlags, { ...DB, ...env });
}

function rejects(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('daemon syncs from the config file', () => {
  const file = loaded(
    entry('products', { cron: '@every 1s' }),
    entry('orders', { cron: 'CRON_TZ=Europe/Berlin 30 3 * * *' }),
    entry('prices'),
  );

  it('schedules each named sync by its own cron field, in the order named, with the shared daemon settings', () => {
    const config = resolve(file, { names: ['orders', 'products'] }, { SYNC_RETRIES: '7' });
    expect(config.syncs.map((s) => [s.name, s.sync.target.name, s.sync.file])).toEqual([
      ['orders', 'orders', '/data/orders.csv'],
      ['products', 'products', '/data/products.csv'],
    ]);
    expect(config.syncs[0].schedule).toMatchObject({
      kind: 'cron',
      expressions: ['30 3 * * *'],
      timezone: 'Europe/Berlin',
    });
    expect(config.syncs[1].schedule).toMatchObject({ kind: 'interval', everyMs: 1000 });
    expect(config).toMatchObject({ retries: 7, runOnStart: true, breakerThreshold: 5 });
    expect(Object.isFrozen(config) && Object.isFrozen(config.syncs)).toBe(true);
  });

  it('falls back to --cron / CRON_SCHEDULE (and CRON_TZ) for an entry without a cron field', () => {
    expect(resolve(file, { names: ['prices'] }).syncs[0].schedule).toMatchObject({
      kind: 'interval',
      everyMs: 86_400_000,
      text: '@every 24h',
    });
    const fromEnv = resolve(file, { names: ['prices'] }, { CRON_SCHEDULE: '@daily', CRON_TZ: 'America/New_York' })
      .syncs[0].schedule;
    expect(fromEnv).toMatchObject({ kind: 'cron', expressions: ['0 0 * * *'], timezone: 'America/New_York' });
    expect(resolve(file, { names: ['prices'] }, {}, { cron: '@every 5m' }).syncs[0].schedule).toMatchObject({
      everyMs: 300_000,
    });
  });

  it('reads an entry cron in CRON_TZ unless the entry names its own zone', () => {
    const config = resolve(file, { all: true }, { CRON_TZ: 'Asia/Tokyo' });
    expect(config.syncs.map((s) => s.schedule.timezone)).toEqual(['Asia/Tokyo', 'Europe/Berlin', 'Asia/Tokyo']);
  });

  it('schedules every sync in file order with --all', () => {
    expect(resolve(file, { all: true }).syncs.map((s) => s.name)).toEqual(['products', 'orders', 'prices']);
  });

  it('does not wait for a busy table lock unless LOCK_TIMEOUT is set, as the single-sync daemon', () => {
    expect(resolve(file, { all: true }).syncs.every((s) => s.sync.lockTimeoutMs === 0)).toBe(true);
    expect(resolve(file, { all: true }, { LOCK_TIMEOUT: '3s' }).syncs[0].sync.lockTimeoutMs).toBe(3000);
  });

  it('names the entry and field of an invalid cron', () => {
    const bad = loaded(entry('products'), entry('orders', { cron: 'every day' }));
    expect(rejects(() => resolve(bad, { all: true }))).toMatch(
      /^etl\.config\.json: syncs\[1\]\.cron="every day" is not a valid schedule: it has 2 field\(s\).*valid forms: "@every 90s"/,
    );
    const badZone = loaded(entry('products', { cron: 'CRON_TZ=Moon/Base @daily' }));
    expect(rejects(() => resolve(badZone, { all: true }))).toMatch(
      /^the CRON_TZ= prefix of etl\.config\.json: syncs\[0\]\.cron="Moon\/Base" is not a time zone/,
    );
  });

  it('checks only the crons of the syncs it schedules', () => {
    const bad = loaded(entry('products'), entry('orders', { cron: 'every day' }));
    expect(resolve(bad, { names: ['products'] }).syncs).toHaveLength(1);
  });

  it('rejects an unknown or repeated name, and no name at all', () => {
    expect(rejects(() => resolve(file, { names: ['products', 'nope'] }))).toBe(
      'etl.config.json has no sync named "nope" (it has: products, orders, prices)',
    );
    expect(rejects(() => resolve(file, { names: ['orders', 'orders'] }))).toBe(
      'sync "orders" is named twice; name each sync once',
    );
    expect(rejects(() => resolve(file, { names: [] }))).toMatch(/^name at least one sync/);
  });

  it('rejects standard input as a source, naming where it came from', () => {
    expect(rejects(() => resolve(loaded(entry('products', { source: '-' })), { all: true }))).toMatch(
      /^etl\.config\.json: syncs\[0\]\.source is "-" \(standard input\)/,
    );
    expect(rejects(() => resolve(file, { all: true }, {}, {}, { file: '-' }))).toMatch(
      /^CSV_FILE \(--file\) is "-" \(standard input\)/,
    );
  });

  it('validates the daemon settings once, as for the single sync', () => {
    expect(rejects(() => resolve(file, { all: true }, { SYNC_RETRIES: 'many' }))).toMatch(
      /^SYNC_RETRIES="many" is not a whole number/,
    );
    expect(rejects(() => resolve(file, { all: true }, { CRON_SCHEDULE: '@every never' }))).toMatch(
      /^CRON_SCHEDULE="@every never" is not a valid schedule/,
    );
  });

  it('ignores a "-" CSV_FILE in the environment, which every entry overrides with its own source', () => {
    expect(resolve(file, { all: true }, { CSV_FILE: '-' }).syncs[0].sync.file).toBe('/data/products.csv');
  });
});
