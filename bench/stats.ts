/** Medians and the small arithmetic the report needs. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median of the values present; null when none is. */
export function medianOrNull(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length > 0 ? median(present) : null;
}

export function maxOrNull(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length > 0 ? Math.max(...present) : null;
}

/** Per-key medians of phase objects, keys in the order etl first reported them. */
export function medianPhases(all: readonly (Record<string, number> | null)[]): Record<string, number> | null {
  const keys: string[] = [];
  for (const phases of all) for (const key of Object.keys(phases ?? {})) if (!keys.includes(key)) keys.push(key);
  if (keys.length === 0) return null;
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = median(all.flatMap((p) => (p && key in p ? [p[key]] : [])));
  return out;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
