/**
 * Which files one load reads: a glob of local paths (`data/parts/*.ndjson`), an s3:// prefix
 * (`s3://bucket/exports/2026-11-30/`) or glob (`s3://bucket/exports/*.csv.gz`), or a manifest in
 * the format Redshift's COPY uses (`{"entries":[{"url":"s3://...","mandatory":true}]}`), named
 * `*.manifest`. Globs and prefixes list in ascending byte order of the names; a manifest keeps its
 * own order. Wildcards: `*` (within one path segment), `**` (across segments) and `?`. Names that
 * start with `_` or `.` (`_SUCCESS`, `.crc` files: the markers Spark and Hadoop leave next to their
 * parts) are not data unless the glob's own last segment starts with that character.
 */
import { readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import { isUrl, openInput } from './input.js';
import { isManifest } from './load-route.js';
import { isS3Url, parseS3Url, type S3Settings } from './s3-location.js';
import { listS3 } from './s3.js';

export interface FileEntry {
  /** A path or URL that openInput (or the Parquet reader) opens. */
  location: string;
  /** A missing mandatory file fails the load; a missing optional one is skipped with a warning. */
  mandatory: boolean;
}

/** A manifest is bounded: it lists files, it does not hold data. */
const MAX_MANIFEST_BYTES = 16 << 20;

/** A glob as a regular expression over the whole name. */
export function globPattern(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i += 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[\\^$.|+()[\]{}]/u, '\\$&');
  }
  return new RegExp(`^${out}$`, 'u');
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const baseName = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/** Whether a listed name is a marker (`_SUCCESS`, `.part-0.crc`) rather than data, for this glob or prefix. */
export function isHiddenName(name: string, glob: string): boolean {
  const first = baseName(name)[0];
  return (first === '_' || first === '.') && baseName(glob)[0] !== first;
}

async function listLocal(glob: string, setting: string): Promise<FileEntry[]> {
  const first = glob.search(/[*?]/u);
  const base = dirname(glob.slice(0, first + 1));
  const pattern = globPattern(glob);
  let names: string[];
  try {
    names = (await readdir(base, { recursive: glob.includes('**'), withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
  } catch (error) {
    throw new ConfigError(
      `${setting}: cannot list ${base} for ${glob} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { cause: error },
    );
  }
  return names
    .filter((name) => pattern.test(name) && !isHiddenName(name, glob))
    .sort(byBytes)
    .map((location) => ({ location, mandatory: true }));
}

async function listObjects(
  client: S3Client,
  location: string,
  settings: S3Settings,
  setting: string,
  signal?: AbortSignal,
): Promise<FileEntry[]> {
  const { bucket, key } = parseS3Url(location, setting);
  const first = key.search(/[*?]/u);
  const prefix = first === -1 ? key : key.slice(0, first);
  const pattern = first === -1 ? undefined : globPattern(key);
  const keys: string[] = [];
  for await (const object of listS3(client, bucket, prefix, settings, signal)) {
    // Keys ending in / are the "folders" some tools create: not data.
    if (object.key.endsWith('/')) continue;
    if (pattern && !pattern.test(object.key)) continue;
    if (isHiddenName(object.key, key)) continue;
    keys.push(object.key);
  }
  return keys.sort(byBytes).map((k) => ({ location: `s3://${bucket}/${k}`, mandatory: true }));
}

/** Reads and checks a manifest; relative local entries are read from the manifest's directory. */
async function readManifest(location: string, settings: S3Settings, signal?: AbortSignal): Promise<FileEntry[]> {
  const input = await openInput(location, {
    s3: { endpoint: settings.endpoint },
    timeoutMs: settings.timeoutMs,
    signal,
  });
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of input.stream as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_MANIFEST_BYTES) {
      input.stream.destroy();
      throw new ConfigError(`${input.label}: the manifest is larger than ${MAX_MANIFEST_BYTES >> 20} MB`);
    }
    parts.push(part);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch (error) {
    throw new ConfigError(`${input.label}: the manifest is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const entries = (doc as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries))
    throw new ConfigError(
      `${input.label}: a manifest must be {"entries": [{"url": "s3://bucket/key", "mandatory": true}, ...]}`,
    );
  const local = !isUrl(location);
  return entries.map((entry: unknown, i) => {
    const { url, mandatory } = (entry ?? {}) as { url?: unknown; mandatory?: unknown };
    if (typeof url !== 'string' || url === '')
      throw new ConfigError(`${input.label}: entries[${i}] needs a "url" (s3://bucket/key, an http(s) URL or a path)`);
    if (mandatory !== undefined && typeof mandatory !== 'boolean')
      throw new ConfigError(`${input.label}: entries[${i}].mandatory must be true or false`);
    const resolved = local && !isUrl(url) && !isAbsolute(url) ? resolve(dirname(location), url) : url;
    if (!local && !isUrl(url))
      throw new ConfigError(`${input.label}: entries[${i}] is a local path in a remote manifest; use a full URL`);
    return { location: resolved, mandatory: mandatory ?? false };
  });
}

/** The files of a many-files location, in load order (none is the empty-file case, not an error). */
export async function listFiles(
  location: string,
  client: () => S3Client,
  settings: S3Settings,
  setting: string,
  signal?: AbortSignal,
): Promise<FileEntry[]> {
  if (isManifest(location)) return readManifest(location, settings, signal);
  if (isS3Url(location)) return listObjects(client(), location, settings, setting, signal);
  return listLocal(location, setting);
}
