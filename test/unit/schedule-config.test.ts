import { describe, expect, it } from 'vitest';
import { SYNC_SETTINGS } from '../../src/config/settings.js';
import { ConfigError } from '../../src/errors.js';
import { resolveDaemonConfig, resolveLogFormat } from '../../src/schedule/config.js';
import { DAEMON_SETTINGS, type DaemonFlags } from '../../src/schedule/settings.js';

const DB = { DATABASE_URL: 'postgres://etl:s3cret@db.example:5432/etl' };

function resolve(
  env: Record<string, string> = {},
  daemonFlags: DaemonFlags = {},
  syncFlags: Record<string, string> = {},
) {
  return resolveDaemonConfig(syncFlags, daemonFlags, { ...DB, ...env });
}

function rejects(env: Record<string, string>, daemonFlags: DaemonFlags = {}): string {
  try {
    resolve(env, daemonFlags);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('daemon settings', () => {
  it('has documented defaults: a sync every 24h from start, run once at start, retries and a breaker', () => {
    const config = resolve();
    expect(config.schedule).toMatchObject({
      kind: 'interval',
      everyMs: 86_400_000,
      timezone: 'UTC',
      text: '@every 24h',
    });
    expect(config).toMatchObject({
      runOnStart: true,
      retries: 3,
      retryDelayMs: 5000,
      breakerThreshold: 5,
      breakerCooldownMs: 1_800_000,
      shutdownTimeoutMs: 30_000,
      logFormat: 'text',
      notify: undefined,
      health: undefined,
    });
    expect(config.sync.file).toBe('tables/followers.csv');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('does not wait for a table lock held by another run unless LOCK_TIMEOUT is set', () => {
    expect(resolve().sync.lockTimeoutMs).toBe(0);
    expect(resolve({ LOCK_TIMEOUT: '10s' }).sync.lockTimeoutMs).toBe(10_000);
    expect(resolve({}, {}, { lockTimeout: '2s' }).sync.lockTimeoutMs).toBe(2000);
  });

  it('reads every setting from the environment', () => {
    const config = resolve({
      CRON_SCHEDULE: '30 3 * * *',
      CRON_TZ: 'Europe/Berlin',
      RUN_ON_START: 'false',
      SYNC_RETRIES: '7',
      SYNC_RETRY_DELAY: '250ms',
      BREAKER_THRESHOLD: '0',
      BREAKER_COOLDOWN: '1h',
      NOTIFY_URL: 'https://hooks.example/T0/abc',
      NOTIFY_TIMEOUT: '2s',
      SHUTDOWN_TIMEOUT: '1m',
      HEALTH_PORT: '8080',
      HEALTH_HOST: '127.0.0.1',
      LOG_FORMAT: 'JSON',
      CSV_FILE: '/data/followers.csv',
    });
    expect(config.schedule).toMatchObject({ kind: 'cron', expressions: ['30 3 * * *'], timezone: 'Europe/Berlin' });
    expect(config).toMatchObject({
      runOnStart: false,
      retries: 7,
      retryDelayMs: 250,
      breakerThreshold: 0,
      breakerCooldownMs: 3_600_000,
      notify: { url: 'https://hooks.example/T0/abc', timeoutMs: 2000 },
      shutdownTimeoutMs: 60_000,
      health: { host: '127.0.0.1', port: 8080 },
      logFormat: 'json',
    });
    expect(config.sync.file).toBe('/data/followers.csv');
  });

  it('lets flags override the environment', () => {
    const config = resolve(
      { CRON_SCHEDULE: '@daily', SYNC_RETRIES: '7', RUN_ON_START: 'false', HEALTH_PORT: '8080', LOG_FORMAT: 'json' },
      { cron: '@every 1s', retries: '0', runOnStart: true, healthPort: '0', logFormat: 'text' },
    );
    expect(config.schedule).toMatchObject({ kind: 'interval', everyMs: 1000 });
    expect(config).toMatchObject({ retries: 0, runOnStart: true, health: { port: 0 }, logFormat: 'text' });
  });

  it('ignores empty environment variables, as the sync settings do', () => {
    expect(resolve({ CRON_SCHEDULE: '', SYNC_RETRIES: '' })).toMatchObject({
      retries: 3,
      schedule: { text: '@every 24h' },
    });
  });

  it.each([
    [
      { CRON_SCHEDULE: '@every soon' },
      /^CRON_SCHEDULE="@every soon" is not a valid schedule: .*valid forms: "@every 90s"/,
    ],
    [{ CRON_TZ: 'Atlantis/Capital' }, /^CRON_TZ="Atlantis\/Capital" is not a time zone/],
    [{ RUN_ON_START: 'sometimes' }, /^RUN_ON_START="sometimes" is not a boolean; use true or false/],
    [{ SYNC_RETRIES: '-1' }, /^SYNC_RETRIES="-1" is out of range; use a whole number from 0 to 100/],
    [{ SYNC_RETRIES: 'three' }, /^SYNC_RETRIES="three" is not a whole number; use one from 0 to 100/],
    [{ SYNC_RETRY_DELAY: 'soon' }, /^SYNC_RETRY_DELAY="soon" is not a duration; write e.g. 500ms, 30s, 5m, 1h30m/],
    [{ BREAKER_THRESHOLD: '2.5' }, /^BREAKER_THRESHOLD="2.5" is not a whole number/],
    [{ BREAKER_COOLDOWN: '0' }, /^BREAKER_COOLDOWN="0" is not a positive duration/],
    [
      { NOTIFY_URL: 'https://x.example/hook', NOTIFY_TIMEOUT: 'fast' },
      /^NOTIFY_TIMEOUT="fast" is not a positive duration/,
    ],
    [{ SHUTDOWN_TIMEOUT: 'later' }, /^SHUTDOWN_TIMEOUT="later" is not a duration/],
    [{ HEALTH_PORT: '70000' }, /^HEALTH_PORT="70000" is out of range; use a whole number from 0 to 65535/],
    [{ HEALTH_PORT: '8080', HEALTH_HOST: ' ' }, /^HEALTH_HOST \(--health-host\) is empty/],
    [{ LOG_FORMAT: 'xml' }, /^LOG_FORMAT="xml" is not a log format; use text or json/],
    [{ CSV_FILE: '-' }, /CSV_FILE \(--file\) is "-" \(standard input\), which the daemon cannot read again/],
    [{ BATCH_SIZE: 'lots' }, /^BATCH_SIZE="lots" is not a whole number/],
  ])('rejects %j with a message naming the setting and the valid forms', (env, message) => {
    expect(rejects(env)).toMatch(message);
  });

  it('names the flag when the bad value came from a flag', () => {
    expect(rejects({}, { cron: '* * *' })).toMatch(/^--cron="\* \* \*" is not a valid schedule: it has 3 field\(s\)/);
    expect(rejects({}, { retryDelay: 'x' })).toMatch(/^--retry-delay="x"/);
    expect(rejects({}, { runOnStart: 'maybe' })).toMatch(/^--run-on-start="maybe"/);
  });

  it('never echoes a notify URL, which usually carries a token', () => {
    expect(rejects({ NOTIFY_URL: 'not a url token=abc123' })).not.toContain('abc123');
    const message = rejects({ NOTIFY_URL: 'ftp://user:abc123@files.example/hook' });
    expect(message).toMatch(/^NOTIFY_URL must be a URL that starts with http:\/\/ or https:\/\//);
    expect(message).not.toContain('abc123');
  });

  it('resolves the log format on its own, so a bad setting elsewhere is still logged in the chosen format', () => {
    expect(resolveLogFormat({}, { LOG_FORMAT: 'json', SYNC_RETRIES: 'bad' })).toBe('json');
    expect(resolveLogFormat({ logFormat: 'text' }, { LOG_FORMAT: 'json' })).toBe('text');
    expect(resolveLogFormat({}, {})).toBe('text');
  });

  it('uses environment variable names of its own, distinct from the sync settings', () => {
    const daemonEnv = DAEMON_SETTINGS.map((s) => s.env);
    const syncEnv = SYNC_SETTINGS.flatMap((s) => ('env' in s ? [s.env] : []));
    expect(new Set(daemonEnv).size).toBe(daemonEnv.length);
    expect(daemonEnv.filter((e) => syncEnv.includes(e as never))).toEqual([]);
  });
});
