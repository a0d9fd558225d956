import type { Datum } from '@probemesh/model';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** A roll-up bucket: numeric count, sum, min and max (with their timestamps), and the count of text values. */
export type Bucket = [n: number, sum: number, min: number, minTs: number, max: number, maxTs: number, text: number];

/** Roll-up levels: -1 the rows themselves, 0 minute buckets, 1 hour buckets. */
export type Level = -1 | 0 | 1;

export const emptyBucket = (): Bucket => [0, 0, Infinity, 0, -Infinity, 0, 0];

/** Merges `b` into `a`; ties on min/max keep the earlier timestamp. */
export function mergeBucket(a: Bucket, b: Bucket): void {
  a[0] += b[0];
  a[1] += b[1];
  if (b[2] < a[2] || (b[2] === a[2] && b[3] < a[3])) {
    a[2] = b[2];
    a[3] = b[3];
  }
  if (b[4] > a[4] || (b[4] === a[4] && b[5] < a[5])) {
    a[4] = b[4];
    a[5] = b[5];
  }
  a[6] += b[6];
}

export function addToBucket(b: Bucket, ts: number, d: Datum): void {
  if (typeof d !== 'number') {
    b[6]++;
    return;
  }
  b[0]++;
  b[1] += d;
  if (d < b[2] || (d === b[2] && ts < b[3])) {
    b[2] = d;
    b[3] = ts;
  }
  if (d > b[4] || (d === b[4] && ts < b[5])) {
    b[4] = d;
    b[5] = ts;
  }
}

/**
 * How [from, to) is read at the coarsest levels up to `top`: rows at the ragged ends (less than a
 * minute each), minute buckets up to the first and from the last hour edge, hour buckets between.
 * Each span is [level, from, to); every bucket of a span lies wholly inside [from, to).
 */
export function spans(from: number, to: number, top: Level): Array<[Level, number, number]> {
  const a = Math.ceil(from / MINUTE) * MINUTE;
  const b = Math.floor(to / MINUTE) * MINUTE;
  if (top < 0 || a >= b) return [[-1, from, to]];
  const out: Array<[Level, number, number]> = [
    [-1, from, a],
    [-1, b, to],
  ];
  const A = Math.ceil(a / HOUR) * HOUR;
  const B = Math.floor(b / HOUR) * HOUR;
  if (top > 0 && A < B) out.push([0, a, A], [1, A, B], [0, B, b]);
  else out.push([0, a, b]);
  return out.filter(([, x, y]) => x < y);
}
