import { Command, Option } from 'commander';
import { integer } from '../config/values.js';
import { formatDuration } from '../config/duration.js';
import {
  ConfigError,
  environment,
  loadRejects,
  NOTHING_RECORDED,
  resolveSyncConfig,
  status,
  stderrLogger,
  type LoadRecord,
  type LoadRejects,
  type Logger,
  type SavedCursor,
} from '../index.js';
import { redactSecrets } from '../observe/redact.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { argumentParser } from './setting-options.js';

// ---- formatting: pure ----

/** "2026-05-01 12:00:03" in UTC (the column header says so), "-" for none. */
export function formatTime(date: Date | null): string {
  return date ? date.toISOString().slice(0, 19).replace('T', ' ') : '-';
}

export function statusLabel(load: LoadRecord): string {
  return load.dryRun ? `${load.status} (dry run)` : load.status;
}

function durationLabel(load: LoadRecord): string {
  return load.finishedAt ? formatDuration(load.durationMs) : `${formatDuration(load.durationMs)} so far`;
}

const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/gu, ' ');

/** Columns padded to their widest cell; numbers right-aligned. */
export function alignedTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number>,
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)];
}

const LOAD_HEADER = [
  'LOAD ID',
  'TABLE',
  'STATUS',
  'STARTED (UTC)',
  'DURATION',
  'READ',
  'INSERTED',
  'UPDATED',
  'UNCHANGED',
  'DELETED',
  'REJECTED',
  'DUPLICATES',
  'SOURCE',
] as const;
const LOAD_NUMBERS = new Set([5, 6, 7, 8, 9, 10, 11]);

/** The recent loads as an aligned table; a failed load's error on the line under it. */
export function loadsText(loads: readonly LoadRecord[]): string {
  const rows = loads.map((l) => [
    l.loadId,
    l.table,
    statusLabel(l),
    formatTime(l.startedAt),
    durationLabel(l),
    ...[
      l.counts.read,
      l.counts.inserted,
      l.counts.updated,
      l.counts.unchanged,
      l.counts.deleted,
      l.counts.rejected,
      l.counts.duplicates,
    ].map(String),
    l.source,
  ]);
  const [head, ...lines] = alignedTable(LOAD_HEADER, rows, LOAD_NUMBERS);
  const out = [head];
  loads.forEach((l, i) => {
    out.push(lines[i]);
    if (l.error) out.push(`  error: ${oneLine(l.error)}`);
  });
  return out.join('\n') + '\n';
}

