import { describe, expect, it } from 'vitest';
import type { ApiContext } from '../../src/api/context.js';
import { ApiMetrics } from '../../src/api/metrics.js';
import { buildApp } from '../../src/api/server.js';

/** Only what the answers below touch: no database is reached before they are decided. */
function app(stopping: boolean) {
  const controller = new AbortController();
  if (stopping) controller.abort();
  return buildApp({ stopping: controller.signal, metrics: new ApiMetrics() } as unknown as ApiContext);
}

describe('error answers of etl serve', () => {
  it('answers every request after SIGTERM with a JSON 503 shutting_down and Retry-After', async () => {
    const server = app(true);
    for (const [method, url] of [
      ['GET', '/v1/imports'],
      ['POST', '/v1/tables/followers/imports'],
      ['GET', '/nothing/here'],
    ] as const) {
      const answer = await server.inject({ method, url });
      expect(answer.statusCode, url).toBe(503);
      expect(answer.json(), url).toEqual({
        error: expect.stringMatching(/shutting down/u) as unknown,
        code: 'shutting_down',
      });
      expect(answer.headers['retry-after'], url).toBe('5');
    }
    await server.close();
  });

  it('answers an unknown route with a JSON 404 naming it', async () => {
    const server = app(false);
    const answer = await server.inject({ method: 'DELETE', url: '/v1/imports?x=1' });
    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toEqual({ error: 'no route DELETE /v1/imports', code: 'not_found' });
    await server.close();
  });
});
