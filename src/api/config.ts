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
