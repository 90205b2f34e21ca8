/**
 * The main thread's guard against V8's heap limit: reaching it is a native abort (exit 134) that
 * runs no compensation and leaves the load `running`. Reading is bounded (chunks, records, chunks in
 * flight), so this only trips on a bug or a tiny --max-old-space-size; it then fails the load
 * cleanly, between chunks, while there is still room to roll back.
 */
import { getHeapStatistics } from 'node:v8';

/** Share of the heap limit past which no further chunk is read. */
const NEAR_LIMIT = 0.85;

export function checkHeap(): void {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  if (used <= limit * NEAR_LIMIT) return;
  const mb = (n: number) => Math.round(n / 1048576);
  throw new Error(
    `the process is near its memory limit (${mb(used)} of ${mb(limit)} MB of heap in use); stopped before it runs out. ` +
      'Lower --batch-size, --workers or --max-record-size, or give Node more heap (NODE_OPTIONS=--max-old-space-size=...)',
  );
}
