import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

interface PackedFile {
  path: string;
}

describe('the published package', () => {
  it('holds the runtime only: the CLI shim, the compiled library, README and package.json', () => {
    // `npm test` has just built dist/; --ignore-scripts keeps pack from rebuilding it under the CLI
    // tests that run at the same time.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [pack] = JSON.parse(out.slice(out.indexOf('['))) as [{ files: PackedFile[] }];
    const paths = pack.files.map((f) => f.path).sort();
    const outside = paths.filter(
      (p) => !p.startsWith('dist/') && !p.startsWith('bin/') && !['README.md', 'package.json', 'LICENSE'].includes(p),
    );
    expect(outside).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(bench|test|tests|fixtures)\//u.test(p) || /\.test\./u.test(p))).toEqual([]);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('dist/load/copy-worker.js');
    expect(paths).toContain('bin/etl');
  });
});
