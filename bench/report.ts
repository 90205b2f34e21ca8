/** The human-readable table of a benchmark result (and of the loader memory check). */
import type { ThreadProfile } from './cpu-profile.js';
import type { LoaderMemoryResult } from './loader-memory.js';
import {
  MEMORY_BOUND_MIB,
  type BenchResult,
  type CaseResult,
  type PipelineSummary,
  type SizeResult,
} from './results.js';
import { maxOrNull, median } from './stats.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (s: number) => s.toFixed(s < 10 ? 3 : 2);

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function rss(p: PipelineSummary): string {
  if (p.median_peak_rss_mib === null) return 'n/a';
  const spread = p.max_peak_rss_mib !== null && Math.round(p.max_peak_rss_mib) !== Math.round(p.median_peak_rss_mib);
  const max = spread ? ` (max ${Math.round(p.max_peak_rss_mib!)})` : '';
  return `${Math.round(p.median_peak_rss_mib)} MiB${max}`;
}

function pipelineRow(c: CaseResult, name: 'reference' | 'etl' | 'loader'): string[] {
  const p = c[name]!;
  const ratio = name === 'etl' ? c.ratio : name === 'loader' ? c.loader_ratio : undefined;
  return [
    c.case,
    name,
    secs(p.median_wall_s),
    int(p.rows_per_s),
    rss(p),
    p.median_cpu_s === null ? 'n/a' : p.median_cpu_s.toFixed(2),
    ratio === undefined ? '' : `${ratio.toFixed(2)}x`,
    p.runs.map((r) => r.wall_s.toFixed(2)).join(' '),
  ];
}

function phaseLine(label: string, p: PipelineSummary, width: number): string {
  const phases = p.phases_median_ms;
  const ownMs = p.median_reported_s === undefined ? NaN : p.median_reported_s * 1000;
  const outside = median(p.runs.flatMap((r) => (r.etl ? [r.wall_s * 1000 - r.etl.duration_ms] : [])));
  const own = Number.isFinite(ownMs)
    ? `etl's own duration ${int(ownMs)} (process start and exit ${int(outside)}); `
    : '';
  if (!phases) return `  ${label.padEnd(width)} ${own}phases n/a (etl's JSON summary has no "phases" object)`;
  const parts = Object.entries(phases).map(
    ([k, v]) => `${k} ${int(v)}${ownMs > 0 ? ` (${Math.round((v * 100) / ownMs)}%)` : ''}`,
  );
  return `  ${label.padEnd(width)} ${own}${parts.join(', ')}`;
}

/** The largest peak RSS of etl sync and of the loader at this size, against the bound. */
function boundLine(size: SizeResult): string {
  const maxOf = (ps: (PipelineSummary | undefined)[]) => maxOrNull(ps.map((p) => p?.max_peak_rss_mib ?? null));
  const peaks = [
    ['etl sync', maxOf(size.cases.map((c) => c.etl))],
    ['loader', maxOf(size.cases.map((c) => c.loader))],
  ] as const;
  const parts = peaks.flatMap(([name, mib]) =>
    mib === null ? [] : [`${name} max ${Math.round(mib)} MiB${mib > MEMORY_BOUND_MIB ? ' (OVER)' : ''}`],
  );
  return `  peak RSS against the ${MEMORY_BOUND_MIB} MB bound: ${parts.length > 0 ? parts.join(', ') : 'not measured'}`;
}

function threadLines(t: ThreadProfile): string[] {
  const head = `    ${t.thread}: ${secs(t.totalMs / 1000)} s sampled, ${Math.round(t.idleShare * 100)}% idle or waiting`;
  const top = t.top
    .slice(0, 6)
    .map((f) => `      ${int(f.selfMs).padStart(7)} ms ${String(Math.round(f.share * 100)).padStart(3)}%  ${f.name}`);
  return [head, ...top];
}

