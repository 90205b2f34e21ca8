import type { SourceFormat } from './record-source.js';

/** The format asked for, or the one the name says (after dropping .gz); CSV when nothing says. */
export function formatOf(requested: SourceFormat | undefined, name: string): SourceFormat {
  if (requested) return requested;
  const base = name
    .replace(/[?#].*$/u, '')
    .toLowerCase()
    .replace(/\.gz$/u, '');
  if (base.endsWith('.ndjson') || base.endsWith('.jsonl')) return 'ndjson';
  if (base.endsWith('.json')) return 'json';
  return 'csv';
}
