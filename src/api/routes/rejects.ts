/** GET /v1/imports/{id}/rejects: the bad rows of an import's load, NDJSON or CSV, a page at a time. */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { badRequest } from '../errors.js';
import { caller, readableImport } from './imports.js';

const csvField = (value: string | number) => {
  const s = String(value);
  return /[",\r\n]/u.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

export function rejectsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/v1/imports/:id/rejects',
    async (request, reply) => {
      const who = await caller(ctx, request);
      const row = await readableImport(ctx, who, request.params.id);
      const q = request.query;
      const limit = q.limit === undefined ? 1000 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        throw badRequest('limit', `must be a whole number from 1 to 100000, got ${JSON.stringify(q.limit)}`);
      const after = q.cursor === undefined ? 0 : Number(q.cursor);
      if (!Number.isInteger(after) || after < 0)
        throw badRequest('cursor', `must be the line number a previous page ended at, got ${JSON.stringify(q.cursor)}`);
      const r = row.loadId
        ? await ctx.pool.query<{ line: string; reason: string; raw: string }>(
            `SELECT line, reason, raw FROM etl_info_schema.rejects WHERE load_id = $1 AND line > $2
              ORDER BY line LIMIT $3`,
            [row.loadId, after, limit + 1],
          )
        : { rows: [] };
      const page = r.rows.slice(0, limit);
      if (r.rows.length > limit) {
        const next = `/v1/imports/${row.importId}/rejects?cursor=${page[page.length - 1].line}&limit=${limit}`;
        reply.header('Link', `<${next}>; rel="next"`);
      }
      const csv = (request.headers.accept ?? '').includes('text/csv');
      if (csv) {
        reply.type('text/csv; charset=utf-8');
        return (
          ['line,reason,raw', ...page.map((x) => `${x.line},${csvField(x.reason)},${csvField(x.raw)}`)].join('\n') +
          '\n'
        );
      }
      reply.type('application/x-ndjson');
      return page.map((x) => JSON.stringify({ line: Number(x.line), reason: x.reason, raw: x.raw }) + '\n').join('');
    },
  );
}
