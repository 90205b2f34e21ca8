/**
 * The original bulk API, kept for its clients: PUT /{sync}/_bulk registers a file by URL (or takes
 * the data), GET /{sync}/_bulk/status/{id} answers queued, processing, complete or error.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { bulkStatus } from '../views.js';
import { caller, createImport, readableImport, viewOf } from './imports.js';

export function bulkRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.put<{ Params: { sync: string }; Querystring: Record<string, string> }>('/:sync/_bulk', async (request, reply) =>
    createImport(ctx, request.params.sync, request, reply),
  );

  app.get<{ Params: { sync: string; id: string } }>('/:sync/_bulk/status/:id', async (request) => {
    const who = await caller(ctx, request);
    const row = await readableImport(ctx, who, request.params.id);
    if (row.sync !== request.params.sync) throw notFound(`import ${request.params.id} of ${request.params.sync}`);
    const view = await viewOf(ctx, row);
    return { id: view.id, status: bulkStatus(row.status), import: view };
  });
}
