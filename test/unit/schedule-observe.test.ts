import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { startHealthServer, type HealthServer } from '../../src/observe/health.js';
import { ignoringFields, jsonLogger } from '../../src/observe/json-log.js';
import { DaemonMetrics } from '../../src/observe/metrics.js';
import { httpNotifier, type NotifyEvent } from '../../src/schedule/notify.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function receiver(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bound, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function recordingLog() {
  const warnings: string[] = [];
  return {
    warnings,
    log: {
      info: () => undefined,
      warn: (m: string) => void warnings.push(m),
      error: (m: string) => void warnings.push(m),
    },
  };
}

const event = (over: Partial<NotifyEvent> = {}): NotifyEvent => ({
  event: 'run_failed',
  table: 'followers',
  load_id: 'load-1',
  error: 'could not connect to postgres://etl:hunter2@db/etl',
  counts: { read: 3 },
  time: '2024-01-01T00:00:00.000Z',
  host: 'box',
  ...over,
});

describe('notifier', () => {
  it('POSTs the event as JSON, with secrets in the error redacted', async () => {
    const received: { method?: string; type?: string; body: unknown }[] = [];
    const url = await receiver((req, body, res) => {
      received.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
      res.end('ok');
    });
    const { log, warnings } = recordingLog();
    const notifier = httpNotifier(`${url}/hooks/secret-token`, 2000, log);
    notifier.send(event());
    await notifier.flush(5000);
    expect(received).toEqual([
      {
        method: 'POST',
        type: 'application/json',
        body: {
          event: 'run_failed',
          table: 'followers',
          load_id: 'load-1',
          error: 'could not connect to postgres://etl:***@db/etl',
          counts: { read: 3 },
          time: '2024-01-01T00:00:00.000Z',
          host: 'box',
        },
      },
    ]);
    expect(warnings).toEqual([]);
  });

  it('returns at once and only warns when the receiver hangs past the timeout', async () => {
    const url = await receiver(() => undefined); // never answers
    const { log, warnings } = recordingLog();
    const notifier = httpNotifier(`${url}/hooks/secret-token`, 200, log);
    // Nothing to await: the caller (a finished run) goes on while the POST is in flight.
    expect(notifier.send(event())).toBeUndefined();
    await notifier.flush(5000);
    expect(warnings).toEqual([`notify: could not deliver the run_failed event to ${url} (no answer within 200ms)`]);
    expect(warnings.join()).not.toContain('secret-token');
  });

  it('warns about an error status or an unreachable receiver, naming only its origin', async () => {
    const url = await receiver((_req, _body, res) => {
      res.statusCode = 500;
      res.end();
    });
    const { log, warnings } = recordingLog();
    const failing = httpNotifier(`${url}/t0k3n`, 2000, log);
    failing.send(event({ event: 'breaker_opened' }));
    await failing.flush(5000);
    const nobody = await unusedPort();
    const closed = httpNotifier(`http://127.0.0.1:${nobody}/t0k3n`, 2000, log);
    closed.send(event());
    await closed.flush(5000);
    expect(warnings).toEqual([
      `notify: ${url} answered 500 to the breaker_opened event`,
      `notify: could not deliver the run_failed event to http://127.0.0.1:${nobody} (ECONNREFUSED)`,
    ]);
  });
});

describe('JSON log', () => {
  it('writes one JSON object per line with time, level, message and fields, secrets redacted', () => {
    const lines: string[] = [];
    const log = jsonLogger({ write: (l) => void lines.push(l), now: () => new Date('2024-01-01T00:00:00Z') });
    log.info('connected to postgres://etl:hunter2@db/etl', {
      event: 'x',
      load_id: 'l1',
      when: new Date('2024-01-02T00:00:00Z'),
      nested: { url: 'postgres://a:b@c/d' },
      skipped: undefined,
    });
    log.warn('careful');
    log.error('failed', { msg: 'cannot replace the message', cause: new Error('postgres://u:pw@h/db refused') });
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        time: '2024-01-01T00:00:00.000Z',
        level: 'info',
        msg: 'connected to postgres://etl:***@db/etl',
        event: 'x',
        load_id: 'l1',
        when: '2024-01-02T00:00:00.000Z',
        nested: { url: 'postgres://a:***@c/d' },
      },
      { time: '2024-01-01T00:00:00.000Z', level: 'warn', msg: 'careful' },
      { time: '2024-01-01T00:00:00.000Z', level: 'error', msg: 'failed', cause: 'postgres://u:***@h/db refused' },
    ]);
  });

  it('adapts a text logger by dropping the fields', () => {
    const seen: string[] = [];
    const log = ignoringFields({
      info: (m) => void seen.push(`i ${m}`),
      warn: (m) => void seen.push(`w ${m}`),
      error: (m) => void seen.push(`e ${m}`),
    });
    log.info('a', { event: 'x' });
    log.warn('b');
    log.error('c', { load_id: 'y' });
    expect(seen).toEqual(['i a', 'w b', 'e c']);
  });
});

