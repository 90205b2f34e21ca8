/**
 * The syncs the API can import into (followers and the config file's entries), each resolved once
 * at start, and the per-import options a request may set within what its sync's config allows.
 */
import type { SyncDefinition } from '../config/file.js';
import { resolveSyncConfig, type Env, type Flags } from '../config/resolve.js';
import type { SyncConfig } from '../config/types.js';
import type { ImportOptions } from '../store/imports.js';
import type { SyncMode } from '../table/spec.js';
import { configForDefinition } from '../sync/named.js';
import { badRequest } from './errors.js';

export class SyncCatalog {
  private readonly configs = new Map<string, SyncConfig>();

  constructor(definitions: readonly SyncDefinition[], flags: Flags, env: Env) {
    this.configs.set('followers', resolveSyncConfig(flags, env));
    for (const def of definitions) this.configs.set(def.name, configForDefinition(def, flags, env));
  }

  names(): string[] {
    return [...this.configs.keys()];
  }

  base(name: string): SyncConfig | undefined {
    return this.configs.get(name);
  }

  /** The config one import runs with: the sync's, narrowed by the request's options, reading `file`. */
  forImport(name: string, options: ImportOptions, file: string): SyncConfig {
    const base = this.configs.get(name)!;
    return {
      ...base,
      file,
      format: options.format ?? base.format,
      target: options.mode ? { ...base.target, mode: options.mode } : base.target,
      dryRun: options.dryRun ?? base.dryRun,
      maxErrors: options.maxErrors ?? base.maxErrors,
      maxDeletePercent: options.maxDelete ?? base.maxDeletePercent,
      allowEmpty: options.allowEmpty ?? base.allowEmpty,
      // Rejects go to the history (GET /v1/imports/{id}/rejects), not to a file on the server.
      rejectsFile: undefined,
    };
  }
}

const MODES: readonly SyncMode[] = ['mirror', 'upsert', 'append'];

function flag(field: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest(field, `must be true or false, got ${JSON.stringify(value)}`);
}

function count(field: string, value: string, max: number): number {
  if (!/^\d+$/u.test(value) || Number(value) > max)
    throw badRequest(field, `must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * The query string's options, checked against the sync's config: a request may be stricter than
 * the config (upsert instead of mirror, fewer bad rows, a lower delete limit, no empty load), never
 * looser. Each refusal names the field and what the config allows.
 */
export function importOptions(query: Record<string, unknown>, base: SyncConfig): ImportOptions {
  const options: ImportOptions = {};
  const known = ['mode', 'dry_run', 'max_errors', 'max_delete', 'allow_empty'];
  for (const [field, raw] of Object.entries(query)) {
    if (!known.includes(field)) continue;
    if (typeof raw !== 'string') throw badRequest(field, 'must be given once');
    if (field === 'mode') {
      const mode = raw as SyncMode;
      if (!MODES.includes(mode))
        throw badRequest('mode', `must be mirror, upsert or append, got ${JSON.stringify(raw)}`);
      const current = base.target.mode;
      // mirror -> upsert only drops the deletes; anything else changes what the sync means.
      if (mode !== current && !(current === 'mirror' && mode === 'upsert'))
        throw badRequest(
          'mode',
          `this sync is configured as ${current}; a request may only ask for ${current === 'mirror' ? 'mirror or upsert' : current}`,
        );
      options.mode = mode;
    } else if (field === 'dry_run') options.dryRun = flag(field, raw);
    else if (field === 'max_errors') {
      options.maxErrors = count(field, raw, base.maxErrors);
    } else if (field === 'max_delete') {
      const limit = base.maxDeletePercent ?? 100;
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > limit)
        throw badRequest(
          field,
          `must be a percentage from 0 to ${limit} (the sync's limit), got ${JSON.stringify(raw)}`,
        );
      options.maxDelete = n;
    } else if (field === 'allow_empty') {
      const allow = flag(field, raw);
      if (allow && !base.allowEmpty)
        throw badRequest(field, 'this sync does not allow an empty load (set allow_empty in its config entry)');
      options.allowEmpty = allow;
    }
  }
  return options;
}
