/**
 * No container engine runs here, so the container setup is checked as files: docker-compose.yml and
 * the Dockerfile must say what the daemon needs, and .env.example must document every setting.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDuration } from '../../src/config/duration.js';
import { SYNC_SETTINGS } from '../../src/config/settings.js';
import { DAEMON_SETTINGS } from '../../src/schedule/settings.js';
import { SERVE_SETTINGS } from '../../src/api/settings.js';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
  env_file?: (string | { path: string; required?: boolean })[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: unknown[];
  container_name?: string;
  healthcheck?: { test: string[]; interval?: string };
  stop_grace_period?: string;
}

const compose = parse(read('docker-compose.yml')) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const { postgres, etl } = compose.services as { postgres: Service; etl: Service };

/** Compose's ${VAR:-default} interpolation, with nothing set (a fresh clone without .env). */
const withDefaults = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/gu, '$1');

/** Dockerfile instructions per stage, continuation lines joined and comments dropped. */
function dockerfileStages(text: string): { from: string; instructions: [string, string][] }[] {
  const lines = text
    .replace(/\\\n\s*/gu, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; instructions: [string, string][] }[] = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/u);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else stages.at(-1)!.instructions.push([keyword.toUpperCase(), args]);
  }
  return stages;
}

const stages = dockerfileStages(read('Dockerfile'));
const build = stages[0];
const runtime = stages.at(-1)!;
const args = (stage: typeof build, keyword: string) =>
  stage.instructions.filter(([k]) => k === keyword).map(([, a]) => a);

describe('docker-compose.yml', () => {
  it('runs PostgreSQL with a pg_isready healthcheck and a named volume', () => {
    expect(postgres.image).toMatch(/^postgres:(1[6-9]|[2-9]\d)\b/);
    expect(postgres.healthcheck!.test.join(' ')).toContain('pg_isready');
    expect(postgres.volumes).toContain('pgdata:/var/lib/postgresql/data');
    expect(compose.volumes).toHaveProperty('pgdata');
  });

  it('builds etl from ./Dockerfile and runs `etl daemon` once the database is healthy, restarting unless stopped', () => {
    expect(etl.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(existsSync(join(root, etl.build!.dockerfile))).toBe(true);
    expect(etl.command).toEqual(['daemon']);
    expect(etl.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(etl.restart).toBe('unless-stopped');
  });

  it('takes settings from .env, and points DATABASE_URL at the postgres service with its credentials', () => {
    expect(etl.env_file!.map((e) => (typeof e === 'string' ? e : e.path))).toContain('.env');
    const url = new URL(withDefaults(etl.environment!.DATABASE_URL));
    const pgEnv = Object.fromEntries(Object.entries(postgres.environment!).map(([k, v]) => [k, withDefaults(v)]));
    expect(url.protocol).toBe('postgres:');
    expect([url.hostname, url.port]).toEqual(['postgres', '5432']);
    expect([url.username, url.password, url.pathname]).toEqual([
      pgEnv.POSTGRES_USER,
      pgEnv.POSTGRES_PASSWORD,
      `/${pgEnv.POSTGRES_DB}`,
    ]);
  });

  it('mounts ./tables read-only at the directory CSV_FILE points to', () => {
    const csv = etl.environment!.CSV_FILE;
    expect(posix.isAbsolute(csv)).toBe(true);
    expect(etl.volumes).toContain(`./tables:${posix.dirname(csv)}:ro`);
    expect(existsSync(join(root, 'tables', posix.basename(csv)))).toBe(true);
  });

  it('checks /healthz on the health port, and gives a running sync time to finish on stop', () => {
    const port = etl.environment!.HEALTH_PORT;
    expect(etl.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(etl.healthcheck!.test[0]).toBe('CMD');
    const shutdownDefault = DAEMON_SETTINGS.find((s) => s.key === 'shutdownTimeout')!.default;
    expect(parseDuration(etl.stop_grace_period!)).toBeGreaterThan(parseDuration(shutdownDefault)!);
  });

  it('can be scaled to several etl replicas (no fixed host port or container name)', () => {
    expect(etl.ports).toBeUndefined();
    expect(etl.container_name).toBeUndefined();
  });
});

describe('Dockerfile', () => {
  it('builds in a node LTS slim stage with npm ci and npm run build', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build.from).toMatch(/^node:(2[02468]|[3-9][02468])-slim AS build$/i);
    const runs = args(build, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toContain('npm run build');
  });

  it('runs production dependencies only, as a non-root user, with the etl bin as entrypoint', () => {
    expect(runtime.from).toMatch(/^node:(2[02468]|[3-9][02468])-slim\b/i);
    expect(args(runtime, 'RUN').join('\n')).toMatch(/npm ci [^\n]*--omit=dev/);
    expect(args(runtime, 'COPY')).toContain('--from=build /app/dist ./dist');
    const user = args(runtime, 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(JSON.parse(args(runtime, 'ENTRYPOINT')[0])).toEqual(['node', '/app/bin/etl']);
    expect(JSON.parse(args(runtime, 'CMD')[0])).toEqual(['daemon']);
    expect(args(runtime, 'EXPOSE')).toEqual([etl.environment!.HEALTH_PORT]);
  });

  it('keeps secrets, dependencies and data out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['.env', 'node_modules', '.git', 'dist', '.etl', 'tables']) expect(ignored).toContain(entry);
  });
});

describe('.env.example', () => {
  const lines = read('.env.example').split('\n');
  /** The documented value of a variable: `# NAME=value` (single quotes allowed around it). */
  const documented = (name: string) => {
    const line = lines.find((l) => l.replace(/^#\s*/u, '').startsWith(`${name}=`));
    return line
      ?.replace(/^#\s*/u, '')
      .slice(name.length + 1)
      .replace(/^'(.*)'$/u, '$1');
  };

  it('documents every setting of etl sync, etl daemon and etl serve with its default', () => {
    for (const s of [...SYNC_SETTINGS, ...DAEMON_SETTINGS, ...SERVE_SETTINGS]) {
      if (!('env' in s)) continue;
      const value = documented(s.env);
      expect(value, s.env).toBeDefined();
      if ('default' in s) expect(value, s.env).toBe(s.default);
    }
  });

  it("documents the PostgreSQL service's credentials with the defaults docker-compose.yml uses", () => {
    for (const [name, value] of Object.entries(postgres.environment!))
      expect(documented(name), name).toBe(withDefaults(value));
  });

  it('sets nothing by itself: every value is a commented default', () => {
    expect(lines.filter((l) => /^[A-Z_]+=/u.test(l))).toEqual([]);
  });
});
