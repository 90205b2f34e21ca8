/**
 * Random files of valid and invalid rows: followers must end up equal to the last valid occurrence
 * of each email, and every invalid row must be reported at its exact line.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { followers, syncCsv } from '../helpers/sync.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

type Row =
  | { kind: 'valid'; local: string; domain: string; upper: boolean; pad: boolean; name: string }
  | { kind: 'bad-email'; text: string }
  | { kind: 'short' }
  | { kind: 'long'; name: string }
  | { kind: 'blank' };

const nameChars = fc.constantFrom('a', 'Z', 'é', 'ß', 'Ж', '美', ' ', ',', '"', '\n', "'", '-', '😀');
const name = fc
  .array(nameChars, { minLength: 1, maxLength: 12 })
  .map((cs) => cs.join(''))
  .filter((s) => s.trim() !== '');
const row: fc.Arbitrary<Row> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('valid' as const),
      local: fc.constantFrom('ann', 'bob', 'cat', 'dan', 'eve'),
      domain: fc.constantFrom('example.com', 'x.org'),
      upper: fc.boolean(),
      pad: fc.boolean(),
      name,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad-email' as const),
      text: fc.constantFrom('no-at', 'a@@b.c', '@x.org', 'a@', 'sp ace@x.org'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'short' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('long' as const), name }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'blank' as const }) },
);

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

it('ends with the last valid occurrence of each email and reports every invalid row at its line', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(row, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 7 }),
      async (rows, batchSize) => {
        let text = 'email,full_name\n';
        let line = 2;
        const expected = new Map<string, string>();
        const badLines: number[] = [];
        for (const r of rows) {
          switch (r.kind) {
            case 'valid': {
              let email = `${r.local}@${r.domain}`;
              if (r.upper) email = email.toUpperCase();
              if (r.pad) email = `  ${email} `;
              text += `${quote(email)},${quote(r.name)}\n`;
              expected.set(`${r.local}@${r.domain}`, r.name.trim());
              line += 1 + (r.name.match(/\n/gu)?.length ?? 0);
              break;
            }
            case 'bad-email':
              text += `${r.text},Someone\n`;
              badLines.push(line);
              line += 1;
              break;
            case 'short':
              text += 'lonely@example.com\n';
              badLines.push(line);
              line += 1;
              break;
            case 'long':
              text += `long@example.com,${quote(r.name)},extra\n`;
              badLines.push(line);
              line += 1 + (r.name.match(/\n/gu)?.length ?? 0);
              break;
            case 'blank':
              text += '\n';
              line += 1;
              break;
          }
        }
        const run = syncCsv(db, text, { maxErrors: '1000', allowEmpty: true, batchSize: String(batchSize) });
        const result = await run;
        expect(await followers(db)).toEqual(Object.fromEntries([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
        const reported = await db.query<{ line: string }>(
          'SELECT line FROM etl_info_schema.rejects WHERE load_id = $1 ORDER BY line',
          [result.loadId],
        );
        expect(reported.rows.map((x) => Number(x.line))).toEqual(badLines);
        expect(result.counts.rejected).toBe(badLines.length);
      },
    ),
    { numRuns: 25 },
  );
});
