import { ConfigError } from '../errors.js';
import type { Raw } from './values.js';

/** A PostgreSQL memory size as work_mem takes it: a whole number with kB, MB or GB (64kB to 2GB). */
export function memorySize(raw: Raw): string {
  const m = /^\s*(\d+)\s*(kB|MB|GB)\s*$/iu.exec(String(raw.value));
  const unit = m?.[2].toUpperCase().replace('KB', 'kB');
  const kb = m ? Number(m[1]) * (unit === 'GB' ? 1048576 : unit === 'MB' ? 1024 : 1) : NaN;
  if (!m || !(kb >= 64 && kb <= 2097151)) {
    throw new ConfigError(
      `${raw.origin}=${JSON.stringify(String(raw.value))} is not a memory size PostgreSQL takes for work_mem; write e.g. 64MB or 1GB (from 64kB to 2047MB)`,
    );
  }
  return `${m[1]}${unit}`;
}
