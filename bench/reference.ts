/**
 * The hand-written pipeline etl is measured against (as issue 12 defines it): one psql session
 * that \copy-s the file into an unlogged staging table, then in one transaction deletes absent keys
 * by anti-join and MERGEs the distinct staged rows (rewriting only changed names, inserting new
 * keys), and drops the staging table.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { libpqEnv } from './database.js';
import { runMeasured, type Measured, type RssMethod } from './measure.js';

export const PSQL = '/usr/bin/psql';

/** psql's \copy takes the file name as a quoted word: keep to names it cannot misread. */
function copyPath(file: string): string {
  if (/['\\\n\r]/u.test(file))
    throw new Error(
      `the reference pipeline cannot \\copy from ${JSON.stringify(file)}: use a data directory without quotes, backslashes or newlines`,
    );
  return `'${file}'`;
}

export function referenceScript(file: string): string {
  return `\\set ON_ERROR_STOP on
CREATE UNLOGGED TABLE bench_staging (email text, full_name text);
\\copy bench_staging (email, full_name) FROM ${copyPath(file)} WITH (FORMAT csv, HEADER true)
ANALYZE bench_staging;
BEGIN;
DELETE FROM public.followers AS t
 WHERE NOT EXISTS (SELECT 1 FROM bench_staging AS s WHERE s.email = t.email);
MERGE INTO public.followers AS t
USING (SELECT DISTINCT ON (email) email, full_name FROM bench_staging ORDER BY email) AS s
   ON t.email = s.email
 WHEN MATCHED AND t.full_name IS DISTINCT FROM s.full_name THEN
      UPDATE SET full_name = s.full_name, modified_at = now()
 WHEN NOT MATCHED THEN
      INSERT (email, full_name, modified_at) VALUES (s.email, s.full_name, now());
COMMIT;
DROP TABLE bench_staging;
`;
}

export interface ReferenceContext {
  /** Where the script is written (one per file). */
  scriptDir: string;
  env: NodeJS.ProcessEnv;
  rssMethod: RssMethod;
}

/** Runs the script in one psql process against `url`; throws with psql's message when it fails. */
export async function runReference(file: string, url: string, context: ReferenceContext): Promise<Measured> {
  const script = join(context.scriptDir, 'reference.sql');
  await writeFile(script, referenceScript(file));
  const measured = await runMeasured(
    {
      file: PSQL,
      args: ['-X', '-q', '-w', '-v', 'ON_ERROR_STOP=1', '-f', script],
      env: libpqEnv(url, context.env),
      cwd: context.scriptDir,
    },
    context.rssMethod,
  );
  if (measured.code !== 0) {
    throw new Error(
      `the reference psql pipeline failed (exit ${measured.code ?? measured.signal}): ${measured.stderr.trim()}`,
    );
  }
  return measured;
}
