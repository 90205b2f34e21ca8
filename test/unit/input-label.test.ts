import { describe, expect, it } from 'vitest';
import { isSecretKey, redactUrl } from '../../src/observe/redact.js';
import { sourceLabel } from '../../src/source/input.js';

describe('redactUrl', () => {
  it('drops the user and password', () => {
    expect(redactUrl('https://ann:s3cret@example.com/data.csv')).toBe('https://example.com/data.csv');
    expect(redactUrl('https://ghp_token123@example.com/data.csv')).toBe('https://example.com/data.csv');
    expect(redactUrl('http://:pw@example.com:8080/a/b.csv.gz')).toBe('http://example.com:8080/a/b.csv.gz');
  });

  it('hides the values of secret query keys and keeps the rest as written', () => {
    expect(redactUrl('https://h/x.csv?token=abc&day=2024-01-01&q=a%20b+c')).toBe(
      'https://h/x.csv?token=***&day=2024-01-01&q=a%20b+c',
    );
    expect(
      redactUrl(
        'https://bucket.s3.amazonaws.com/x.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2024&X-Amz-Date=20240101T000000Z&X-Amz-Expires=300&X-Amz-Security-Token=tok&X-Amz-Signature=beef',
      ),
    ).toBe(
      'https://bucket.s3.amazonaws.com/x.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=20240101T000000Z&X-Amz-Expires=300&X-Amz-Security-Token=***&X-Amz-Signature=***',
    );
    expect(redactUrl('https://acct.blob.core.windows.net/c/x.csv?sv=2022-11-02&sp=r&sig=abc%3D')).toBe(
      'https://acct.blob.core.windows.net/c/x.csv?sv=2022-11-02&sp=r&sig=***',
    );
    expect(redactUrl('https://h/x?AWSAccessKeyId=AKIA&Expires=1&Signature=zz')).toBe(
      'https://h/x?AWSAccessKeyId=***&Expires=1&Signature=***',
    );
    expect(redactUrl('https://h/x?key=1&apiKey=2&api_key=3&access_token=4&password=5&client_secret=6')).toBe(
      'https://h/x?key=***&apiKey=***&api_key=***&access_token=***&password=***&client_secret=***',
    );
  });

  it('recognises encoded secret keys and keeps keys without values', () => {
    expect(redactUrl('https://h/x?%74oken=abc&flag')).toBe('https://h/x?%74oken=***&flag');
  });

  it('drops the fragment and keeps an empty query out', () => {
    expect(redactUrl('https://h/x.csv?#token=abc')).toBe('https://h/x.csv');
  });

  it('shows nothing but the scheme of something that does not parse', () => {
    expect(redactUrl('http://user:pw@exa mple.com/x?token=1')).toBe('http://(not a valid URL)');
    expect(redactUrl('nonsense')).toBe('(not a valid URL)');
  });
});

describe('isSecretKey', () => {
  it('matches whole words and secret-looking names, not words that merely contain "key"', () => {
    for (const key of [
      'token',
      'key',
      'sig',
      'Signature',
      'password',
      'passwd',
      'pwd',
      'secret',
      'apikey',
      'x-api-key',
      'AccessKeyId',
      'auth',
      'session_id',
    ]) {
      expect(isSecretKey(key), key).toBe(true);
    }
    for (const key of ['monkey', 'keyword', 'day', 'format', 'page', 'limit', 'signal', 'design']) {
      expect(isSecretKey(key), key).toBe(false);
    }
  });
});

describe('sourceLabel', () => {
  it('labels stdin, paths and URLs', () => {
    expect(sourceLabel('-')).toBe('stdin');
    expect(sourceLabel('data/followers.csv')).toBe('data/followers.csv');
    expect(sourceLabel('https://u:p@h/x.csv?token=t')).toBe('https://h/x.csv?token=***');
  });
});
