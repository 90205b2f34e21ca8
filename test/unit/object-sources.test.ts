/**
 * The pure parts of object-storage and Parquet sources: which locations are many files, globs,
 * s3:// parsing, the messages for S3 failures (naming the object, never a secret), and the exact
 * conversions of Parquet values.
 */
import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { globPattern, isHiddenName } from '../../src/source/file-list.js';
import { isManyFiles } from '../../src/source/load-route.js';
import { formatOf } from '../../src/source/format.js';
import { columnEncoder, decimalText, EXACT_PARSERS, encoderFor, jsonValue } from '../../src/source/parquet/values.js';
import type { SchemaElement, SchemaTree } from 'hyparquet';
import { describeS3Error } from '../../src/source/s3.js';
import { parseS3Url } from '../../src/source/s3-location.js';

describe('many-files locations', () => {
  it.each([
    ['s3://bucket/exports/2026-11-30/', true],
    ['s3://bucket', true],
    ['s3://bucket/exports/*.csv.gz', true],
    ['s3://bucket/one.csv', false],
    ['data/parts/*.ndjson', true],
    ['data/load.manifest', true],
    ['s3://bucket/load.manifest', true],
    ['https://example.com/a.csv?x=*', false],
    ['data/one.csv', false],
    ['-', false],
  ])('%s -> %s', (location, many) => {
    expect(isManyFiles(location)).toBe(many);
  });

  it('matches * within a segment, ** across segments, ? one character, everything else literally', () => {
    expect(globPattern('exports/*.csv.gz').test('exports/part-1.csv.gz')).toBe(true);
    expect(globPattern('exports/*.csv.gz').test('exports/sub/part-1.csv.gz')).toBe(false);
    expect(globPattern('exports/**.csv.gz').test('exports/sub/part-1.csv.gz')).toBe(true);
    expect(globPattern('part-?.csv').test('part-7.csv')).toBe(true);
    expect(globPattern('part-?.csv').test('part-7xcsv')).toBe(false);
    expect(globPattern('a+(b).csv').test('a+(b).csv')).toBe(true);
  });

  it('leaves out the markers Spark and Hadoop write next to their parts, unless the glob names them', () => {
    expect(isHiddenName('out/_SUCCESS', 'out/')).toBe(true);
    expect(isHiddenName('out/.part-0.parquet.crc', 'out/*')).toBe(true);
    expect(isHiddenName('out/part-0.parquet', 'out/')).toBe(false);
    expect(isHiddenName('_staging/part-0.parquet', '_staging/')).toBe(false);
    expect(isHiddenName('out/_manifest.json', 'out/_*.json')).toBe(false);
  });

  it('tells Parquet by its extension, after any .gz', () => {
    expect(formatOf(undefined, 's3://b/x.parquet')).toBe('parquet');
    expect(formatOf(undefined, 'x.PARQUET')).toBe('parquet');
    expect(formatOf('csv', 'x.parquet')).toBe('csv');
  });
});

describe('s3:// locations and errors', () => {
  it('parses bucket and key, and refuses what is not a bucket', () => {
    expect(parseS3Url('s3://my-bucket/a/b c.csv', 'CSV_FILE')).toEqual({ bucket: 'my-bucket', key: 'a/b c.csv' });
    expect(parseS3Url('s3://my-bucket', 'CSV_FILE')).toEqual({ bucket: 'my-bucket', key: '' });
    expect(() => parseS3Url('s3://Bad_Bucket/x', 'CSV_FILE')).toThrow(ConfigError);
    expect(() => parseS3Url('s3:///x', 'CSV_FILE')).toThrow(/is not an s3:\/\/ location/u);
  });

  const serviceError = (name: string, status: number, message: string) =>
    new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });

  it('names the object and the fix, and leaves the service text (which can quote request details) out', () => {
    const denied = describeS3Error(
      serviceError('SignatureDoesNotMatch', 403, 'StringToSign AWS4-HMAC-SHA256 secret-ish details'),
      'GET',
      's3://b/k.csv',
    );
    expect(denied.message).toBe(
      "GET s3://b/k.csv: access denied (SignatureDoesNotMatch): check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the object's permissions",
    );
    expect(describeS3Error(serviceError('NoSuchKey', 404, 'x'), 'GET', 's3://b/k').message).toBe(
      'GET s3://b/k: the object does not exist',
    );
    expect(describeS3Error(serviceError('InternalError', 500, 'x'), 'GET', 's3://b/k').message).toBe(
      'GET s3://b/k: the store answered 500 (InternalError)',
    );
    const noRegion = describeS3Error(new Error('Region is missing'), 'LIST', 's3://b/');
    expect(noRegion.message).toBe(
      'LIST s3://b/: no AWS region is configured: set AWS_REGION (or a region in the AWS profile)',
    );
  });
});

