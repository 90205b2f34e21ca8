/**
 * Resolves the settings of `etl serve` / `etl worker` once (flags, then .env and the environment,
 * then the defaults), through the same resolver and parsers as the sync's settings.
 */
import { resolveSettings, type Env } from '../config/setting.js';
import { SERVE_SETTINGS, type ServeFlags } from './settings.js';

export interface ServeSettings {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxPending: number;
  jobTimeoutSeconds: number;
  jobAttempts: number;
  queueMaintenanceSeconds: number;
  workerConcurrency: number;
  shutdownTimeoutMs: number;
  logFormat: 'text' | 'json';
}

/** After a failed attempt, how long pg-boss waits before offering the job again (see queue.ts). */
export const RETRY_DELAY_SECONDS = 1;
/** How often an idle worker asks the queue for a job. */
export const POLLING_INTERVAL_SECONDS = 1;

/** The longest a job of a dead worker waits before another worker starts it again. */
export function pickupBoundSeconds(settings: ServeSettings): number {
  return settings.jobTimeoutSeconds + settings.queueMaintenanceSeconds + RETRY_DELAY_SECONDS + POLLING_INTERVAL_SECONDS;
}

export function resolveServeSettings(flags: ServeFlags, env: Env, options: { insecureNoAuth: boolean }): ServeSettings {
  const s = resolveSettings(SERVE_SETTINGS, flags, env);
  return Object.freeze({
    // Without authentication the API must not be reachable from other hosts.
    host: options.insecureNoAuth ? '127.0.0.1' : s.host,
    port: s.port,
    maxBodyBytes: s.maxBody,
    maxPending: s.maxPending,
    jobTimeoutSeconds: s.jobTimeout,
    jobAttempts: s.jobAttempts,
    queueMaintenanceSeconds: s.queueMaintenance,
    workerConcurrency: s.workerConcurrency,
    shutdownTimeoutMs: s.shutdownTimeout,
    logFormat: s.logFormat,
  });
}
