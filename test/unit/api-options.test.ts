import { describe, expect, it } from 'vitest';
import { importOptions, SyncCatalog } from '../../src/api/catalog.js';
import { resolveServeSettings } from '../../src/api/config.js';
import { parseSize } from '../../src/api/settings.js';
import { bulkStatus } from '../../src/api/views.js';
import { keyAllows, type ApiKey } from '../../src/store/api-keys.js';
import { patchImportQuery } from '../../src/store/imports.js';

const env = { DATABASE_URL: 'postgres://u@h/db' };
const catalog = new SyncCatalog([], { maxErrors: '5', maxDelete: '20' }, env);
const followers = catalog.base('followers')!;

describe('import options', () => {
  it('accepts options no looser than the sync', () => {
    expect(
      importOptions(
        { mode: 'upsert', dry_run: 'true', max_errors: '3', max_delete: '10.5', allow_empty: 'false' },
        followers,
      ),
    ).toEqual({
      mode: 'upsert',
      dryRun: true,
      maxErrors: 3,
      maxDelete: 10.5,
      allowEmpty: false,
    });
    expect(importOptions({ unrelated: 'x' }, followers)).toEqual({});
  });

  it('refuses looser or malformed ones, naming the field', () => {
    expect(() => importOptions({ mode: 'append' }, followers)).toThrow(/^mode: this sync is configured as mirror/u);
    expect(() => importOptions({ mode: 'sideways' }, followers)).toThrow(/^mode: must be mirror, upsert or append/u);
    expect(() => importOptions({ max_errors: '6' }, followers)).toThrow(/^max_errors: .*0 to 5/u);
    expect(() => importOptions({ max_errors: '-1' }, followers)).toThrow(/^max_errors: /u);
    expect(() => importOptions({ max_delete: '21' }, followers)).toThrow(/^max_delete: .*0 to 20/u);
    expect(() => importOptions({ allow_empty: 'true' }, followers)).toThrow(/^allow_empty: this sync does not allow/u);
    expect(() => importOptions({ dry_run: 'maybe' }, followers)).toThrow(/^dry_run: must be true or false/u);
    expect(() => importOptions({ dry_run: ['true', 'false'] }, followers)).toThrow(/^dry_run: must be given once/u);
  });

  it('narrows the sync config for one import, never writing rejects to a server file', () => {
    const config = catalog.forImport('followers', { mode: 'upsert', maxErrors: 2, format: 'ndjson' }, 'https://x/y');
    expect(config).toMatchObject({ file: 'https://x/y', format: 'ndjson', maxErrors: 2, maxDeletePercent: 20 });
    expect(config.target.mode).toBe('upsert');
    expect(config.rejectsFile).toBeUndefined();
    expect(followers.target.mode).toBe('mirror');
  });
});

describe('serve settings', () => {
  it('reads sizes and durations as people write them', () => {
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('500MB')).toBe(500_000_000);
    expect(parseSize('2 kb')).toBe(2000);
    expect(parseSize('65536')).toBe(65536);
    expect(parseSize('lots')).toBeUndefined();
    const s = resolveServeSettings(
      { jobTimeout: '90s', maxBody: '10MB' },
      { API_PORT: '9000' },
      { insecureNoAuth: false },
    );
    expect(s).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      jobTimeoutSeconds: 90,
      maxBodyBytes: 10_000_000,
      jobAttempts: 3,
    });
  });

  it('binds 127.0.0.1 without authentication whatever the host setting says', () => {
    expect(resolveServeSettings({ host: '0.0.0.0' }, {}, { insecureNoAuth: true }).host).toBe('127.0.0.1');
  });

  it('names the setting that is wrong', () => {
    expect(() => resolveServeSettings({ port: '70000' }, {}, { insecureNoAuth: false })).toThrow(
      /^--port="70000" is out of range/u,
    );
    expect(() => resolveServeSettings({}, { JOB_TIMEOUT: '1500ms' }, { insecureNoAuth: false })).toThrow(
      /^JOB_TIMEOUT=.*whole seconds/u,
    );
    expect(() => resolveServeSettings({}, { API_MAX_BODY: 'big' }, { insecureNoAuth: false })).toThrow(
      /^API_MAX_BODY=.*not a size/u,
    );
  });
});

describe('keys, statuses and SQL', () => {
  const key = (scope: 'read' | 'write', syncs: string[]): ApiKey => ({
    keyId: 'k',
    name: 'n',
    syncs,
    scope,
    createdAt: new Date(0),
    revokedAt: null,
  });

  it('scopes a key to its syncs and access', () => {
    expect(keyAllows(key('read', ['a']), 'a', 'read')).toBe(true);
    expect(keyAllows(key('read', ['a']), 'a', 'write')).toBe(false);
    expect(keyAllows(key('write', ['a']), 'a', 'read')).toBe(true);
    expect(keyAllows(key('write', ['a']), 'b', 'write')).toBe(false);
    expect(keyAllows(key('write', ['*']), 'b', 'write')).toBe(true);
  });

  it('maps statuses onto the original bulk API', () => {
    expect(
      ['queued', 'staging', 'merging', 'succeeded', 'failed', 'canceled'].map((s) => bulkStatus(s as never)),
    ).toEqual(['queued', 'processing', 'processing', 'complete', 'error', 'error']);
  });

  it('updates only fixed columns, with values as parameters, and only from the given statuses', () => {
    const q = patchImportQuery(
      'id-1',
      { status: 'failed', error: "x'; DROP TABLE y; --", attemptsIncrement: true, finished: true },
      ['queued'],
    );
    expect(q.text).toMatch(
      /^UPDATE etl_info_schema\.imports SET updated_at = clock_timestamp\(\), status = \$2, error = \$3, attempts = attempts \+ 1, finished_at = clock_timestamp\(\) WHERE import_id = \$1 AND status = ANY\(\$4::text\[\]\)/u,
    );
    expect(q.values).toEqual(['id-1', 'failed', "x'; DROP TABLE y; --", ['queued']]);
  });
});
