import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ConfigError } from '../errors.js';

export interface Input {
  stream: Readable;
  /** Total bytes when known (files), for progress. */
  size?: number;
  label: string;
  /** Raw bytes consumed so far (progress). */
  bytesRead: () => number;
}

/** Checks a file can be read, with a message naming it and the fix; runs before any database work. */
export async function checkReadable(file: string, setting: string): Promise<void> {
  if (file === '-') return;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new ConfigError(`${setting}: ${file} is a directory, not a file`);
    await access(file, constants.R_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(`${setting}: the file ${file} ${why}; set --file or CSV_FILE to a readable CSV file`);
  }
}

export async function openInput(file: string, stdin: Readable = process.stdin): Promise<Input> {
  if (file === '-') return { stream: stdin, label: 'stdin', bytesRead: () => 0 };
  const info = await stat(file);
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  return { stream, size: info.size, label: file, bytesRead: () => stream.bytesRead };
}
