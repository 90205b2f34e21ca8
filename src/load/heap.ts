/**
 * The main thread's guard against V8's heap limit: reaching it is a native abort (exit 134) that
 * runs no compensation and leaves the load `running`. Reading is bounded (chunks, records, chunks in
 * flight), so this only trips on a bug or a tiny --max-old-space-size; it then fails the load
 * cleanly, between chunks, while there is still room to roll back.
 */
import { getHeapStatistics } from 'node:v8';

/**
 * Room kept free: a share of the limit plus a fixed amount. V8's heap_size_limit counts the young
 * generation's reserve (48 MiB on Node 20) on top of --max-old-space-size, and the old generation
 * is what runs out: with a 96 MB old space the limit reads 144 MB, so a plain 85% of it (122 MB)
 * was never reached before the abort.
 */
const FREE_SHARE = 0.15;
const FREE_BYTES = 64 * 1024 * 1024;

export function checkHeap(): void {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  if (limit - used >= limit * FREE_SHARE + FREE_BYTES) return;
  const mb = (n: number) => Math.round(n / 1048576);
  throw new Error(
    `the process is near its memory limit (${mb(used)} of ${mb(limit)} MB of heap in use); stopped before it runs out. ` +
      'Lower --batch-size, --workers or --max-record-size, or give Node more heap (NODE_OPTIONS=--max-old-space-size=...)',
  );
}
