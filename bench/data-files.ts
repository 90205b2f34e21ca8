/**
 * The benchmark's input files for one size and seed, under the data directory. A file whose
 * manifest matches is reused (generation is deterministic), so --keep-data saves regenerating.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCsv, type WrittenFile } from './csv-file.js';
import { day1Rows, day2Rows, nextDayPlan, type NextDayPlan, type Row } from './dataset.js';

/** Bump when the generator's output changes, so old files are not reused. */
export const GENERATOR_VERSION = 1;

export interface DataSet {
  seed: number;
  plan: NextDayPlan;
  day1: WrittenFile;
  day2: WrittenFile;
  /** Files this run created (removed at the end unless --keep-data). */
  created: string[];
}

interface Manifest extends WrittenFile {
  generator: number;
  seed: number;
}

async function reusable(path: string, seed: number): Promise<WrittenFile | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8')) as Manifest;
    if (manifest.generator !== GENERATOR_VERSION || manifest.seed !== seed) return undefined;
    return { path, rows: manifest.rows, bytes: manifest.bytes, checksum: manifest.checksum };
  } catch {
    return undefined;
  }
}

async function ensureFile(
  path: string,
  seed: number,
  rows: () => Iterable<Row>,
  created: string[],
  log: (m: string) => void,
): Promise<WrittenFile> {
  const existing = await reusable(path, seed);
  if (existing) {
    log(`reusing ${path}`);
    return existing;
  }
  log(`generating ${path}`);
  await rm(`${path}.json`, { force: true });
  const written = await writeCsv(path, rows());
  created.push(path);
  const manifest: Manifest = { ...written, generator: GENERATOR_VERSION, seed };
  await writeFile(`${path}.json`, JSON.stringify(manifest, null, 2) + '\n');
  created.push(`${path}.json`);
  return written;
}

export async function prepareData(
  dataDir: string,
  seed: number,
  rows: number,
  log: (m: string) => void,
): Promise<DataSet> {
  await mkdir(dataDir, { recursive: true });
  const created: string[] = [];
  const base = join(dataDir, `followers-${rows}-seed${seed}`);
  const day1 = await ensureFile(`${base}-day1.csv`, seed, () => day1Rows(seed, rows), created, log);
  const day2 = await ensureFile(`${base}-day2.csv`, seed, () => day2Rows(seed, rows), created, log);
  return { seed, plan: nextDayPlan(rows), day1, day2, created };
}

export async function removeFiles(paths: readonly string[]): Promise<void> {
  for (const path of paths) await rm(path, { force: true });
}
