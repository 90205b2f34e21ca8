/**
 * Runs the records-from-code program (loader-program.ts) in its own process, measured like `etl
 * sync`: same clean environment and working directory, its JSON summary parsed the same way.
 */
import { join } from 'node:path';
import { failure, parseEtlSummary, type EtlContext, type EtlRun } from './etl-process.js';
import { runMeasured } from './measure.js';

const LOADER_PROGRAM = join(import.meta.dirname, 'loader-program.js');

/** Which generated records to write: those of the file of this size, seed and day. */
export interface GeneratedRecords {
  rows: number;
  seed: number;
  day: 1 | 2;
}

/** The sync flags that mean the same to a loader (--workers, --batch-size), taken from --etl-flags. */
export function loaderFlags(etlFlags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < etlFlags.length; i += 1) {
    const [flag, inline] = etlFlags[i].split('=', 2);
    if (flag !== '--workers' && flag !== '--batch-size') continue;
    const value = inline ?? etlFlags[(i += 1)];
    if (value !== undefined) out.push(flag, value);
  }
  return out;
}

export async function runLoaderProgram(
  records: GeneratedRecords,
  url: string,
  context: EtlContext,
  nodeOptions: string[] = [],
): Promise<EtlRun> {
  const measured = await runMeasured(
    {
      file: process.execPath,
      args: [
        LOADER_PROGRAM,
        '--database-url',
        url,
        '--rows',
        String(records.rows),
        '--seed',
        String(records.seed),
        '--day',
        String(records.day),
        ...loaderFlags(context.flags),
      ],
      env: context.env,
      cwd: context.cwd,
      node: { nodeOptions },
    },
    context.rssMethod,
  );
  if (measured.code !== 0) throw failure('the loader program', measured);
  return { ...measured, summary: parseEtlSummary(measured.stdout) };
}
