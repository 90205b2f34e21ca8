/**
 * --health-port: GET /healthz (200 when healthy, 503 otherwise, with a JSON report either way)
 * and GET /metrics (Prometheus text). What "healthy" means is the caller's business.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';

export interface HealthReport {
  healthy: boolean;
  body: Record<string, unknown>;
}

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (the chosen one is in the result). */
  port: number;
  report(): Promise<HealthReport>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent)
        send(response, 500, 'text/plain; charset=utf-8', `internal error: ${(error as Error).message}\n`);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new ConfigError(
              `HEALTH_PORT (--health-port) ${options.port} on ${options.host} cannot be used (${error.code}); pick another port, or 0 for any free one`,
            )
          : error,
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  // A probe that keeps its connection open must not hold the shutdown up.
  server.keepAliveTimeout = 5000;
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, options: HealthServerOptions): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/healthz') {
    const report = await options.report();
    return send(
      response,
      report.healthy ? 200 : 503,
      'application/json; charset=utf-8',
      JSON.stringify(report.body) + '\n',
    );
  }
  if (path === '/metrics') {
    const metrics = await options.metrics();
    return send(response, 200, metrics.contentType, metrics.body);
  }
  send(response, 404, 'text/plain; charset=utf-8', 'not found: try /healthz or /metrics\n');
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
