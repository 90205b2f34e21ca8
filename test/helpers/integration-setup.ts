/** Runs around every integration test file: no subprocess outlives its test, no temporary file its file. */
import { afterAll, afterEach } from 'vitest';
import { killChildren, removeScratch } from './sync.js';

afterEach(async () => {
  await killChildren();
});

afterAll(() => {
  removeScratch();
});
