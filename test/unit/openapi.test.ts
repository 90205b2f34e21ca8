import { describe, expect, it } from 'vitest';
import { OPENAPI } from '../../src/api/openapi.js';
import type { ApiContext } from '../../src/api/context.js';
import { buildApp } from '../../src/api/server.js';
import { importView } from '../../src/api/views.js';
import { IMPORT_STATUSES, type ImportRow } from '../../src/store/imports.js';

/** Every route of the server as "METHOD /path/{param}", read from fastify's own route tree. */
async function registeredRoutes(): Promise<string[]> {
  const app = buildApp({} as ApiContext);
  await app.ready();
  const tree = app.printRoutes({ commonPrefix: false });
  await app.close();
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/u.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    const parent = stack[depth - 1] ?? '';
    const path = parent === '/' ? `/${m[2]}` : parent + m[2];
    stack.push(path);
    for (const method of m[3].split(', '))
      if (method !== 'HEAD') routes.push(`${method} ${path.replace(/:(\w+)/gu, '{$1}')}`);
  }
  return routes.sort();
}

describe('the OpenAPI document', () => {
  it('describes exactly the routes the server registers', async () => {
    const documented = Object.entries(OPENAPI.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const routes = await registeredRoutes();
    expect(routes.length).toBeGreaterThan(10);
    expect(routes).toEqual(documented);
  });

  it('names every path parameter it uses', () => {
    for (const [path, methods] of Object.entries(OPENAPI.paths)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/gu)].map((m) => m[1]).sort();
      for (const op of Object.values(methods) as { parameters?: { name: string; in: string }[] }[]) {
        const declared = (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        expect(declared, path).toEqual(inPath);
      }
    }
  });

  it('describes an import answer field by field, with its statuses', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const row: ImportRow = {
      importId: '6f1c9a52-6d3e-4a55-9c1e-2b7c1f0e9a11',
      sync: 'followers',
      kind: 'upload',
      source: 'upload (csv)',
      url: null,
      options: { format: 'csv' },
      status: 'succeeded',
      loadId: '0b7e2c7a-1f49-4a43-8f4e-6f0f7c3b5d21',
      idempotencyKey: null,
      requestHash: 'x',
      keyName: 'loader',
      bytesRead: 10,
      bytesTotal: 10,
      rowsRead: 1,
      rowsStaged: 1,
      counts: { read: 1, staged: 1, inserted: 1, updated: 0, unchanged: 0, deleted: 0, rejected: 0, duplicates: 0 },
      error: null,
      errorCode: null,
      attempts: 1,
      cancelRequested: false,
      createdAt: at,
      startedAt: at,
      finishedAt: at,
      updatedAt: at,
    };
    const view = importView(row);
    const schema = OPENAPI.components.schemas.Import;
    expect(Object.keys(view).sort()).toEqual(Object.keys(schema.properties).sort());
    expect(Object.keys(view.progress).sort()).toEqual(Object.keys(schema.properties.progress.properties).sort());
    expect(Object.keys(view.counts!).sort()).toEqual(Object.keys(OPENAPI.components.schemas.Counts.properties).sort());
    expect(Object.keys(view.links).sort()).toEqual(Object.keys(schema.properties.links.properties).sort());
    expect([...schema.properties.status.enum]).toEqual([...IMPORT_STATUSES]);
  });
});
