/**
 * The fastify application of etl serve. Request bodies are never parsed or buffered by fastify:
 * every content type reaches the routes as the raw stream, so an upload flows straight into
 * staging and its size is checked as it arrives.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { redactSecrets } from '../observe/redact.js';
import { messageOf } from '../errors.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { bulkRoutes } from './routes/bulk.js';
import { importRoutes } from './routes/imports.js';
import { rejectsRoutes } from './routes/rejects.js';
import { systemRoutes } from './routes/system.js';

export function buildApp(ctx: ApiContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    // Long uploads: the connection may stay open as long as the client keeps sending.
    requestTimeout: 0,
    // Requests that still arrive while the server closes get the JSON error of the hook below.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // After SIGTERM: no new work. /healthz still answers (503, "stopping") and /metrics stays readable.
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0];
    if (ctx.stopping.aborted && path !== '/healthz' && path !== '/metrics')
      throw new ApiError(503, 'shutting_down', 'this server is shutting down; send the request to another replica', {
        'Retry-After': '5',
        Connection: 'close',
      });
  });

  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.answered(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
      return reply.code(error.status).send({ error: error.message, code: error.code });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return reply.code(status).send({ error: redactSecrets(messageOf(error)), code: 'bad_request' });
    ctx.log.error(`${request.method} ${request.url} failed: ${redactSecrets(messageOf(error))}`, {
      event: 'request_failed',
    });
    return reply.code(500).send({ error: 'internal error; see the server log', code: 'internal' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}`, code: 'not_found' }),
  );

  importRoutes(app, ctx);
  rejectsRoutes(app, ctx);
  bulkRoutes(app, ctx);
  systemRoutes(app, ctx);
  return app;
}
