/** GET /healthz, /metrics, /openapi.json, the status page at /, and the recent loads it shows. */
import type { FastifyInstance } from 'fastify';
import { countPending } from '../../store/imports.js';
import type { ApiContext } from '../context.js';
import { OPENAPI } from '../openapi.js';
import { STATUS_PAGE } from '../status-page.js';
import { caller } from './imports.js';

export function systemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', async (_request, reply) => {
    let database = false;
    let pending: number | null = null;
    try {
      await ctx.pool.query('SELECT 1');
      pending = await countPending(ctx.pool);
      database = true;
    } catch {
      // Reported as database: false.
    }
    const ok = database && !ctx.stopping.aborted;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : ctx.stopping.aborted ? 'stopping' : 'unhealthy',
      database,
      worker: ctx.worker,
      pending_imports: pending,
      syncs: ctx.catalog.names(),
    });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  app.get('/openapi.json', async () => OPENAPI);

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));

  // The scheduled and CLI loads next to the imports, for the status page: the load history, newest first.
  app.get<{ Querystring: Record<string, string> }>('/v1/loads', async (request) => {
    const who = await caller(ctx, request);
    const r = await ctx.pool.query<Record<string, unknown>>(
      `SELECT load_id, table_name, source, status, started_at, finished_at, rows_read, rows_inserted, rows_updated,
              rows_unchanged, rows_deleted, rows_rejected, rows_duplicate, dry_run, error
         FROM etl_info_schema.loads
        WHERE '*' = ANY($1::text[]) OR table_name = ANY($1::text[])
        ORDER BY started_at DESC LIMIT 20`,
      [who.syncs],
    );
    return {
      loads: r.rows.map((l) => ({
        load_id: l.load_id,
        table: l.table_name,
        source: l.source,
        status: l.status,
        dry_run: l.dry_run,
        started_at: (l.started_at as Date).toISOString(),
        finished_at: l.finished_at ? (l.finished_at as Date).toISOString() : null,
        counts: {
          read: Number(l.rows_read),
          inserted: Number(l.rows_inserted),
          updated: Number(l.rows_updated),
          unchanged: Number(l.rows_unchanged),
          deleted: Number(l.rows_deleted),
          rejected: Number(l.rows_rejected),
          duplicates: Number(l.rows_duplicate),
        },
        error: l.error,
      })),
    };
  });
}
