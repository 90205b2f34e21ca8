/**
 * The package as a user gets it: packed, installed into a scratch project, imported by its name.
 * A TypeScript file type-checks against the shipped .d.ts files, and a JavaScript file runs a real
 * load into the test database.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { followers, loads, projectRoot } from '../helpers/sync.js';

let db: TestDatabase;
const scratch = mkdtempSync(join(tmpdir(), 'etl-package-'));
const project = join(scratch, 'project');

function versionOf(dependency: string): string {
  const manifest = JSON.parse(readFileSync(join(projectRoot, 'node_modules', dependency, 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

beforeAll(async () => {
  db = await createTestDatabase();
  // dist/ is built by `npm test`; --ignore-scripts keeps pack from rebuilding it under other tests.
  run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', scratch], projectRoot);
  const tarball = readdirSync(scratch).find((f) => /^etl-.*\.tgz$/u.test(f))!;
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      `../${tarball}`,
      `typescript@${versionOf('typescript')}`,
      `@types/node@${versionOf('@types/node')}`,
    ],
    project,
  );
}, 600_000);

afterAll(async () => {
  await db.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('type-checks a TypeScript program against its .d.ts files, through the exports map', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ['check.ts'],
      }),
    );
    writeFileSync(
      join(project, 'check.ts'),
      `import { openLoader, load, LoadClosedError, type LoaderOptions, type LoaderReject, type SyncResult } from 'etl';

interface Follower { email: string; full_name: string }
const options: LoaderOptions = { target: 'followers', database: process.argv[2], maxErrors: 5, onReject: (r: LoaderReject) => console.log(r.index) };
const loader = await openLoader<Follower>(options);
await loader.write({ email: 'a@example.com', full_name: 'A' });
// @ts-expect-error: records have the loader's type
await loader.write({ email: 1 });
await loader.delete({ email: 'b@example.com' });
const result: SyncResult = await loader.commit();
const inserted: number = result.counts.inserted;
const again: SyncResult = await load([{ email: 'c@example.com', full_name: 'C' }], { target: 'followers' });
const code: string = new LoadClosedError('followers', again.loadId, 'committed').code;
console.log(inserted, code);
`,
    );
    const tsc = () => {
      const r = spawnSync(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], {
        cwd: project,
        encoding: 'utf8',
      });
      return { status: r.status, output: r.stdout + r.stderr };
    };
    expect(tsc()).toEqual({ status: 0, output: '' });
    // The exports map hides the package's internals.
    writeFileSync(
      join(project, 'check.ts'),
      `import { openLoad } from 'etl/dist/load/lifecycle.js';\nconsole.log(openLoad);\n`,
    );
    const hidden = tsc();
    expect(hidden.status).not.toBe(0);
    expect(hidden.output).toMatch(/TS2307: Cannot find module 'etl\/dist\/load\/lifecycle.js'/u);
  });

  it('runs a real load from a JavaScript program', async () => {
    writeFileSync(
      join(project, 'run.js'),
      `import { load } from 'etl';
const records = [{ email: 'pack@example.com', full_name: 'Packed' }, { email: 'age@example.com', full_name: 'Aged' }];
const result = await load(records, { target: 'followers', database: process.argv[2], env: {} });
console.log(JSON.stringify({ loadId: result.loadId, counts: result.counts }));
`,
    );
    const out = JSON.parse(run(process.execPath, ['run.js', db.url], project)) as { loadId: string; counts: object };
    expect(out.counts).toMatchObject({ read: 2, inserted: 2 });
    expect(await followers(db)).toEqual({ 'age@example.com': 'Aged', 'pack@example.com': 'Packed' });
    expect(await loads(db)).toMatchObject([{ load_id: out.loadId, source: 'code', status: 'succeeded' }]);
  });
});
