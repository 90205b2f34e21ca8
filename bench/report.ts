/** The human-readable table of a benchmark result. */
import type { ThreadProfile } from './cpu-profile.js';
import type { BenchResult, CaseResult, PipelineSummary, SizeResult } from './results.js';
import { median } from './stats.js';

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

function pipelineRow(c: CaseResult, name: 'reference' | 'etl'): string[] {
  const p = c[name];
  return [
    c.case,
    name,
    secs(p.median_wall_s),
    int(p.rows_per_s),
    rss(p),
    p.median_cpu_s === null ? 'n/a' : p.median_cpu_s.toFixed(2),
    name === 'etl' ? `${c.ratio.toFixed(2)}x` : '',
    p.runs.map((r) => r.wall_s.toFixed(2)).join(' '),
  ];
}

function phaseLine(c: CaseResult): string {
  const phases = c.etl.phases_median_ms;
  const ownMs = c.etl.median_reported_s === undefined ? NaN : c.etl.median_reported_s * 1000;
  const outside = median(c.etl.runs.flatMap((r) => (r.etl ? [r.wall_s * 1000 - r.etl.duration_ms] : [])));
  const own = Number.isFinite(ownMs)
    ? `etl's own duration ${int(ownMs)} (process start and exit ${int(outside)}); `
    : '';
  if (!phases) return `  ${c.case.padEnd(10)} ${own}phases n/a (etl's JSON summary has no "phases" object)`;
  const parts = Object.entries(phases).map(
    ([k, v]) => `${k} ${int(v)}${ownMs > 0 ? ` (${Math.round((v * 100) / ownMs)}%)` : ''}`,
  );
  return `  ${c.case.padEnd(10)} ${own}${parts.join(', ')}`;
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
  const rows = [['case', 'pipeline', 'median s', 'rows/s', 'peak RSS', 'CPU s', 'etl/ref', 'runs (s)']];
  for (const c of size.cases) rows.push(pipelineRow(c, 'reference'), pipelineRow(c, 'etl'));
  lines.push(...table(rows, new Set([2, 3, 4, 5, 6])).map((l) => `  ${l}`));
  lines.push('  (median wall seconds; peak RSS and CPU seconds are those of the psql or etl process itself)');
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
  lines.push('where etl sync spends its time (median ms):', ...size.cases.map(phaseLine));
  for (const c of size.cases) {
    if (!c.same_content) {
      const bad = [
        ...c.reference.runs.map((r) => ['reference', r] as const),
        ...c.etl.runs.map((r) => ['etl', r] as const),
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

export function reportText(result: BenchResult): string {
  const m = result.machine;
  const lines = [
    `etl sync vs. a psql \\copy + merge reference (seed ${result.settings.seed}${result.settings.etl_flags.length ? `, etl flags: ${result.settings.etl_flags.join(' ')}` : ''})`,
    `PostgreSQL ${result.postgres.version} (${result.postgres.server}); ${m.cpus} CPU(s) ${m.cpu_model}, ${int(m.memory_mib)} MiB, ${m.os}, Node ${m.node}; peak RSS via ${result.settings.rss_method}`,
    `load average (1 min) ${m.load_average_1m.start.toFixed(2)} at the start, ${m.load_average_1m.end.toFixed(2)} at the end${Math.max(m.load_average_1m.start, m.load_average_1m.end) > m.cpus ? ': the machine was busy, timings are noisy' : ''}`,
    '',
  ];
  for (const size of result.sizes) lines.push(...sizeSection(size, result.settings.repeat), '');
  if (result.growth.length > 0) {
    lines.push('growth with file size (median time at the larger size / at the smaller):');
    for (const g of result.growth)
      lines.push(
        `  ${g.case.padEnd(9)} ${int(g.from_rows)} -> ${int(g.to_rows)} rows: reference ${g.reference.toFixed(2)}x, etl ${g.etl.toFixed(2)}x`,
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
