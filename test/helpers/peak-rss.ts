/**
 * Runs the built CLI as a subprocess and measures its peak resident memory (getrusage's ru_maxrss,
 * all threads), written by a preloaded hook when the process exits.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished, startCliWith, type CliResult } from './sync.js';

const RSS_FILE_ENV = 'ETL_TEST_RSS_FILE';
const hook =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { writeFileSync } from 'node:fs';
     const file = process.env.${RSS_FILE_ENV};
     process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));`,
  );

const scratch = mkdtempSync(join(tmpdir(), 'etl-test-rss-'));
let runs = 0;

export async function runCliMeasuringRss(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult & { peakRssMb: number }> {
  runs += 1;
  const rssFile = join(scratch, `rss-${runs}`);
  const child = startCliWith(['--import', hook], args, { ...env, [RSS_FILE_ENV]: rssFile });
  child.stdin?.end();
  const result = await finished(child);
  let kib = Number.NaN;
  try {
    kib = Number(readFileSync(rssFile, 'utf8'));
  } catch {
    // no measurement: the process died before its exit handlers ran (the result says how)
  }
  return { ...result, peakRssMb: kib / 1024 };
}
