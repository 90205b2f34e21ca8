/**
 * The parsers a setting definition names: each turns one setting's value into its typed form or
 * throws a ConfigError naming the setting (as the user wrote it) and the valid forms. Values come as
 * text from flags and the environment, and as numbers or booleans from the config file or a
 * library caller; every parser takes all of them.
 */
import { ConfigError } from '../errors.js';
import { isKnownEncoding } from '../source/decode.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';

/** A setting's value and where it came from, as the user would name it (a flag, an env variable, a config field). */
export interface Raw {
  value: string | number | boolean;
  origin: string;
}

export type Parser<T> = (raw: Raw) => T;

const shown = (raw: Raw) => `${raw.origin}=${JSON.stringify(raw.value)}`;
const text = (raw: Raw) => String(raw.value);

/** Any text, as given. */
export const string: Parser<string> = text;

export const boolean: Parser<boolean> = (raw) => {
  if (typeof raw.value === 'boolean') return raw.value;
  const t = text(raw).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw new ConfigError(`${shown(raw)} is not a boolean; use true or false`);
};

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return (raw) => {
    const t = text(raw).trim();
    if (!/^-?\d+$/u.test(t)) throw new ConfigError(`${shown(raw)} is not a whole number; use one ${range}`);
    const n = Number(t);
    if (n < min || n > max) throw new ConfigError(`${shown(raw)} is out of range; use a whole number ${range}`);
    return n;
  };
}

/** Milliseconds, from 90s, 15m, 1h30m, 250ms (a bare number means seconds). */
export function duration({ allowZero }: { allowZero: boolean }): Parser<number> {
  return (raw) => {
    const ms = parseDuration(text(raw));
    if (ms === undefined || (!allowZero && ms <= 0)) {
      throw new ConfigError(
        `${shown(raw)} is not a${allowZero ? '' : ' positive'} duration; write e.g. 500ms, 30s, 5m, 1h30m${allowZero ? ', 0' : ''}`,
      );
    }
    return ms;
  };
}

/**
 * A connection limit in whole milliseconds, at most what a timer holds (about 24 days); 0 (no limit)
 * only where allowed.
 */
export function timeout({ allowZero }: { allowZero: boolean }): Parser<number> {
  return (raw) => {
    const ms = parseDuration(text(raw));
    if (ms === undefined || (!allowZero && ms <= 0) || ms > 2_147_483_647)
      throw new ConfigError(
        `${shown(raw)} is not a ${allowZero ? '' : 'positive '}duration up to 24 days; write e.g. 30s, 5m, 1h${allowZero ? ' (0 = no limit)' : ''}`,
      );
    return Math.ceil(ms);
  };
}

/** One of a few words, case-insensitive; `noun` says what they are ("a format"). */
export function choice<const C extends string>(
  choices: readonly C[],
  noun: string,
): Parser<C> & { choices: readonly C[] } {
  const listed = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
  const parse = (raw: Raw): C => {
    const t = text(raw).trim().toLowerCase();
    if (!choices.includes(t as C)) throw new ConfigError(`${shown(raw)} is not ${noun}; use ${listed}`);
    return t as C;
  };
  return Object.assign(parse, { choices });
}

/** 0 to 100, with or without a % sign. */
export const percent: Parser<number> = (raw) => {
  const t = text(raw).trim().replace(/%$/u, '');
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < 0 || n > 100)
    throw new ConfigError(`${shown(raw)} must be a percentage from 0 to 100`);
  return n;
};

/** One ASCII character; `\t` or `tab` for a tab. */
export const singleChar: Parser<string> = (raw) => {
  const v = raw.value === '\\t' || text(raw).toLowerCase() === 'tab' ? '\t' : text(raw);
  if (v.length !== 1 || v.charCodeAt(0) > 127 || v === '\n' || v === '\r')
    throw new ConfigError(`${shown(raw)} must be a single ASCII character (for tab, write \\t)`);
  return v;
};

/** A text encoding label the runtime can decode. */
export const encoding: Parser<string> = (raw) => {
  if (!isKnownEncoding(text(raw)))
    throw new ConfigError(`${shown(raw)} is not an encoding this runtime knows; use utf-8, latin1 or windows-1252`);
  return text(raw);
};

/**
 * A URL with one of these schemes. The value is never echoed: connection URLs carry passwords and
 * webhook URLs carry tokens.
 */
export function url(protocols: readonly string[]): Parser<string> {
  const schemes = protocols.map((p) => `${p}//`);
  const listed =
    schemes.length > 1 ? `${schemes.slice(0, -1).join(', ')} or ${schemes[schemes.length - 1]}` : schemes[0];
  return (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(text(raw).trim());
    } catch {
      throw new ConfigError(
        `${raw.origin} is not a valid URL; write one that starts with ${listed} (the value is not shown in case it holds a secret)`,
      );
    }
    if (!protocols.includes(parsed.protocol))
      throw new ConfigError(`${raw.origin} must be a URL that starts with ${listed} (got ${parsed.protocol}//...)`);
    return text(raw).trim();
  };
}

/** Bytes, from 16MiB, 512KiB, 1GiB or a bare number of bytes, within [min, max] (limits given in bytes). */
export function size(min: number, max: number): Parser<number> {
  const shownSize = (n: number) => (n % (1 << 20) === 0 ? `${n / (1 << 20)}MiB` : `${n / 1024}KiB`);
  return (raw) => {
    const n = parseSize(text(raw));
    if (n === undefined || n < min || n > max)
      throw new ConfigError(
        `${shown(raw)} is not a size from ${shownSize(min)} to ${shownSize(max)}; write e.g. 16MiB, 512KiB or a number of bytes`,
      );
    return n;
  };
}