function sizeSection(size: SizeResult, repeat: number): string[] {
  const plan = size.plan;
  const lines = [
    `${int(size.rows)} rows; next day: ${int(plan.changed)} names changed, ${int(plan.removed)} rows gone, ${int(plan.added)} new (${int(plan.day2Rows)} rows); median of ${repeat} run(s) each`,
    '',
  ];
  const rows = [['case', 'pipeline', 'median s', 'rows/s', 'peak RSS', 'CPU s', '/ref', 'runs (s)']];
  for (const c of size.cases) {
    rows.push(pipelineRow(c, 'reference'), pipelineRow(c, 'etl'));
    if (c.loader) rows.push(pipelineRow(c, 'loader'));
  }
  lines.push(...table(rows, new Set([2, 3, 4, 5, 6])).map((l) => `  ${l}`));
  lines.push('  (median wall seconds; peak RSS and CPU seconds are those of the psql or etl process itself;');
  lines.push('   /ref: median / the reference median of the same case, the same reference runs for etl and loader)');
  if (size.cases.some((c) => c.loader))
    lines.push(
      '  loader: the same records written from code, openLoader + one awaited write per record + commit, in a program importing the built package',
    );
  lines.push(boundLine(size));
  for (const c of size.cases)
    if (c.ratio_to_next_day_reference !== undefined)
      lines.push(`  ${c.case}: etl / reference next-day = ${c.ratio_to_next_day_reference.toFixed(2)}x`);
  for (const c of size.cases.filter((x) => x.case === 'same-file' || x.case === 'if-changed')) {
    const w = c.etl.runs.map((r) => r.writes);
    const wrote = w.some((x) => x.inserted + x.updated + x.deleted > 0 || x.bytes_after !== x.bytes_before);
    lines.push(
      `  ${c.case}: etl wrote ${wrote ? w.map((x) => `${x.inserted}/${x.updated}/${x.deleted} rows ins/upd/del, ${x.bytes_before} -> ${x.bytes_after} bytes`).join('; ') : 'no row versions to followers (n_tup_ins/upd/del unchanged, size unchanged)'}`,
    );
  }
  lines.push('');
  const width = size.cases.some((c) => c.loader) ? 19 : 10;
  lines.push(
    'where etl spends its time (median ms; loader: generate_ms is generating the records, inside read_parse_stage_ms):',
    ...size.cases.flatMap((c) => [
      phaseLine(c.case, c.etl, width),
      ...(c.loader ? [phaseLine(`${c.case} (loader)`, c.loader, width)] : []),
    ]),
  );
  for (const c of size.cases) {
    if (!c.same_content) {
      const bad = [
        ...c.reference.runs.map((r) => ['reference', r] as const),
        ...c.etl.runs.map((r) => ['etl', r] as const),
        ...(c.loader?.runs ?? []).map((r) => ['loader', r] as const),
      ].filter(([, r]) => !r.content_ok);
      lines.push(
        `  WRONG CONTENT in ${c.case}: ${bad.map(([p, r]) => `${p} run ${r.repetition} left ${int(r.rows_after)} rows (expected ${int(c.expected.rows)}), checksum ${r.checksum === c.expected.checksum ? 'ok' : 'differs'}`).join('; ')}`,
      );
    }
  }
  for (const c of size.cases) {
    if (!c.profile) continue;
    lines.push(
      '',
      `cpu profile of one etl sync, ${c.case} (${secs(c.profile.wall_s)} s under --cpu-prof; files in ${c.profile.dir}):`,
    );
    for (const t of c.profile.threads) lines.push(...threadLines(t));
  }
  return lines;
}

/** Server, machine and how memory was measured: the second line of every report. */
function machineLine(result: Pick<BenchResult, 'postgres' | 'machine'> & { settings: { rss_method: string } }): string {
  const m = result.machine;
  return `PostgreSQL ${result.postgres.version} (${result.postgres.server}); ${m.cpus} CPU(s) ${m.cpu_model}, ${int(m.memory_mib)} MiB, ${m.os}, Node ${m.node}; peak RSS via ${result.settings.rss_method}`;
}

export function reportText(result: BenchResult): string {
  const m = result.machine;
  const lines = [
    `etl sync vs. a psql \\copy + merge reference (seed ${result.settings.seed}${result.settings.etl_flags.length ? `, etl flags: ${result.settings.etl_flags.join(' ')}` : ''})`,
    machineLine(result),
    `load average (1 min) ${m.load_average_1m.start.toFixed(2)} at the start, ${m.load_average_1m.end.toFixed(2)} at the end${Math.max(m.load_average_1m.start, m.load_average_1m.end) > m.cpus ? ': the machine was busy, timings are noisy' : ''}`,
    '',
  ];
  for (const size of result.sizes) lines.push(...sizeSection(size, result.settings.repeat), '');
  if (result.growth.length > 0) {
    lines.push('growth with file size (median time at the larger size / at the smaller):');
    for (const g of result.growth)
      lines.push(
        `  ${g.case.padEnd(9)} ${int(g.from_rows)} -> ${int(g.to_rows)} rows: reference ${g.reference.toFixed(2)}x, etl ${g.etl.toFixed(2)}x${g.loader === undefined ? '' : `, loader ${g.loader.toFixed(2)}x`}`,
      );
    lines.push('');
  }
  lines.push(
    result.ok
      ? 'content: every run left exactly the expected followers (row count and checksum)'
      : 'content: SOME RUNS LEFT WRONG FOLLOWERS (see above)',
  );
  return lines.join('\n') + '\n';
}

export function loaderMemoryText(result: LoaderMemoryResult): string {
  const lines = [
    `etl loader memory check: ${int(result.settings.records)} records written from code (openLoader + one awaited write per record + commit, seed ${result.settings.seed}${result.settings.etl_flags.length ? `, etl flags: ${result.settings.etl_flags.join(' ')}` : ''})`,
    machineLine(result),
    '',
  ];
  for (const r of result.runs) {
    const rss = r.peak_rss_kib === null ? 'n/a' : `${Math.round(r.peak_rss_kib / 1024)} MiB`;
    const own = r.etl.duration_ms / 1000;
    lines.push(
      `  run ${r.repetition}: ${secs(r.wall_s)} s (etl's own ${secs(own)} s, ${int(result.settings.records / own)} records/s), peak RSS ${rss}, CPU ${r.cpu_s === null ? 'n/a' : `${r.cpu_s.toFixed(2)} s`}, ${r.content_ok ? 'table as expected' : `WRONG CONTENT (${int(r.rows_after)} rows)`}`,
    );
  }
  const peak = result.max_peak_rss_mib === null ? 'not measured' : `${Math.round(result.max_peak_rss_mib)} MiB`;
  const verdict = result.within_bound === null ? 'no verdict' : result.within_bound ? 'within' : 'OVER';
  lines.push(
    '',
    `peak RSS ${peak} (max of ${result.runs.length} run(s)): ${verdict} the ${result.bound_mib} MB bound of a file sync`,
  );
  return lines.join('\n') + '\n';
}
