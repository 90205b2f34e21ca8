import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/observe/redact.js';

describe('redactSecrets', () => {
  it('hides the password of a URL of any scheme, keeping a postgres role name', () => {
    expect(redactSecrets('connect postgres://bob:s3cr%40t@db:5432/app failed')).toBe(
      'connect postgres://bob:***@db:5432/app failed',
    );
    expect(redactSecrets('postgresql://bob@db/app')).toBe('postgresql://bob@db/app');
    expect(redactSecrets('GET https://ann:pw1@example.com/x.csv answered 500')).toBe(
      'GET https://ann:***@example.com/x.csv answered 500',
    );
    expect(redactSecrets('s3://AKIAXX:wJalr@bucket/key.csv and ftp://u:p4ss@h/f')).toBe(
      's3://AKIAXX:***@bucket/key.csv and ftp://u:***@h/f',
    );
  });

  it('hides a lone user name outside postgres URLs (often a token)', () => {
    expect(redactSecrets('from https://ghp_abc123@github.example/raw.csv')).toBe(
      'from https://***@github.example/raw.csv',
    );
  });

  it('hides secret-looking query and fragment values, keeping the others as written', () => {
    expect(redactSecrets('https://h/x.csv?token=abc&day=2024-01-01 and more')).toBe(
      'https://h/x.csv?token=***&day=2024-01-01 and more',
    );
    expect(redactSecrets('"https://acct.blob/c/x.csv?sv=2022&sig=abc%3D"')).toBe(
      '"https://acct.blob/c/x.csv?sv=2022&sig=***"',
    );
    expect(redactSecrets('https://h/cb#access_token=zz&state=1')).toBe('https://h/cb#access_token=***&state=1');
    expect(redactSecrets('postgres://h/db?sslpassword=k3y&sslmode=require')).toBe(
      'postgres://h/db?sslpassword=***&sslmode=require',
    );
  });

  it('finds every URL in a text, in JSON too, and the extra secrets given', () => {
    const text = JSON.stringify({ a: 'x https://u:p1@a/b?key=k1 y', b: 'redis://:p2@c:6379/0', c: 'plain p3x' });
    const out = redactSecrets(text, ['p3x']);
    for (const secret of ['p1', 'k1', 'p2', 'p3x']) expect(out).not.toContain(secret);
    expect(JSON.parse(out)).toEqual({ a: 'x https://u:***@a/b?key=*** y', b: 'redis://:***@c:6379/0', c: 'plain ***' });
  });

  it('leaves text without URLs alone', () => {
    expect(redactSecrets('read 3 rows from tables/followers.csv: token=abc is not a URL')).toBe(
      'read 3 rows from tables/followers.csv: token=abc is not a URL',
    );
  });
});
