/**
 * Follower names and emails as real files have them: accents and other scripts, "Last, First"
 * orders and suffixes with commas, nicknames in double quotes. Every value is already in the form
 * etl stores (emails lowercased, names trimmed), so both pipelines end with identical rows.
 */
import { pick, scramble32, type Random } from './prng.js';

const FIRST = [
  'Ann',
  'Bob',
  'Carlos',
  'Dana',
  'Emma',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jamal',
  'Kate',
  'Liam',
  'José',
  'Zoë',
  'Łukasz',
  'Søren',
  'Chloé',
  'Björn',
  'François',
  'Ægir',
  'Mårten',
  'Siobhán',
  'Zoltán',
  'Renée',
  'İlkay',
  'Şebnem',
  'Ngozi',
  'Priya',
  'Ana-María',
  'Jürgen',
  'Dmitrij',
  'Émile',
  'Олег',
  'Αλέξανδρος',
  'محمد',
  '美咲',
  '太郎',
  '민준',
  'Nguyễn Văn',
  'Đức',
] as const;

const LAST = [
  'Smith',
  'Johnson',
  'García',
  'Müller',
  'Nguyễn',
  'Øvergaard',
  'Dvořák',
  'Kowalczyk',
  'Papadopoulos',
  'Lefèvre',
  'van der Berg',
  'Ólafsdóttir',
  'Żółkiewski',
  'Kim',
  'Haddad',
  'Ng',
  'Rossi',
  'Novák',
  "O'Brien",
  "D'Angelo",
  'Иванова',
  'Παπαδάκης',
  'عبد الله',
  '山田',
  '김',
  'Çelik',
  'Šimić',
  'Fernández',
] as const;

const NICKS = ['Bobby', 'Doc', 'The Rock', 'Ace', 'Zé', 'Kiki', 'Sunny', 'Big Mike'] as const;
const SUFFIXES = ['Jr.', 'Sr.', 'III', 'PhD', 'MD', 'Esq.'] as const;
const INITIALS = 'ABCDEFGHJKLMNOPRSTVWÅÉ';
const SLUGS = [
  'ann',
  'bob',
  'carlos',
  'dana',
  'emma',
  'farid',
  'grace',
  'hiro',
  'ines',
  'jose',
  'zoe',
  'lukasz',
  'soren',
  'info',
  'hello',
  'me',
] as const;
const DOMAINS = [
  'example.com',
  'example.org',
  'example.net',
  'mail.example.com',
  'post.example.de',
  'correo.example.es',
] as const;

function one<T>(random: Random, list: readonly T[]): T {
  return list[pick(random, list.length)];
}

/** One full name; about a third need CSV quoting (a comma or a double quote). */
export function randomName(random: Random): string {
  const first = one(random, FIRST);
  const last = one(random, LAST);
  const form = random();
  if (form < 0.55) return `${first} ${last}`;
  if (form < 0.7) return `${last}, ${first}`;
  if (form < 0.78) return `${first} "${one(random, NICKS)}" ${last}`;
  if (form < 0.86) return `${first} ${last}, ${one(random, SUFFIXES)}`;
  if (form < 0.93) return `${first} ${INITIALS[pick(random, INITIALS.length)]}. ${last}`;
  if (form < 0.97) return `"${one(random, NICKS)}" ${last}`;
  return `${first} ${last}-${one(random, LAST)}`;
}

/**
 * The email of row `index` (an index, not a position: next-day rows keep theirs). The token is a
 * bijection of the index, so emails never repeat within a seed and arrive in no particular order.
 */
export function emailFor(seed: number, index: number, random: Random): string {
  const token = scramble32((index ^ Math.imul(seed, 0x27d4eb2d)) >>> 0)
    .toString(36)
    .padStart(7, '0');
  return `${one(random, SLUGS)}.${token}@${one(random, DOMAINS)}`;
}

/** A different name for a follower who changed theirs. */
export function changedName(random: Random, old: string): string {
  const next = randomName(random);
  return next === old ? `${old} ${one(random, SUFFIXES)}` : next;
}
