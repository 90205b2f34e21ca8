import { describe, expect, it } from 'vitest';
import { StagingPool } from '../../src/load/pool.js';
import { followersTarget } from '../../src/target/followers.js';
import { RecordSplitter } from '../../src/source/splitter.js';
import { tempFile } from '../helpers/sync.js';

describe('StagingPool', () => {
  it('fails (instead of hanging) when its worker threads cannot start, and still closes', async () => {
    const broken = tempFile("import './does-not-exist.js';\nexport default () => 0;\n", 'broken-worker.mjs');
    const pool = new StagingPool({
      workers: 2,
      batchSize: 10,
      connection: {},
      copySql: 'COPY x FROM STDIN',
      layout: { format: 'csv', delimiter: ',', quote: '"', fieldCount: 2, fieldIndexes: [0, 1], columns: followersTarget.columns, keys: ['email'] },
      skipCopy: true,
      onRejects: () => undefined,
      filename: broken,
    });
    const splitter = new RecordSplitter({ delimiter: 44, quote: 34, recordsPerChunk: 1, maxChunkBytes: 1 << 20 });
    const chunks = splitter.push(Buffer.from('a@x.org,A\nb@x.org,B\nc@x.org,C\nd@x.org,D\ne@x.org,E\nf@x.org,F\n'));
    const run = (async () => {
      for (const chunk of chunks) await pool.stage(chunk);
      await pool.drain();
    })();
    await expect(run).rejects.toThrow(/does-not-exist/);
    await pool.close();
  });
});
