/**
 * Preloaded (`node --import`) into a measured Node process when GNU time is not available: at exit
 * it writes the process's peak RSS in KiB (getrusage's ru_maxrss, all threads) and its user and
 * system CPU seconds to the file named by ETL_BENCH_RSS_FILE, as GNU time -f '%M %U %S' would.
 */
import { writeFileSync } from 'node:fs';
import { RSS_FILE_ENV } from './rss-env.js';

const target = process.env[RSS_FILE_ENV];
if (target) {
  process.on('exit', () => {
    try {
      const usage = process.resourceUsage();
      writeFileSync(target, `${usage.maxRSS} ${usage.userCPUTime / 1e6} ${usage.systemCPUTime / 1e6}\n`);
    } catch {
      // the measurement is lost, never the run
    }
  });
}
