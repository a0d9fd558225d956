import { createHash } from 'node:crypto';
import { StoreError } from '@probemesh/core';
import type { Query } from '@probemesh/model';

/** A place in merged order (time, then series order): where the previous page ended. */
export interface Position {
  ts: number;
  /** The series of the record at `ts`: indicator, device, instance, rule ("" when absent). */
  series: [string, string, string, string];
  /** Records still owed to a first/last query after this page; absent when the query has no count. */
  remaining?: number;
}

const VERSION = 1;

/** What a cursor is bound to: the filters of the query that gave it (not `limit`, which may change between pages). */
function fingerprint(q: Query): string {
  const f = [q.from, q.to, q.first, q.last, q.indicator, q.device, q.instance, q.rule].map((x) => x ?? null);
  return createHash('sha256').update(JSON.stringify(f)).digest('base64url').slice(0, 12);
}

/** The opaque `next` of a page: its end position, bound to the query's filters. */
export function encodeCursor(q: Query, p: Position): string {
  return Buffer.from(JSON.stringify([VERSION, fingerprint(q), p.ts, ...p.series, p.remaining ?? null])).toString('base64url');
}

/** The position in `q.cursor`; a StoreError when it is not one this store gave, or was given for other filters. */
export function decodeCursor(q: Query & { cursor: string }): Position {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  const ok =
    Array.isArray(c) &&
    c.length === 8 &&
    c[0] === VERSION &&
    typeof c[1] === 'string' &&
    Number.isSafeInteger(c[2]) &&
    (c[2] as number) >= 0 &&
    c.slice(3, 7).every((x) => typeof x === 'string') &&
    (c[7] === null || (Number.isSafeInteger(c[7]) && (c[7] as number) >= 1));
  if (!ok) throw new StoreError("cursor: not one this probe gave (pass an answer's `next` back unchanged)");
  const [, fp, ts, indicator, device, instance, rule, remaining] = c as [number, string, number, string, string, string, string, number | null];
  if (fp !== fingerprint(q)) throw new StoreError('cursor: it was given for other filters (pass the same from, to, first, last, indicator, device, instance and rule as the query that returned it)');
  return { ts, series: [indicator, device, instance, rule], ...(remaining !== null ? { remaining } : {}) };
}
