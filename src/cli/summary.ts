import { formatDuration } from '../config/duration.js';
import type { SyncResult } from '../index.js';

export function summaryText(r: SyncResult): string {
  const c = r.counts;
  if (r.skipped)
    return `skipped ${r.target}: ${r.source} is unchanged since the last successful load (--if-changed; load ${r.loadId}, took ${formatDuration(r.durationMs)})\n`;
  const head = r.dryRun
    ? `dry run of ${r.target} from ${r.source}: nothing was changed (load ${r.loadId})`
    : `synced ${r.target} from ${r.source} (load ${r.loadId})`;
  const lines = [
    head,
    `  read ${c.read}  inserted ${c.inserted}  updated ${c.updated}  unchanged ${c.unchanged}  deleted ${c.deleted}  rejected ${c.rejected}  duplicates ${c.duplicates}`,
    `  took ${formatDuration(r.durationMs)} (${Math.round(r.rowsPerSecond)} rows/s)`,
  ];
  if (r.tables && r.tables.length > 1)
    for (const t of r.tables)
      lines.push(
        `  ${t.target} (load ${t.loadId}): read ${t.counts.read}  inserted ${t.counts.inserted}  updated ${t.counts.updated}  unchanged ${t.counts.unchanged}  deleted ${t.counts.deleted}  rejected ${t.counts.rejected}`,
      );
  if (r.cursor) lines.push(`  cursor: ${r.cursor}`);
  for (const w of r.tables ? r.warnings : []) lines.push(`  warning: ${w}`);
  if (c.rejected > 0)
    lines.push(`  note: ${c.rejected} bad row(s) were skipped; see: etl status --load ${r.loadId} --rejects`);
  if (c.duplicates > 0)
    lines.push(
      `  note: ${c.duplicates} row(s) repeated an email already in the file; the last occurrence of each was kept`,
    );
  return lines.join('\n') + '\n';
}

export function summaryJson(r: SyncResult): string {
  return (
    JSON.stringify({
      status: r.skipped ? 'skipped' : 'succeeded',
      ...(r.skipped ? { skipped: r.skipped } : {}),
      load_id: r.loadId,
      target: r.target,
      source: r.source,
      dry_run: r.dryRun,
      rows_read: r.counts.read,
      inserted: r.counts.inserted,
      updated: r.counts.updated,
      unchanged: r.counts.unchanged,
      deleted: r.counts.deleted,
      rejected: r.counts.rejected,
      duplicates: r.counts.duplicates,
      staged: r.counts.staged,
      duration_ms: Math.round(r.durationMs),
      phases: {
        setup_ms: Math.round(r.phases.setupMs),
        read_parse_stage_ms: Math.round(r.phases.stageMs),
        merge_ms: Math.round(r.phases.mergeMs),
        cleanup_ms: Math.round(r.phases.cleanupMs),
        worker_parse_ms: Math.round(r.phases.workerParseMs),
        worker_copy_ms: Math.round(r.phases.workerCopyMs),
      },
      merge_steps_ms: Object.fromEntries(Object.entries(r.phases.mergeSteps).map(([k, v]) => [k, Math.round(v)])),
      rows_per_second: Math.round(r.rowsPerSecond),
      first_rejects: r.firstRejects,
      warnings: r.warnings,
      ...(r.tables
        ? {
            tables: r.tables.map((t) => ({ target: t.target, load_id: t.loadId, ...t.counts })),
            cursor: r.cursor ?? null,
          }
        : {}),
    }) + '\n'
  );
}