/** One load, field by field. */
export function loadDetailText(l: LoadRecord): string {
  const c = l.counts;
  const fields: [string, string][] = [
    ['load', l.loadId],
    ['table', l.table],
    ['source', l.source],
    ['status', l.status],
    ['dry run', l.dryRun ? 'yes (nothing was changed)' : 'no'],
    ['started', `${formatTime(l.startedAt)} UTC`],
    [
      'finished',
      l.finishedAt
        ? `${formatTime(l.finishedAt)} UTC`
        : '- (still running, or its process died; the next sync of the table marks it aborted)',
    ],
    ['duration', durationLabel(l)],
    ['host', l.host ? `${l.host}${l.pid === null ? '' : `, pid ${l.pid}`}` : '-'],
    [
      'rows',
      `read ${c.read}  staged ${c.staged}  inserted ${c.inserted}  updated ${c.updated}  unchanged ${c.unchanged}  deleted ${c.deleted}  rejected ${c.rejected}  duplicates ${c.duplicates}`,
    ],
  ];
  if (l.error) fields.push(['error', oneLine(l.error)]);
  if (c.rejected > 0)
    fields.push(['bad rows', `${c.rejected}; list them with: etl status --load ${l.loadId} --rejects`]);
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** A load's bad rows: line, reason and the raw text (quoted, so control characters show). */
export function rejectsText(r: LoadRejects): string {
  const l = r.load;
  const head = `load ${l.loadId} of ${l.table} (${statusLabel(l)}, started ${formatTime(l.startedAt)} UTC, ${l.source})`;
  if (r.total === 0) return `${head}: no bad rows recorded\n`;
  const files = r.rejects.some((x) => x.file !== undefined);
  const rows = r.rejects.map((x) => [
    ...(files ? [x.file ?? ''] : []),
    String(x.line),
    x.reason,
    JSON.stringify(x.raw),
  ]);
  const columns = files ? ['FILE', 'LINE', 'REASON', 'RAW'] : ['LINE', 'REASON', 'RAW'];
  const lines = [`${head}: ${r.total} bad row(s)`, ...alignedTable(columns, rows, new Set([files ? 1 : 0]))];
  if (r.rejects.length < r.total)
    lines.push(`(the first ${r.rejects.length} of ${r.total}, by line; use --limit to see more)`);
  return lines.join('\n') + '\n';
}

/** The JSON shape of a load (snake_case, like the sync summary). */
export function loadJson(l: LoadRecord) {
  return {
    load_id: l.loadId,
    table: l.table,
    source: l.source,
    status: l.status,
    dry_run: l.dryRun,
    started_at: l.startedAt.toISOString(),
    finished_at: l.finishedAt ? l.finishedAt.toISOString() : null,
    duration_ms: Math.round(l.durationMs),
    rows_read: l.counts.read,
    staged: l.counts.staged,
    inserted: l.counts.inserted,
    updated: l.counts.updated,
    unchanged: l.counts.unchanged,
    deleted: l.counts.deleted,
    rejected: l.counts.rejected,
    duplicates: l.counts.duplicates,
    error: l.error,
    host: l.host,
    pid: l.pid,
  };
}

/** Where each incremental sync stands: per target, the cursor of the last row read. */
export function cursorsText(cursors: readonly SavedCursor[]): string {
  const rows = cursors.flatMap((c) =>
    Object.entries(c.positions).map(([target, tuple]) => [
      c.sync,
      target,
      c.columns.map((column, i) => `${column}=${tuple[i]}`).join(', '),
      formatTime(c.savedAt),
      c.readUntil ?? '-',
    ]),
  );
  const table = alignedTable(
    ['SYNC', 'TARGET', 'CURSOR (LAST ROW READ)', 'SAVED (UTC)', 'READ UNTIL'],
    rows,
    new Set(),
  );
  return ['incremental syncs:', ...table].join('\n') + '\n';
}

export function cursorJson(c: SavedCursor) {
  return {
    sync: c.sync,
    columns: c.columns,
    positions: c.positions,
    read_until: c.readUntil,
    load_ids: c.loadIds,
    saved_at: c.savedAt.toISOString(),
  };
}

// ---- the command ----

interface StatusFlags {
  table?: string;
  limit?: number;
  load?: string;
  rejects?: boolean;
  json?: boolean;
  databaseUrl?: string;
  embeddedDir?: string;
  envFile?: string;
}

async function run(opts: StatusFlags, log: Logger): Promise<void> {
  const json = Boolean(opts.json);
  const out = (text: string) => process.stdout.write(text);
  if (opts.rejects && !opts.load)
    throw new ConfigError('--rejects lists the bad rows of one load: add --load ID (the load ids are in etl status)');
  const config = resolveSyncConfig(
    { databaseUrl: opts.databaseUrl, embeddedDir: opts.embeddedDir },
    environment(process.env, opts.envFile, process.cwd()),
  );

  if (opts.load && opts.rejects) {
    const result = await loadRejects(config.database, opts.load, { limit: opts.limit, log });
    out(
      json
        ? JSON.stringify({ load: loadJson(result.load), rejects: result.rejects, total: result.total }) + '\n'
        : rejectsText(result),
    );
    return;
  }
  if (opts.load) {
    const { loads } = await status(config.database, { loadId: opts.load, log });
    out(json ? JSON.stringify({ load: loadJson(loads[0]) }) + '\n' : loadDetailText(loads[0]));
    return;
  }
  const result = await status(config.database, { table: opts.table, limit: opts.limit, log });
  if (json) {
    if (!result.recorded) log.info(NOTHING_RECORDED);
    const cursors = result.cursors ? { cursors: result.cursors.map(cursorJson) } : {};
    out(JSON.stringify({ loads: result.loads.map(loadJson), recorded: result.recorded, ...cursors }) + '\n');
  } else if (!result.recorded) {
    out(`${NOTHING_RECORDED}\n`);
  } else if (result.loads.length === 0) {
    out(opts.table ? `no loads recorded for table ${JSON.stringify(opts.table)}\n` : 'no loads recorded\n');
  } else {
    out(loadsText(result.loads));
  }
  if (!json && result.cursors) out(`\n${cursorsText(result.cursors)}`);
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show recent loads (newest first), one load in detail, or the bad rows of a load')
    .addOption(new Option('--table <name>', 'only loads of this table').conflicts('load'))
    .option(
      '--limit <n>',
      'how many loads (default: 20) or bad rows with --rejects (default: 100)',
      argumentParser(integer(1)),
    )
    .option('--load <id>', 'show this load in detail')
    .option('--rejects', 'with --load: list the bad rows of that load (line, reason, raw text) in line order')
    .option('--json', 'print one JSON object on stdout')
    .option('--database-url <url>', 'PostgreSQL connection URL [env DATABASE_URL]')
    .option('--embedded-dir <path>', 'where the embedded PostgreSQL keeps its data [env ETL_EMBEDDED_DIR]')
    .option('--env-file <path>', 'read settings from this file instead of ./.env')
    .action(async (opts: StatusFlags) => {
      const log = stderrLogger();
      try {
        await run(opts, log);
        process.exitCode = EXIT.ok;
      } catch (error) {
        const message = redactSecrets(error instanceof Error ? error.message : String(error));
        log.error(message);
        if (opts.json) {
          const { code, loadId } = error as { code?: string; loadId?: string };
          process.stdout.write(JSON.stringify({ error: message, code: code ?? null, load_id: loadId ?? null }) + '\n');
        }
        process.exitCode = exitCodeFor(error);
      }
    });
}
