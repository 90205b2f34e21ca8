import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SYNC_SETTINGS } from '../../src/index.js';
import { DAEMON_SETTINGS } from '../../src/schedule/settings.js';
import { SERVE_SETTINGS } from '../../src/api/settings.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('documents every sync setting with its flag, env variable and default', () => {
    const table = readme.split('<!-- settings:sync -->')[1].split('<!-- /settings:sync -->')[0];
    for (const s of SYNC_SETTINGS) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${s.flag}\``));
      expect(row, s.flag).toBeDefined();
      expect(row).toContain('env' in s ? `\`${s.env}\`` : '—');
      expect(row).toContain('default' in s ? `\`${s.default}\`` : '—');
    }
  });

  it('documents every daemon setting with its flag, env variable and default', () => {
    const table = readme.split('<!-- settings:daemon -->')[1].split('<!-- /settings:daemon -->')[0];
    for (const s of DAEMON_SETTINGS) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${s.flag}\``));
      expect(row, s.flag).toBeDefined();
      if ('env' in s && s.env) expect(row).toContain(`\`${s.env}\``);
      if ('default' in s && s.default !== undefined) expect(row).toContain(`\`${s.default}\``);
    }
  });

  it('documents every etl serve setting with its flag, env variable and default', () => {
    const table = readme.split('<!-- settings:serve -->')[1].split('<!-- /settings:serve -->')[0];
    for (const s of SERVE_SETTINGS) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${s.flag}\``));
      expect(row, s.flag).toBeDefined();
      expect(row).toContain(`\`${s.env}\``);
      expect(row).toContain(`\`${s.default}\``);
    }
  });

  it('documents every exit code', () => {
    const section = readme.split('## Exit codes')[1].split('\n## ')[0];
    for (const code of Object.values(EXIT)) expect(section).toMatch(new RegExp(`\\b${code}\\b`));
  });
});
