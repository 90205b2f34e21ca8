/** /v1 imports: create (a URL or an uploaded body), read, long-poll, list, cancel. Thin shells over the store. */
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { redactSecrets } from '../../observe/redact.js';
import { messageOf } from '../../errors.js';
import { parseHttpUrl } from '../../source/http.js';
import { isS3Url, parseS3Url } from '../../source/s3-location.js';
import { redactUrl } from '../../observe/redact.js';
import {
  countPending,
  FINISHED,
  getImport,
  IMPORT_STATUSES,
  insertImport,
  listImports,
  patchImport,
  releaseIdempotencyKey,
  type ImportOptions,
  type ImportRow,
  type ImportStatus,
} from '../../store/imports.js';
import { authenticate, authorize, type Caller } from '../auth.js';
import { peekFirstByte, readSmall } from '../body.js';
import { importOptions } from '../catalog.js';
import type { ApiContext } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { importErrorCode } from '../failure.js';
import { enqueueImport } from '../queue.js';
import { discardUpload } from '../upload-merge.js';
import { importView, loadCounts } from '../views.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/iu;
const MAX_URL_BODY = 64 * 1024;
const MAX_WAIT_SECONDS = 60;
const WAIT_POLL_MS = 200;
/** Upload formats by Content-Type; application/json may also be `{ "url": ... }`. */
const UPLOAD_TYPES: Record<string, ImportOptions['format']> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/json': 'json',
};

export const caller = (ctx: ApiContext, request: FastifyRequest): Promise<Caller> =>
  authenticate(ctx.pool, request.headers.authorization, ctx.insecureNoAuth);

export function checkImportId(id: string, field = 'id'): string {
  if (!UUID.test(id)) throw badRequest(field, `must be an import id (a UUID), got ${JSON.stringify(id)}`);
  return id.toLowerCase();
}

/** The import, if the caller may read its sync; otherwise the same 404 as an unknown id. */
export async function readableImport(ctx: ApiContext, who: Caller, id: string): Promise<ImportRow> {
  const row = await getImport(ctx.pool, checkImportId(id));
  if (!row || !who.allows(row.sync, 'read')) throw notFound(`import ${id}`);
  return row;
}

export async function viewOf(ctx: ApiContext, row: ImportRow) {
  const counts = row.loadId ? (await loadCounts(ctx.pool, [row.loadId])).get(row.loadId) : undefined;
  return importView(row, counts);
}

function answerCreated(reply: FastifyReply, view: Awaited<ReturnType<typeof viewOf>>, replayed: boolean) {
  reply.header('Location', view.links.self);
  if (replayed) reply.header('Idempotency-Replayed', 'true');
  return reply.code(202).send({ id: view.id, status: view.status, links: view.links, import: view });
}

function idempotencyKey(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length === 0 || key.length > 255)
    throw badRequest('Idempotency-Key', 'must be one header of 1 to 255 characters');
  return key;
}

/** The same key with a different request is a client bug, never a silent second import. */
function sameRequest(existing: ImportRow, hash: string): void {
  if (existing.requestHash === null)
    throw new ApiError(
      409,
      'idempotency_in_progress',
      `an import with this Idempotency-Key (${existing.importId}) is still receiving its body; retry when it has answered`,
    );
  if (existing.requestHash !== hash)
    throw new ApiError(
      422,
      'idempotency_mismatch',
      `this Idempotency-Key was used for a different request (import ${existing.importId})`,
    );
}

async function checkCapacity(ctx: ApiContext): Promise<void> {
  if (ctx.stopping.aborted)
    throw new ApiError(503, 'shutting_down', 'this server is shutting down; send the import to another replica', {
      'Retry-After': '5',
    });
  const pending = await countPending(ctx.pool);
  if (pending >= ctx.settings.maxPending)
    throw new ApiError(
      429,
      'too_many_imports',
      `${pending} imports are queued or running (--max-pending ${ctx.settings.maxPending}); retry later`,
      { 'Retry-After': '10' },
    );
}

interface CreateInput {
  sync: string;
  who: Caller;
  options: ImportOptions;
  idempotency?: string;
}

