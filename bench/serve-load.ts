/**
 * `npm run bench:serve`: a load test of etl serve. One `etl serve` process (API and worker) on a
 * scratch database; N clients upload R rows each at the same time (generated CSV, streamed, disjoint
 * keys, mode=upsert) while a poller reads GET /v1/imports/{id} of every upload in turn, from its first
 * staged rows (found through the list) until it is merged. Prints the throughput (rows merged per
 * second, from the first request to the last import finished) and the latency of those GETs (p50,
 * p95, max), then checks the table holds exactly the rows sent.
 *
 *   node dist-bench/bench/serve-load.js [--uploads 4] [--rows 100000] [--database-url URL] [--json]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { redactSecrets } from '../src/observe/redact.js';
import { openServer, query, ScratchDatabases } from './database.js';

interface Options {
  uploads: number;
  rows: number;
  databaseUrl?: string;
  embeddedDir: string;
  json: boolean;
}

function options(): Options {
  const positive = (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive whole number: ${v}`);
    return n;
  };
  const cmd = new Command('bench:serve')
    .option('--uploads <n>', 'concurrent uploads', positive, 4)
    .option('--rows <n>', 'rows per upload', positive, 100_000)
    .option('--database-url <url>', 'PostgreSQL (default: DATABASE_URL, else the embedded server)')
    .option('--embedded-dir <path>', 'embedded server data', '.etl-bench')
    .option('--json', 'print the result as JSON')
    .parse();
  const o = cmd.opts<Options>();
  return { ...o, databaseUrl: o.databaseUrl ?? process.env.DATABASE_URL, json: Boolean(o.json) };
}

const email = (upload: number, i: number) => `u${upload}-${i}@example.com`;
const name = (upload: number, i: number) => `Person ${upload}/${i}, "quoted"`;

/** The CSV of one upload, generated while it is sent (never whole in memory). */
function csvBody(upload: number, rows: number): Readable {
  let i = 0;
  return Readable.from(
    (function* () {
      yield 'email,full_name\n';
      while (i < rows) {
        const lines: string[] = [];
        for (const end = Math.min(rows, i + 5000); i < end; i += 1)
          lines.push(`${email(upload, i)},"${name(upload, i).replaceAll('"', '""')}"`);
        yield lines.join('\n') + '\n';
      }
    })(),
  );
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function startServe(dbUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['bin/etl', 'serve', '--port', '0', '--log-format', 'json', '--worker-concurrency', '2'],
    {
      env: { ...process.env, DATABASE_URL: dbUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /"event":"serve_listening".*?"port":(\d+)/u.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`etl serve exited: ${redactSecrets(stderr)}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function createKey(dbUrl: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ['bin/etl', 'keys', 'create', '--name', 'bench', '--syncs', '*', '--scope', 'write'],
    {
      env: { ...process.env, DATABASE_URL: dbUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on('exit', resolve));
  return out.trim();
}

async function main(): Promise<void> {
  const o = options();
  const log = (m: string) => process.stderr.write(`bench: ${redactSecrets(m)}\n`);
  const server = await openServer(o.databaseUrl, o.embeddedDir, log);
  const scratch = new ScratchDatabases(server.url, log);
  try {
    const db = await scratch.create('serve');
    const token = await createKey(db.url);
    const api = await startServe(db.url);
    try {
      log(`${o.uploads} concurrent uploads of ${o.rows.toLocaleString()} rows to ${api.url}`);
      const auth = { authorization: `Bearer ${token}` };
      const ids: string[] = [];
      const started = performance.now();
      const uploads = Array.from({ length: o.uploads }, async (_, u) => {
        const answer = await fetch(`${api.url}/v1/tables/followers/imports?mode=upsert`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'text/csv' },
          body: Readable.toWeb(csvBody(u, o.rows)) as ReadableStream,
          duplex: 'half',
        });
        const body = (await answer.json()) as { id: string; status: string; error?: string };
        if (answer.status !== 202) throw new Error(`upload ${u} answered ${answer.status}: ${body.error ?? ''}`);
        ids.push(body.id);
        return body.id;
      });
      // The poller reads every import in turn while the uploads stream and merge. An upload's import
      // exists (staging) before its 202 names it: the list finds those, so the GETs are timed from the
      // first rows on, not only once the bodies are staged.
      const latencies: number[] = [];
      let whileSending = 0;
      const known = new Set<string>();
      const finished = new Set<string>();
      let sending = true;
      let refused: Error | undefined;
      const allSent = Promise.all(uploads)
        .catch((error: unknown) => (refused = error instanceof Error ? error : new Error(String(error))))
        .finally(() => (sending = false));
      while (sending || known.size < o.uploads || finished.size < known.size) {
        if (refused) throw refused;
        if (known.size < o.uploads) {
          const r = await fetch(`${api.url}/v1/imports?sync=followers&limit=500`, { headers: auth });
          const list = (await r.json()) as { imports: { id: string }[] };
          for (const i of list.imports) known.add(i.id);
        }
        for (const id of ids) known.add(id);
        for (const id of [...known].filter((k) => !finished.has(k))) {
          const t = performance.now();
          const r = await fetch(`${api.url}/v1/imports/${id}`, { headers: auth });
          const view = (await r.json()) as { status: string; error: { message: string } | null };
          latencies.push(performance.now() - t);
          if (sending) whileSending += 1;
          if (view.status === 'failed') throw new Error(`import ${id} failed: ${view.error?.message ?? ''}`);
          if (view.status === 'succeeded') finished.add(id);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await allSent;
      if (refused) throw refused;
      const seconds = (performance.now() - started) / 1000;
      const total = o.uploads * o.rows;
      const check = await query<{ n: string; digest: string }>(
        db.url,
        `SELECT count(*) AS n, md5(string_agg(email || '|' || full_name, E'\\n' ORDER BY email)) AS digest FROM followers`,
      );
      const expected = createHash('md5');
      const all: string[] = [];
      for (let u = 0; u < o.uploads; u += 1)
        for (let i = 0; i < o.rows; i += 1) all.push(`${email(u, i)}|${name(u, i)}`);
      all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expected.update(all.join('\n'));
      const sorted = [...latencies].sort((a, b) => a - b);
      const result = {
        uploads: o.uploads,
        rows_per_upload: o.rows,
        seconds: Number(seconds.toFixed(2)),
        rows_per_second: Math.round(total / seconds),
        get_requests: sorted.length,
        get_requests_while_uploading: whileSending,
        get_ms: {
          p50: Number(percentile(sorted, 50).toFixed(1)),
          p95: Number(percentile(sorted, 95).toFixed(1)),
          max: Number(sorted[sorted.length - 1].toFixed(1)),
        },
        table_ok: Number(check.rows[0].n) === total && check.rows[0].digest === expected.digest('hex'),
      };
      process.stdout.write(
        o.json
          ? JSON.stringify(result) + '\n'
          : `${result.uploads} uploads x ${result.rows_per_upload} rows: ${result.seconds}s, ${result.rows_per_second} rows/s; ` +
              `GET /v1/imports/{id} (${result.get_requests} requests, ${result.get_requests_while_uploading} while bodies streamed) p50 ${result.get_ms.p50} ms, p95 ${result.get_ms.p95} ms, max ${result.get_ms.max} ms; ` +
              `table ${result.table_ok ? 'matches' : 'DOES NOT MATCH'} the uploads\n`,
      );
      process.exitCode = result.table_ok ? 0 : 1;
    } finally {
      await api.stop();
    }
  } finally {
    await scratch.dropAll();
    await server.stop();
  }
}

await main();
