/** Helpers for the etl serve tests: a running `etl serve` (or `etl worker`), a key, a file server, requests. */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished, keepAcrossTests, runCli, startCli, tempFile, waitFor, type CliResult } from './sync.js';

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:port (empty for a worker). */
  url: string;
  stderr(): string;
  events(name?: string): Record<string, unknown>[];
  waitForEvent(
    name: string,
    what?: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
  exited: Promise<CliResult>;
}

const running = new Set<Served>();
const noEnvFile = tempFile('', 'empty.env');

/** Fast settings for tests: a dead worker's job is offered again within a few seconds. */
export const FAST_QUEUE = ['--job-timeout', '3s', '--queue-maintenance', '1s'];

export async function startServe(
  command: 'serve' | 'worker',
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string; sharedByFile?: boolean } = {},
): Promise<Served> {
  const extra = command === 'serve' ? ['--port', '0'] : [];
  const child = startCli(
    [command, '--env-file', noEnvFile, '--log-format', 'json', ...extra, ...args],
    env,
    options.cwd,
  );
  // Started in beforeAll: killServers() in the file's afterAll stops it, not the per-test cleanup.
  if (options.sharedByFile) keepAcrossTests(child);
  child.stdin?.end();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = finished(child);
  let done = false;
  void exited.then(() => (done = true));
  const events = (name?: string) =>
    stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => name === undefined || e.event === name);
  const served: Served = {
    child,
    url: '',
    stderr: () => stderr,
    events,
    exited,
    async waitForEvent(name, what = () => true, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          if (done) throw new Error(`etl ${command} exited while waiting for ${name}:\n${stderr}`);
          return events(name).find(what);
        },
        timeoutMs,
        `log event ${name}\n--- output so far ---\n${stderr}`,
      );
    },
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
  running.add(served);
  void exited.then(() => running.delete(served));
  const ready = await served.waitForEvent(command === 'serve' ? 'serve_listening' : 'worker_started');
  if (command === 'serve') served.url = `http://127.0.0.1:${String(ready.port)}`;
  return served;
}

export async function killServers(): Promise<void> {
  await Promise.all(
    [...running].map((s) => {
      s.child.kill('SIGKILL');
      return s.exited;
    }),
  );
}

/** Creates an API key with `etl keys create` and returns its token. */
export async function createKey(dbUrl: string, name: string, syncs: string, scope: 'read' | 'write'): Promise<string> {
  const r = await runCli(
    ['keys', 'create', '--env-file', noEnvFile, '--name', name, '--syncs', syncs, '--scope', scope],
    {
      DATABASE_URL: dbUrl,
    },
  );
  if (r.code !== 0) throw new Error(`etl keys create failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** A local HTTP server with files to import by URL; a `slow` path sends its file in 10 parts, `pauseMs` apart. */
export async function fileServer(
  files: Record<string, string | Buffer>,
  slow: { paths: string[]; pauseMs: number } = { paths: [], pauseMs: 0 },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const body = files[request.url ?? ''];
    if (body === undefined) {
      response.writeHead(404).end('not found');
      return;
    }
    const bytes = Buffer.from(body);
    response.writeHead(200, { 'Content-Length': bytes.length });
    if (!slow.paths.includes(request.url ?? '')) {
      response.end(bytes);
      return;
    }
    const part = Math.ceil(bytes.length / 10);
    let sent = 0;
    const next = () => {
      if (response.destroyed) return;
      response.write(bytes.subarray(sent, sent + part));
      sent += part;
      if (sent >= bytes.length) response.end();
      else setTimeout(next, slow.pauseMs);
    };
    next();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const answer = await fetch(base + path, { method, headers, body });
  const text = await answer.text();
  const type = answer.headers.get('content-type') ?? '';
  return {
    status: answer.status,
    headers: answer.headers,
    body: (type.includes('application/json') ? JSON.parse(text) : text) as T,
  };
}

export interface ImportAnswer {
  id: string;
  status: string;
  counts: Record<string, number> | null;
  error: { message: string; code: string } | null;
  attempts: number;
  load_id: string | null;
  links: { self: string; rejects: string };
  [k: string]: unknown;
}

/** Long-polls GET /v1/imports/{id} until the import is finished. */
export async function waitForImport(
  base: string,
  id: string,
  token?: string,
  timeoutMs = 90_000,
): Promise<ImportAnswer> {
  return waitFor(
    async () => {
      const r = await call<ImportAnswer>(base, 'GET', `/v1/imports/${id}`, { token, headers: { prefer: 'wait=5' } });
      return ['succeeded', 'failed', 'canceled'].includes(r.body.status) ? r.body : undefined;
    },
    timeoutMs,
    `import ${id} to finish`,
  );
}