describe('Parquet values', () => {
  it('writes decimals exactly from their unscaled integers', () => {
    expect(decimalText(123456789012345678901234567890123456n, 10)).toBe('12345678901234567890123456.7890123456');
    expect(decimalText(-1n, 10)).toBe('-0.0000000001');
    expect(decimalText(5n, 0)).toBe('5');
    expect(decimalText(5n, -2)).toBe('500');
  });

  it('reads decimals from INT32, INT64 and two’s-complement bytes', () => {
    const decimal = (type: 'INT32' | 'INT64' | 'FIXED_LEN_BYTE_ARRAY') =>
      encoderFor({ name: 'd', type, converted_type: 'DECIMAL', scale: 2, precision: 38 });
    expect(decimal('INT32')(-1)).toBe('-0.01');
    expect(decimal('INT64')(9223372036854775807n)).toBe('92233720368547758.07');
    expect(decimal('FIXED_LEN_BYTE_ARRAY')(Uint8Array.from([0xff, 0xff, 0xff, 0x85]))).toBe('-1.23');
    expect(decimal('INT32')(null)).toBeNull();
  });

  it('keeps every fractional digit of timestamps, before and after the epoch', () => {
    expect(EXACT_PARSERS.timestampFromMicroseconds!(1n)).toBe('1970-01-01T00:00:00.000001Z');
    expect(EXACT_PARSERS.timestampFromMicroseconds!(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(EXACT_PARSERS.timestampFromNanoseconds!(1709288430123456789n)).toBe('2024-03-01T10:20:30.123456789Z');
    expect(EXACT_PARSERS.dateFromDays!(-719162)).toBe('0001-01-01');
    const local = encoderFor({
      name: 't',
      type: 'INT64',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
    });
    expect(local('2024-03-01T10:20:30.123456Z')).toBe('2024-03-01T10:20:30.123456');
    const time = encoderFor({
      name: 't',
      type: 'INT64',
      logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' },
    });
    expect(time(45296000001n)).toBe('12:34:56.000001');
  });

  it('writes dates and timestamps of any range as the calendar does, beyond year 9999 in the expanded form', () => {
    const { dateFromDays, timestampFromMilliseconds, timestampFromMicroseconds } = EXACT_PARSERS;
    // The same text as a JavaScript Date, every 9,973rd day across its whole range.
    for (let days = -100_000_000; days <= 100_000_000; days += 9_973) {
      // A Date writes years beyond 0000-9999 in the same expanded form (+010000, -000001).
      const iso = new Date(days * 86_400_000).toISOString();
      expect(dateFromDays!(days)).toBe(iso.slice(0, iso.indexOf('T')));
      expect(timestampFromMilliseconds!(BigInt(days) * 86_400_000n + 45_296_789n)).toBe(
        `${dateFromDays!(days)}T12:34:56.789Z`,
      );
    }
    expect(dateFromDays!(2_932_896)).toBe('9999-12-31');
    expect(dateFromDays!(2_932_897)).toBe('+010000-01-01');
    expect(dateFromDays!(-719_528)).toBe('0000-01-01');
    expect(dateFromDays!(-719_529)).toBe('-000001-12-31');
    // DuckDB writes infinity and -infinity as the largest and smallest 64-bit values: text a timestamp column refuses.
    expect(timestampFromMicroseconds!(2n ** 63n - 1n)).toBe('+294247-01-10T04:00:54.775807Z');
    expect(timestampFromMicroseconds!(-(2n ** 63n))).toBe('-290308-12-21T19:59:05.224192Z');
  });

  it('writes local timestamps and times inside lists, maps and structs as at the top level', () => {
    const node = (element: SchemaElement, children: SchemaTree[] = []): SchemaTree => ({
      element,
      children,
      count: 1,
      path: [],
    });
    const localTs = (name: string) =>
      node({
        name,
        type: 'INT64',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
      });
    const utcTs = node({
      name: 'z',
      type: 'INT64',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
    });
    const list = (name: string, item: SchemaTree) =>
      node({ name, converted_type: 'LIST' }, [node({ name: 'list', repetition_type: 'REPEATED' }, [item])]);
    const tree = node({ name: 's' }, [
      list('l', localTs('element')),
      utcTs,
      node({ name: 'm', converted_type: 'MAP' }, [
        node({ name: 'key_value', repetition_type: 'REPEATED' }, [
          node({ name: 'key', type: 'BYTE_ARRAY' }),
          localTs('value'),
        ]),
      ]),
      list('ll', list('element', localTs('element'))),
      node({ name: 'n', type: 'INT64' }),
    ]);
    const ts = '2024-01-01T10:00:00.000000Z';
    expect(columnEncoder(tree)({ l: [ts, null], z: ts, m: { k: ts }, ll: [[ts]], n: 2n ** 60n })).toEqual({
      l: ['2024-01-01T10:00:00.000000', null],
      z: ts,
      m: { k: '2024-01-01T10:00:00.000000' },
      ll: [['2024-01-01T10:00:00.000000']],
      n: '1152921504606846976',
    });
    expect(columnEncoder(tree)(null)).toBeNull();
    // A shape the schema did not announce is written as plain JSON, not lost.
    expect(columnEncoder(tree)({ l: 'odd', extra: 1n })).toEqual({ l: 'odd', extra: 1 });
  });

  it('keeps 64-bit integers exact, binary as hex, non-finite floats as text', () => {
    const plain = encoderFor({ name: 'x', type: 'INT64' });
    expect(plain(-9223372036854775808n)).toBe('-9223372036854775808');
    expect(plain(Number.NaN)).toBe('NaN');
    expect(plain(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(plain(Uint8Array.from([0, 255]))).toBe('\\x00ff');
    expect(jsonValue({ big: 2n ** 60n, small: 3n, list: [1.5, null], bytes: Uint8Array.from([1]) })).toEqual({
      big: '1152921504606846976',
      small: 3,
      list: [1.5, null],
      bytes: '\\x01',
    });
  });
});
