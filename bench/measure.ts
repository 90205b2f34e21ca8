/**
 * Runs a subprocess and measures its wall time, peak RSS and CPU time. These come from GNU time
 * (`/usr/bin/time -f '%M %U %S'`, the kernel's rusage of the child) when it is installed, otherwise,
 * for Node children only, from a preloaded hook that records process.resourceUsage() at exit.
 * Both cover every thread of the process, so etl's worker threads are included. CPU time counts
 * only the process itself (not the PostgreSQL server's work) and is less disturbed than wall time
 * by other load on the machine.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { RSS_FILE_ENV } from './rss-env.js';

const GNU_TIME = '/usr/bin/time';
const GNU_TIME_FORMAT = '%M %U %S';

export type RssMethod = 'gnu-time' | 'node-hook';

/** GNU time with -f and -o (BusyBox's applet may lack them): checked once by running it. */
export async function detectRssMethod(): Promise<RssMethod> {
  if (!existsSync(GNU_TIME)) return 'node-hook';
  const dir = await mkdtemp(join(tmpdir(), 'etl-bench-'));
  try {
    await promisify(execFile)(GNU_TIME, ['-f', GNU_TIME_FORMAT, '-o', join(dir, 'usage'), 'true']);
    return (await readUsage(join(dir, 'usage'))).peakRssKb !== null ? 'gnu-time' : 'node-hook';
  } catch {
    return 'node-hook';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Command {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** A Node program: node options may be added (the RSS hook, --cpu-prof). */
  node?: { nodeOptions: string[] };
}

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in KiB, when it could be measured. */
  peakRssKb: number | null;
  /** User + system CPU seconds of the process (all its threads), when it could be measured. */
  cpuS: number | null;
}

const HOOK = pathToFileURL(join(import.meta.dirname, 'rss-hook.js')).href;

export async function runMeasured(command: Command, method: RssMethod): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'etl-bench-'));
  const usageFile = join(dir, 'usage');
  const env: NodeJS.ProcessEnv = { ...command.env };
  let file = command.file;
  let args = command.args;
  if (command.node) {
    const hook = method === 'node-hook' ? ['--import', HOOK] : [];
    args = [...hook, ...command.node.nodeOptions, ...args];
    if (method === 'node-hook') env[RSS_FILE_ENV] = usageFile;
  }
  if (method === 'gnu-time') {
    args = ['-f', GNU_TIME_FORMAT, '-o', usageFile, file, ...args];
    file = GNU_TIME;
  }
  try {
    const started = performance.now();
    const child = spawn(file, args, { cwd: command.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve([c, s]));
    });
    const wallMs = performance.now() - started;
    return {
      code,
      signal,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      wallMs,
      ...(await readUsage(usageFile)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * "<peak RSS KiB> <user s> <system s>", from GNU time or the hook. GNU time may write "Command
 * exited with non-zero status N" first: the figures are on the last line.
 */
async function readUsage(path: string): Promise<{ peakRssKb: number | null; cpuS: number | null }> {
  try {
    const last = (await readFile(path, 'utf8')).trim().split('\n').pop() ?? '';
    const [kb, user, system] = last.trim().split(/\s+/u).map(Number);
    const cpu = (user ?? NaN) + (system ?? NaN);
    return {
      peakRssKb: kb !== undefined && Number.isFinite(kb) && kb > 0 ? kb : null,
      cpuS: Number.isFinite(cpu) ? Math.round(cpu * 100) / 100 : null,
    };
  } catch {
    return { peakRssKb: null, cpuS: null };
  }
}
