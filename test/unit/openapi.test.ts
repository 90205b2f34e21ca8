import { describe, expect, it } from 'vitest';
import { OPENAPI } from '../../src/api/openapi.js';
import type { ApiContext } from '../../src/api/context.js';
import { buildApp } from '../../src/api/server.js';

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
});
