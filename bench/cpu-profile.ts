/**
 * Reads the .cpuprofile files `node --cpu-prof` writes (one per thread: the main thread and each
 * worker) and sums self time per function, to show where an etl sync spends its CPU: parsing on
 * the main thread while workers idle shows up as a busy main thread and "(idle)" workers.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface FunctionTime {
  name: string;
  selfMs: number;
  share: number;
}

export interface ThreadProfile {
  file: string;
  /** 'main' or 'worker N' (Node's thread id). */
  thread: string;
  totalMs: number;
  /** Share of the sampled time spent idle or blocked waiting for work. */
  idleShare: number;
  top: FunctionTime[];
}

/** Samples that are a thread waiting, not working: V8's idle and piscina's Atomics.wait loop. */
const WAITING = /^\(idle\)$|^atomicsWaitLoop /u;

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const where = url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : basename(url);
  return `${name} ${where}:${lineNumber + 1}`;
}

/** Self time per function of one profile (hit counts scaled to the profile's duration). */
export function summarizeProfile(profile: CpuProfile, file: string, topN = 8): ThreadProfile {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
  const msPerHit = hits > 0 ? totalMs / hits : 0;
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    if (!node.hitCount) continue;
    const name = label(node);
    byName.set(name, (byName.get(name) ?? 0) + node.hitCount * msPerHit);
  }
  let idle = 0;
  for (const [name, ms] of byName) if (WAITING.test(name)) idle += ms;
  const top = [...byName.entries()]
    .filter(([name]) => !WAITING.test(name))
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([name, selfMs]) => ({ name, selfMs, share: totalMs > 0 ? selfMs / totalMs : 0 }));
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
  const threadId = basename(file).split('.')[4];
  return {
    file,
    thread: threadId === '0' ? 'main' : `worker ${threadId ?? '?'}`,
    totalMs,
    idleShare: totalMs > 0 ? idle / totalMs : 0,
    top,
  };
}

export async function summarizeProfiles(dir: string, topN?: number): Promise<ThreadProfile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: ThreadProfile[] = [];
  for (const f of files) {
    const path = join(dir, f);
    out.push(summarizeProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, path, topN));
  }
  return out.sort((a, b) =>
    a.thread === 'main' ? -1 : b.thread === 'main' ? 1 : a.thread.localeCompare(b.thread, 'en', { numeric: true }),
  );
}
