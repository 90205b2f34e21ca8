/**
 * Preloaded (`node --import`) into a measured Node process when GNU time is not available: at exit
 * it writes the process's peak RSS in KiB (getrusage's ru_maxrss, all threads) to the file named by
 * ETL_BENCH_RSS_FILE.
 */
import { writeFileSync } from 'node:fs';
import { RSS_FILE_ENV } from './rss-env.js';

const target = process.env[RSS_FILE_ENV];
if (target) {
  process.on('exit', () => {
    try {
      writeFileSync(target, `${process.resourceUsage().maxRSS}\n`);
    } catch {
      // the measurement is lost, never the run
    }
  });
}
