// Loads records generated in code into a table of their own, through the same staging, validation
// and one-transaction merge as `etl sync`. Run it from a checkout after `npm run build`:
//
//   DATABASE_URL=postgres://user@localhost:5432/db node examples/load-generated-records.js [count]
//
// Without DATABASE_URL (or PG* variables) the embedded PostgreSQL server is started, as for the CLI.
import { openLoader } from 'etl';

const count = Number(process.argv[2] ?? 100_000);

/** A target written as in the config file: created on first use, compared with the table afterwards. */
const target = {
  target: { table: 'example_readings' },
  key: 'sensor',
  mode: 'mirror',
  columns: [
    { name: 'sensor', type: 'text' },
    { name: 'reading', type: 'numeric(10,3)' },
    { name: 'total', type: 'bigint' },
    { name: 'taken_at', type: 'timestamptz' },
    { name: 'meta', type: 'jsonb' },
  ],
};

const controller = new AbortController();
process.once('SIGINT', () => controller.abort('SIGINT'));

const loader = await openLoader({
  target,
  database: process.env.DATABASE_URL,
  maxErrors: 10,
  signal: controller.signal,
  onReject: (r) => console.error(`record ${r.index} refused: ${r.reason}`),
});
try {
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i += 1) {
    // `await` gives back-pressure: a write resolves once the worker pool has room.
    await loader.write({
      sensor: `s-${i}`,
      reading: (i % 1000) / 7,
      total: 2n ** 53n + BigInt(i), // bigints stay exact
      taken_at: new Date(start + i * 1000),
      meta: { site: i % 3 === 0 ? 'north' : 'south', tags: ['demo'] },
    });
  }
  await loader.write({ sensor: 's-bad', reading: 'not a number' }); // refused, and reported above
  await loader.delete({ sensor: 's-0' }); // a delete marker: the row with this key goes at commit
  const result = await loader.commit();
  console.log(`load ${result.loadId}: ${JSON.stringify(result.counts)}`);
} catch (error) {
  await loader.abort(String(error));
  throw error;
}
