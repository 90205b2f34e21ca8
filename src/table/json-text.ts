/**
 * Scans of JSON text that is already known to be valid (JSON.parse accepted it), without recursion
 * and without turning numbers into doubles: so json/jsonb columns keep values as written (integers
 * beyond 2^53 included) and deep nesting costs no stack.
 */

const QUOTE = 34;
const BACKSLASH = 92;

/** The index just past the string that opens at `at`. */
function endOfString(text: string, at: number): number {
  let i = at + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i += 1;
  }
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

function skipSpace(text: string, at: number): number {
  let i = at;
  while (isSpace(text.charCodeAt(i))) i += 1;
  return i;
}

/** The index just past the value that starts at `at`. */
function endOfValue(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === QUOTE) return endOfString(text, at);
  if (c === 123 /* { */ || c === 91 /* [ */) {
    let depth = 0;
    let i = at;
    for (;;) {
      const b = text.charCodeAt(i);
      if (b === QUOTE) {
        i = endOfString(text, i);
        continue;
      }
      if (b === 123 || b === 91) depth += 1;
      else if (b === 125 || b === 93) {
        depth -= 1;
        if (depth === 0) return i + 1;
      }
      i += 1;
    }
  }
  let i = at;
  while (i < text.length) {
    const b = text.charCodeAt(i);
    if (b === 44 || b === 125 || b === 93 || isSpace(b)) break;
    i += 1;
  }
  return i;
}

/**
 * The source text of each member of a JSON object, by key (the last of repeated keys wins, as with
 * JSON.parse). `text` must be a valid JSON object.
 */
export function memberTexts(text: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = skipSpace(text, 0) + 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== QUOTE) break; // "}"
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd) + 1; // past ":"
    const start = skipSpace(text, i);
    i = endOfValue(text, start);
    members.set(key, text.slice(start, i));
    i = skipSpace(text, i);
    if (text.charCodeAt(i) === 44 /* , */) i += 1;
  }
  return members;
}

/** Whether valid JSON text nests arrays and objects deeper than `limit`. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = endOfString(text, i) - 1;
    else if (c === 123 || c === 91) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === 125 || c === 93) depth -= 1;
  }
  return false;
}
