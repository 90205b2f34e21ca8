/** The machine a run was measured on, as the results record it. */
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import type { Server } from './database.js';
import type { BenchResult } from './results.js';
import { round } from './stats.js';

/** `loadAtStart`: the 1-minute load average when the run began (the end is read now). */
export function machineInfo(loadAtStart: number): BenchResult['machine'] {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpu_model: cpu[0]?.model.trim() ?? 'unknown',
    memory_mib: Math.round(totalmem() / 1048576),
    os: `${osType()} ${release()}`,
    node: process.version,
    load_average_1m: { start: round(loadAtStart, 2), end: round(loadavg()[0], 2) },
  };
}

/** What every benchmark's result starts with: when it ran, on which machine, against which server. */
export function resultHeader(
  startedAt: Date,
  loadAtStart: number,
  server: Server,
  scratchPrefix: string,
): Pick<BenchResult, 'started_at' | 'finished_at' | 'machine' | 'postgres'> {
  return {
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    machine: machineInfo(loadAtStart),
    postgres: { version: server.version, server: server.description, kind: server.kind, scratch_prefix: scratchPrefix },
  };
}
