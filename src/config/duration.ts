/** Durations as people write them: 90s, 15m, 6h, 1h30m, 250ms; a bare number means seconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/u.test(t)) return Number(t) * 1000;
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/gu)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]], 0);
}

/**
 * The one way durations are shown: "250ms", "1.25s", "12.5s", "1m05s", "2h03m". With `wholeSeconds`
 * (an estimate, where fractions would be false precision) seconds are rounded: "0s", "8s", "1m05s".
 */
export function formatDuration(ms: number, { wholeSeconds = false }: { wholeSeconds?: boolean } = {}): string {
  const t = Math.max(0, ms);
  if (wholeSeconds) {
    const s = Math.round(t / 1000);
    if (s < 60) return `${s}s`;
  } else {
    if (t < 1000) return `${Math.round(t)}ms`;
    if (t < 60_000) return `${(t / 1000).toFixed(t < 10_000 ? 2 : 1)}s`;
  }
  const s = Math.round(t / 1000);
  const m = Math.floor(s / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return m < 60 ? `${m}m${two(s % 60)}s` : `${Math.floor(m / 60)}h${two(m % 60)}m`;
}
