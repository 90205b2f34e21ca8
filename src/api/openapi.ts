/**
 * The OpenAPI document of etl serve, served at /openapi.json. Kept by hand next to the routes; a
 * test checks that its paths and methods are exactly the routes the server registers.
 */
const error = { $ref: '#/components/schemas/Error' };
const errorAnswer = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
const importAnswer = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Import' } } },
});
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const syncParam = {
  name: 'sync',
  in: 'path',
  required: true,
  description: 'followers, or the name of a sync in the config file',
  schema: { type: 'string' },
};
const importOptions = [
  {
    name: 'mode',
    in: 'query',
    schema: { enum: ['mirror', 'upsert', 'append'] },
    description: 'only as strict as the sync allows: upsert for a mirror sync',
  },
  { name: 'dry_run', in: 'query', schema: { type: 'boolean' } },
  {
    name: 'max_errors',
    in: 'query',
    schema: { type: 'integer', minimum: 0 },
    description: 'at most the sync’s max_errors',
  },
  {
    name: 'max_delete',
    in: 'query',
    schema: { type: 'number', minimum: 0, maximum: 100 },
    description: 'at most the sync’s max_delete',
  },
  { name: 'allow_empty', in: 'query', schema: { type: 'boolean' }, description: 'true only when the sync allows it' },
];
const createBody = {
  required: true,
  content: {
    'application/json': {
      schema: {
        oneOf: [
          {
            type: 'object',
            required: ['url'],
            additionalProperties: false,
            properties: { url: { type: 'string', format: 'uri' } },
          },
          { type: 'array', items: { type: 'object' }, description: 'the records themselves' },
        ],
      },
    },
    'text/csv': { schema: { type: 'string' } },
    'application/x-ndjson': { schema: { type: 'string' } },
  },
  description:
    'a URL for a worker to fetch (http(s):// or s3://), or the data (Content-Encoding: gzip accepted), streamed into staging as it arrives',
};
const createAnswers = {
  '202': {
    description: 'accepted: the import is queued (a URL, or a body fully staged)',
    headers: { Location: { schema: { type: 'string' } } },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Created' } } },
  },
  '400': errorAnswer('a bad option or body field (named in error)'),
  '401': errorAnswer('no or an invalid API key'),
  '403': errorAnswer('the key may not write this sync'),
  '404': errorAnswer('unknown sync'),
  '409': errorAnswer(
    'the Idempotency-Key belongs to an upload still in progress, or the import was canceled while uploading',
  ),
  '413': errorAnswer('the body is larger than --max-body'),
  '415': errorAnswer('an unsupported Content-Type or Content-Encoding'),
  '422': errorAnswer(
    'the body failed to stage (too many bad rows, unreadable data), or the Idempotency-Key was used for another request',
  ),
  '429': errorAnswer('too many imports queued or running; see Retry-After'),
  '503': errorAnswer('the server is shutting down'),
};
const createParams = [
  syncParam,
  ...importOptions,
  { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } },
];

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'etl serve',
    version: '1',
    description: 'Bulk imports into PostgreSQL tables, run by a queue that any number of replicas share.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'etl keys create' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'code'],
        properties: { error: { type: 'string' }, code: { type: 'string' } },
      },
      Counts: {
        type: 'object',
        properties: Object.fromEntries(
          ['read', 'inserted', 'updated', 'unchanged', 'deleted', 'rejected', 'duplicates'].map((k) => [
            k,
            { type: 'integer' },
          ]),
        ),
      },
      Import: {
        type: 'object',
        required: ['id', 'sync', 'status', 'links'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          sync: { type: 'string' },
          kind: { enum: ['url', 'upload'] },
          source: { type: 'string' },
          status: { enum: ['queued', 'staging', 'merging', 'succeeded', 'failed', 'canceled'] },
          options: { type: 'object' },
          load_id: { type: ['string', 'null'] },
          progress: {
            type: 'object',
            properties: {
              bytes: { type: 'integer' },
              bytes_total: { type: ['integer', 'null'] },
              rows: { type: 'integer' },
              rows_staged: { type: ['integer', 'null'] },
            },
          },
          counts: { oneOf: [{ $ref: '#/components/schemas/Counts' }, { type: 'null' }] },
          attempts: { type: 'integer' },
          cancel_requested: { type: 'boolean' },
          error: {
            oneOf: [
              { type: 'null' },
              { type: 'object', properties: { message: { type: 'string' }, code: { type: 'string' } } },
            ],
          },
          created_at: { type: 'string', format: 'date-time' },
          started_at: { type: ['string', 'null'], format: 'date-time' },
          finished_at: { type: ['string', 'null'], format: 'date-time' },
          updated_at: { type: 'string', format: 'date-time' },
          duration_ms: { type: ['number', 'null'] },
          links: { type: 'object', properties: { self: { type: 'string' }, rejects: { type: 'string' } } },
        },
      },
      Created: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          status: { type: 'string' },
          links: { type: 'object' },
          import: { $ref: '#/components/schemas/Import' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/tables/{sync}/imports': {
      post: {
        summary: 'Start an import: a URL to fetch, or the data',
        parameters: createParams,
        requestBody: createBody,
        responses: createAnswers,
      },
    },
    '/v1/imports': {
      get: {
        summary: 'List imports, newest first',
        parameters: [
          { name: 'sync', in: 'query', schema: { type: 'string' } },
          {
            name: 'status',
            in: 'query',
            schema: { enum: ['queued', 'staging', 'merging', 'succeeded', 'failed', 'canceled'] },
          },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page' },
        ],
        responses: {
          '200': {
            description: 'a page of imports',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    imports: { type: 'array', items: { $ref: '#/components/schemas/Import' } },
                    next_cursor: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          '400': errorAnswer('a bad filter'),
          '401': errorAnswer('no or an invalid API key'),
        },
      },
    },
    '/v1/imports/{id}': {
      get: {
        summary: 'One import; with Prefer: wait=N, waits up to N seconds (at most 60) for a change',
        parameters: [idParam, { name: 'Prefer', in: 'header', schema: { type: 'string', example: 'wait=30' } }],
        responses: {
          '200': importAnswer('the import'),
          '400': errorAnswer('not an import id'),
          '404': errorAnswer('no such import (or not readable with this key)'),
        },
      },
    },
    '/v1/imports/{id}/rejects': {
      get: {
        summary: 'The bad rows of an import (line, reason, raw text), in line order',
        parameters: [
          idParam,
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 } },
          { name: 'cursor', in: 'query', schema: { type: 'integer' }, description: 'from the Link rel="next" header' },
          { name: 'Accept', in: 'header', schema: { enum: ['application/x-ndjson', 'text/csv'] } },
        ],
        responses: {
          '200': {
            description: 'one page; a Link header with rel="next" when there are more',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          '404': errorAnswer('no such import'),
        },
      },
    },
    '/v1/imports/{id}/cancel': {
      post: {
        summary: 'Cancel a queued or running import; it rolls back',
        parameters: [idParam],
        responses: {
          '200': importAnswer('canceled (it had not started)'),
          '202': importAnswer('cancel requested: the running import rolls back'),
          '403': errorAnswer('the key may not write this sync'),
          '404': errorAnswer('no such import'),
          '409': errorAnswer('already finished'),
        },
      },
    },
    '/v1/loads': {
      get: {
        summary: 'The 20 most recent loads of any kind (imports, etl sync, etl daemon)',
        responses: {
          '200': { description: 'recent loads', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
    '/{sync}/_bulk': {
      put: {
        summary: 'Original bulk API: same as POST /v1/tables/{sync}/imports',
        parameters: createParams,
        requestBody: createBody,
        responses: createAnswers,
      },
    },
    '/{sync}/_bulk/status/{id}': {
      get: {
        summary: 'Original bulk API: status queued, processing, complete or error',
        parameters: [syncParam, idParam],
        responses: {
          '200': {
            description: 'the status, and the full import',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    status: { enum: ['queued', 'processing', 'complete', 'error'] },
                    import: { $ref: '#/components/schemas/Import' },
                  },
                },
              },
            },
          },
          '404': errorAnswer('no such import of this sync'),
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Health: 200 when the database answers and the server is not stopping, else 503',
        security: [],
        responses: { '200': { description: 'healthy' }, '503': { description: 'unhealthy or stopping' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text format' } } },
    },
    '/openapi.json': {
      get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
    },
    '/': { get: { summary: 'The status page (HTML)', security: [], responses: { '200': { description: 'HTML' } } } },
  },
} as const;
