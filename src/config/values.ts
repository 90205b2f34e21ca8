/** Reading one setting's text, shared by the sync and daemon resolvers. */
import { ConfigError } from '../errors.js';

/** A setting's text and where it came from, as the user would name it (a flag, an env variable, a default). */
export interface Raw {
  value: string;
  origin: string;
}

export function boolean(raw: Raw): boolean {
  const t = raw.value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw new ConfigError(`${raw.origin}=${JSON.stringify(raw.value)} is not a boolean; use true or false`);
}