describe('metrics', () => {
  it('counts runs by status, rows by kind, skipped ticks and retries, in a registry of its own', async () => {
    const daemon = new DaemonMetrics();
    const metrics = daemon.forSync({ table: 'followers' });
    const finished = new Date('2024-01-01T00:00:10Z');
    metrics.runFinished(
      'succeeded',
      2500,
      { read: 10, staged: 10, inserted: 4, updated: 3, unchanged: 3, deleted: 1, rejected: 0, duplicates: 0 },
      finished,
    );
    metrics.runFinished('failed', 100);
    metrics.runFinished('locked', 5);
    metrics.tickSkipped('overlap');
    metrics.retried();
    metrics.breakerState('open');
    metrics.nextRun(new Date('2024-01-01T01:00:00Z'));
    const { contentType, body } = await daemon.render();
    expect(contentType).toMatch(/^text\/plain/);
    for (const line of [
      'etl_sync_runs_total{table="followers",status="succeeded"} 1',
      'etl_sync_runs_total{table="followers",status="failed"} 1',
      'etl_sync_runs_total{table="followers",status="locked"} 1',
      'etl_sync_runs_total{table="followers",status="aborted"} 0',
      'etl_sync_rows_total{table="followers",kind="inserted"} 4',
      'etl_sync_rows_total{table="followers",kind="deleted"} 1',
      'etl_sync_last_success_timestamp_seconds{table="followers"} 1704067210',
      'etl_sync_duration_seconds_count{table="followers",status="succeeded"} 1',
      'etl_sync_duration_seconds_bucket{le="5",table="followers",status="succeeded"} 1',
      'etl_sync_duration_seconds_bucket{le="1",table="followers",status="succeeded"} 0',
      'etl_daemon_ticks_skipped_total{table="followers",reason="overlap"} 1',
      'etl_daemon_ticks_skipped_total{table="followers",reason="breaker"} 0',
      'etl_sync_retries_total{table="followers"} 1',
      'etl_daemon_breaker_state{table="followers"} 2',
      'etl_daemon_next_run_timestamp_seconds{table="followers"} 1704070800',
    ]) {
      expect(body.split('\n')).toContain(line);
    }
    expect(body).toContain('process_cpu_seconds_total');
    // Two daemons in one process (or a host program's own metrics) never collide.
    expect(() => new DaemonMetrics().forSync({ table: 'followers' })).not.toThrow();
  });
});

describe('health server', () => {
  async function start(healthy: boolean): Promise<HealthServer> {
    const server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      report: async () => ({ healthy, body: { status: healthy ? 'ok' : 'unavailable' } }),
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'etl_x 1\n' }),
    });
    cleanups.push(() => server.close());
    return server;
  }

  it('answers /healthz with 200 and the report when healthy, 503 when not', async () => {
    const up = await start(true);
    const ok = await fetch(`http://127.0.0.1:${up.port}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    const down = await start(false);
    const bad = await fetch(`http://127.0.0.1:${down.port}/healthz`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toEqual({ status: 'unavailable' });
  });

  it('serves /metrics, 404 elsewhere and 405 for other methods', async () => {
    const server = await start(true);
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${base}/metrics`);
    expect([metrics.status, metrics.headers.get('content-type'), await metrics.text()]).toEqual([
      200,
      'text/plain; version=0.0.4; charset=utf-8',
      'etl_x 1\n',
    ]);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('reports a port already in use as a setting to change', async () => {
    const server = await start(true);
    const error = await startHealthServer({
      host: '127.0.0.1',
      port: server.port,
      report: async () => ({ healthy: true, body: {} }),
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(`^HEALTH_PORT \\(--health-port\\) ${server.port} on 127.0.0.1 cannot be used \\(EADDRINUSE\\)`),
    );
  });
});
