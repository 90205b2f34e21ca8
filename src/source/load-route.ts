/**
 * Which reader a location needs, decided without loading it: several files (a glob, an s3://
 * prefix, a manifest) and Parquet go through many-files.ts (which loads the AWS SDK and the Parquet
 * reader on demand); everything else is one byte stream (input.ts).
 */
import { formatOf, type LoadFormat } from './format.js';
import { isUrl } from './input.js';
import { isS3Url } from './s3-location.js';

const WILDCARD = /[*?]/u;

export function hasWildcard(text: string): boolean {
  return WILDCARD.test(text);
}

/** A manifest in the format Redshift's COPY uses, named `*.manifest`. */
export function isManifest(location: string): boolean {
  return /\.manifest$/iu.test(location.replace(/[?#].*$/u, ''));
}

/** Whether a location names several files (a glob, an s3:// prefix, or a manifest) rather than one. */
export function isManyFiles(location: string): boolean {
  if (location === '-') return false;
  if (isManifest(location)) return true;
  if (isS3Url(location)) {
    const key = /^s3:\/\/[^/]+\/?(.*)$/iu.exec(location)?.[1] ?? '';
    return key === '' || key.endsWith('/') || hasWildcard(key);
  }
  return !isUrl(location) && hasWildcard(location);
}

/** Sources read by many-files.ts: several files, or Parquet (read by row group, not as a byte stream). */
export function needsFileReader(location: string, format: LoadFormat | undefined): boolean {
  return location !== '-' && (isManyFiles(location) || formatOf(format, location) === 'parquet');
}
