import { describe, expect, it } from 'vitest';
import { ConfigError, resolveSyncConfig } from '../../src/index.js';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('resolveSyncConfig', () => {
  it('uses the defaults with no settings, and the embedded database', () => {
    const c = resolveSyncConfig({}, {});
    expect(c).toMatchObject({
      file: 'tables/followers.csv',
      batchSize: 20000,
      workers: 2,
      maxErrors: 0,
      lockTimeoutMs: 30000,
      allowEmpty: false,
      dryRun: false,
    });
    expect(c.database).toEqual({ kind: 'embedded', dir: '.etl' });
    expect(c.csv).toEqual({ delimiter: ',', quote: '"', header: true, encoding: 'utf-8' });
  });

  it('lets the environment override defaults and flags override the environment', () => {
    const env = { BATCH_SIZE: '500', CSV_FILE: 'env.csv', WORKER_POOL_SIZE: '4' };
    expect(resolveSyncConfig({}, env)).toMatchObject({ batchSize: 500, file: 'env.csv', workers: 4 });
    expect(resolveSyncConfig({ batchSize: '7' }, env)).toMatchObject({ batchSize: 7, file: 'env.csv' });
  });

  it('prefers DATABASE_URL, then PG* variables', () => {
    expect(resolveSyncConfig({}, { DATABASE_URL: 'postgres://a@h/db', PGHOST: 'x' }).database).toEqual({
      kind: 'url',
      url: 'postgres://a@h/db',
    });
    expect(resolveSyncConfig({}, { PGHOST: 'db', PGPORT: '6543', PGUSER: 'u' }).database).toEqual({
      kind: 'pg-env',
      host: 'db',
      port: 6543,
      user: 'u',
      password: undefined,
      database: undefined,
    });
  });

  it.each([
    [{}, { BATCH_SIZE: 'abc' }, /BATCH_SIZE="abc" is not a whole number/],
    [{ workers: '-1' }, {}, /--workers="-1" is out of range; use a whole number from 1 to 256/],
    [{}, { DB_MIN_CONNS: '5', DB_MAX_CONNS: '3' }, /DB_MIN_CONNS \(5\) is larger than DB_MAX_CONNS \(3\)/],
    [{ workers: '9' }, {}, /needs 12 connections.*DB_MAX_CONNS.*is 10/],
    [{ lockTimeout: 'soon' }, {}, /--lock-timeout="soon" is not a duration/],
    [{ maxDelete: '150' }, {}, /--max-delete="150" must be a percentage/],
    [{ encoding: 'klingon' }, {}, /not an encoding/],
    [{ delimiter: ';;' }, {}, /--delimiter=";;" must be a single ASCII character/],
    [{}, { ALLOW_EMPTY: 'maybe' }, /ALLOW_EMPTY="maybe" is not a boolean/],
    [
      {},
      { DATABASE_URL: 'mysql://u:pw@h/db' },
      /DATABASE_URL must be a URL that starts with postgres:\/\/ or postgresql:\/\//,
    ],
  ])('refuses %j %j naming the setting', (flags, env, message) => {
    expect(() => resolveSyncConfig(flags, env)).toThrow(ConfigError);
    expect(() => resolveSyncConfig(flags, env)).toThrow(message);
  });

  it('never echoes a password from a bad URL', () => {
    expect(() => resolveSyncConfig({}, { DATABASE_URL: 'mysql://u:hunter2@h/db' })).toThrow(/^(?!.*hunter2)/s);
  });

  it('takes the S3 endpoint from --s3-endpoint, then S3_ENDPOINT, then AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL', () => {
    const endpoint = (flags: Record<string, string>, env: Record<string, string>) =>
      resolveSyncConfig(flags, env).s3.endpoint;
    expect(endpoint({}, {})).toBeUndefined();
    expect(endpoint({}, { AWS_ENDPOINT_URL: 'http://minio:9000' })).toBe('http://minio:9000');
    expect(endpoint({}, { AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://s3:2' })).toBe('http://s3:2');
    expect(endpoint({}, { AWS_ENDPOINT_URL: 'http://a:1', S3_ENDPOINT: 'http://b:2' })).toBe('http://b:2');
    expect(endpoint({ s3Endpoint: 'https://c:3' }, { S3_ENDPOINT: 'http://b:2' })).toBe('https://c:3');
  });

  it('refuses an S3 endpoint that holds credentials, without echoing them', () => {
    expect(() => resolveSyncConfig({}, { AWS_ENDPOINT_URL: 'http://key:hunter2@minio:9000' })).toThrow(
      /^AWS_ENDPOINT_URL must not hold credentials; they come from the AWS default chain(?!.*hunter2)/su,
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30000],
    ['250ms', 250],
    ['1h30m', 5400000],
    ['2', 2000],
    ['0', 0],
    ['1d', 86400000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'soon', '10x', '5 m'])('refuses %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250.4, '250ms'],
    [1234, '1.23s'],
    [12_345, '12.3s'],
    [65_000, '1m05s'],
    [3_780_000, '1h03m'],
  ])('%d ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