async function createUrlImport(ctx: ApiContext, input: CreateInput, body: string, reply: FastifyReply) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw badRequest('body', `is not valid JSON (${messageOf(error)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw badRequest('body', 'must be an object { "url": "https://..." or "s3://bucket/key" } or the data itself');
  const fields = parsed as Record<string, unknown>;
  for (const k of Object.keys(fields))
    if (k !== 'url') throw badRequest(k, 'is not a known field (the body takes only "url")');
  if (typeof fields.url !== 'string' || fields.url === '')
    throw badRequest('url', 'is required: an http://, https:// or s3:// URL');
  try {
    if (isS3Url(fields.url)) parseS3Url(fields.url, 'url');
    else parseHttpUrl(fields.url, 'url');
  } catch (error) {
    throw badRequest('url', messageOf(error).replace(/^url: /u, ''));
  }
  const hash = createHash('sha256')
    .update(JSON.stringify(['url', fields.url, input.options]))
    .digest('hex');
  const { row, created } = await insertImport(ctx.pool, {
    importId: randomUUID(),
    sync: input.sync,
    kind: 'url',
    source: redactUrl(fields.url),
    url: fields.url,
    options: input.options,
    status: 'queued',
    idempotencyKey: input.idempotency,
    requestHash: hash,
    keyName: input.who.name,
  });
  if (!created) sameRequest(row, hash);
  else await enqueueImport(ctx.boss, row.importId);
  return answerCreated(reply, await viewOf(ctx, row), !created);
}

async function createUpload(
  ctx: ApiContext,
  input: CreateInput,
  format: NonNullable<ImportOptions['format']>,
  body: Readable,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const length = Number(request.headers['content-length']);
  if (Number.isFinite(length) && length > ctx.settings.maxBodyBytes)
    throw new ApiError(
      413,
      'body_too_large',
      `the body (${length} bytes) is larger than --max-body (${ctx.settings.maxBodyBytes} bytes)`,
    );
  const options = { ...input.options, format };
  const fresh = {
    importId: randomUUID(),
    sync: input.sync,
    kind: 'upload' as const,
    source: `upload (${format})`,
    options,
    status: 'staging' as const,
    idempotencyKey: input.idempotency,
    keyName: input.who.name,
    bytesTotal: Number.isFinite(length) ? length : undefined,
  };
  let { row, created } = await insertImport(ctx.pool, fresh);
  if (!created && row.requestHash === null && FINISHED.includes(row.status)) {
    // The earlier upload with this key ended before its body was staged: the key is free again.
    await releaseIdempotencyKey(ctx.pool, row.importId);
    ({ row, created } = await insertImport(ctx.pool, fresh));
  }
  if (!created) {
    const hash = await ctx.uploads.hashOnly(body, options);
    sameRequest(row, hash);
    return answerCreated(reply, await viewOf(ctx, row), true);
  }
  const config = ctx.catalog.forImport(input.sync, options, '-');
  try {
    const queued = await ctx.uploads.stage(row, config, body, options);
    await enqueueImport(ctx.boss, row.importId);
    return answerCreated(reply, await viewOf(ctx, queued), false);
  } catch (error) {
    const apiError = apiErrorIn(error);
    const code = apiError?.code ?? importErrorCode(error);
    const canceled = code === 'canceled';
    const failed = await patchImport(ctx.pool, row.importId, {
      status: canceled ? 'canceled' : 'failed',
      finished: true,
      error: redactSecrets(messageOf(error)),
      errorCode: code,
    });
    ctx.metrics.finished(failed!);
    const view = await viewOf(ctx, failed!);
    reply.header('Location', view.links.self);
    for (const [name, value] of Object.entries(apiError?.headers ?? {})) reply.header(name, value);
    // The body's own problems (bad rows over max_errors, an unusable header) are the client's: 422.
    return reply.code(apiError?.status ?? (canceled ? 409 : 422)).send({
      error: view.error!.message,
      code: view.error!.code,
      id: view.id,
      status: view.status,
      links: view.links,
      import: view,
    });
  }
}

/** An ApiError anywhere in the cause chain (a 413 raised inside the source reader arrives wrapped). */
function apiErrorIn(error: unknown): ApiError | undefined {
  for (let e = error, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth += 1)
    if (e instanceof ApiError) return e;
  return undefined;
}

export function importRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { sync: string }; Querystring: Record<string, string> }>(
    '/v1/tables/:sync/imports',
    async (request, reply) => createImport(ctx, request.params.sync, request, reply),
  );

  app.get<{ Params: { id: string } }>('/v1/imports/:id', async (request, reply) => {
    const who = await caller(ctx, request);
    let row = await readableImport(ctx, who, request.params.id);
    const wait = preferWait(request.headers.prefer);
    if (wait > 0) {
      reply.header('Preference-Applied', `wait=${wait}`);
      row = await waitForChange(ctx, row, wait, request);
    }
    return viewOf(ctx, row);
  });

  app.get<{ Querystring: Record<string, string> }>('/v1/imports', async (request) => {
    const who = await caller(ctx, request);
    const q = request.query;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw badRequest('limit', `must be a whole number from 1 to 500, got ${JSON.stringify(q.limit)}`);
    if (q.status !== undefined && !IMPORT_STATUSES.includes(q.status as ImportStatus))
      throw badRequest('status', `must be one of ${IMPORT_STATUSES.join(', ')}, got ${JSON.stringify(q.status)}`);
    if (q.sync !== undefined) {
      if (!ctx.catalog.base(q.sync)) throw new ApiError(404, 'unknown_sync', `no sync named ${JSON.stringify(q.sync)}`);
      authorize(who, q.sync, 'read');
    }
    const after = q.cursor === undefined ? undefined : checkImportId(q.cursor, 'cursor');
    const rows = await listImports(ctx.pool, {
      sync: q.sync,
      status: q.status as ImportStatus | undefined,
      syncs: who.syncs,
      limit: limit + 1,
      after,
    });
    const page = rows.slice(0, limit);
    const counts = await loadCounts(
      ctx.pool,
      page.flatMap((r) => (r.loadId ? [r.loadId] : [])),
    );
    return {
      imports: page.map((r) => importView(r, r.loadId ? counts.get(r.loadId) : undefined)),
      next_cursor: rows.length > limit ? page[page.length - 1].importId : null,
    };
  });

  app.post<{ Params: { id: string } }>('/v1/imports/:id/cancel', async (request, reply) => {
    const who = await caller(ctx, request);
    const row = await readableImport(ctx, who, request.params.id);
    authorize(who, row.sync, 'write');
    if (FINISHED.includes(row.status))
      throw new ApiError(409, 'already_finished', `import ${row.importId} already ${row.status}; nothing to cancel`);
    const canceled = await patchImport(
      ctx.pool,
      row.importId,
      {
        status: 'canceled',
        finished: true,
        error: 'canceled before it started',
        errorCode: 'canceled',
        cancelRequested: true,
      },
      ['queued'],
    );
    if (canceled) {
      if (canceled.kind === 'upload') await discardUpload(canceled, ctx.catalog, ctx.db);
      ctx.metrics.finished(canceled);
      return reply.code(200).send(await viewOf(ctx, canceled));
    }
    // Running: its worker (or the process receiving its body) sees the request and rolls back.
    const requested = await patchImport(ctx.pool, row.importId, { cancelRequested: true }, ['staging', 'merging']);
    const now = requested ?? (await getImport(ctx.pool, row.importId))!;
    return reply.code(FINISHED.includes(now.status) ? 200 : 202).send(await viewOf(ctx, now));
  });
}

/** POST /v1/tables/{sync}/imports and PUT /{sync}/_bulk: a URL to fetch, or the data itself. */
export async function createImport(
  ctx: ApiContext,
  sync: string,
  request: FastifyRequest<{ Querystring: Record<string, string> }>,
  reply: FastifyReply,
) {
  const who = await caller(ctx, request);
  const base = ctx.catalog.base(sync);
  if (!base)
    throw new ApiError(
      404,
      'unknown_sync',
      `no sync named ${JSON.stringify(sync)} (known: ${ctx.catalog.names().join(', ')})`,
    );
  authorize(who, sync, 'write');
  const input: CreateInput = {
    sync,
    who,
    options: importOptions(request.query, base),
    idempotency: idempotencyKey(request),
  };
  const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const format = UPLOAD_TYPES[type];
  if (!format)
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Type must be application/json ({ "url" } or a JSON array), text/csv or application/x-ndjson; got ${JSON.stringify(type || 'none')}`,
    );
  const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip')
    throw new ApiError(
      415,
      'unsupported_encoding',
      `Content-Encoding must be gzip or none; got ${JSON.stringify(encoding)}`,
    );
  await checkCapacity(ctx);
  let body = request.body as Readable;
  if (format === 'json' && encoding === 'identity') {
    const peeked = await peekFirstByte(body);
    body = peeked.stream;
    if (peeked.first === 0x7b /* { */) return createUrlImport(ctx, input, await readSmall(body, MAX_URL_BODY), reply);
  }
  return createUpload(ctx, input, format, body, request, reply);
}

function preferWait(value: string | string[] | undefined): number {
  const header = Array.isArray(value) ? value.join(',') : value;
  const m = header ? /(?:^|[,;\s])wait=(\d+)/u.exec(header) : null;
  return m ? Math.min(Number(m[1]), MAX_WAIT_SECONDS) : 0;
}

/** Returns as soon as the import changed (or finished), or when `seconds` have passed. */
async function waitForChange(
  ctx: ApiContext,
  row: ImportRow,
  seconds: number,
  request: FastifyRequest,
): Promise<ImportRow> {
  if (FINISHED.includes(row.status)) return row;
  const deadline = Date.now() + seconds * 1000;
  const since = row.updatedAt.getTime();
  while (Date.now() < deadline && !request.raw.destroyed && !ctx.stopping.aborted) {
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    const now = await getImport(ctx.pool, row.importId);
    if (!now || now.updatedAt.getTime() !== since) return now ?? row;
  }
  return row;
}
