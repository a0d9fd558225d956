import { api, RequestError } from './api.js';

/** One bucket of a series: count, mean, min and max of the values in [ts, ts + step). */
export interface Bucket {
  ts: number;
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
}

/** What the explorer, the overview and the benchmark ask for. */
export interface SeriesQuery {
  indicator: string;
  device?: string;
  instance?: string;
  from: number;
  to: number;
  stepMs: number;
}

/** A bucketed series and where it came from (the roll-ups, or raw records when the probe has no series mode). */
export interface Series {
  buckets: Bucket[];
  source: 'series' | 'records';
  /** Milliseconds from sending the query to having it parsed. */
  fetchMs: number;
}

/** Steps the store keeps roll-ups for, and finer ones for short ranges. */
const STEPS = [10e3, 60e3, 300e3, 900e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 86400e3];

/** The smallest step that draws `range` in at most `points` buckets. */
export function stepFor(rangeMs: number, points = 1000): number {
  return STEPS.find((s) => rangeMs / s <= points) ?? STEPS[STEPS.length - 1]!;
}

/** A step as the API writes it ("1m", "1h" …). */
export function stepText(ms: number): string {
  for (const [u, n] of [['d', 86400e3], ['h', 3600e3], ['m', 60e3], ['s', 1e3]] as const) if (ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}

type RawBucket = Partial<Bucket> & { start?: number; from?: number };

function bucketOf(b: RawBucket | number[]): Bucket {
  if (Array.isArray(b)) {
    const [ts, count, mean, min, max] = b;
    return { ts: ts!, count: count ?? 0, mean: mean ?? null, min: min ?? null, max: max ?? null };
  }
  return { ts: b.ts ?? b.start ?? b.from ?? 0, count: b.count ?? 0, mean: b.mean ?? null, min: b.min ?? null, max: b.max ?? null };
}

/** Buckets raw records (the fallback while a probe has no series mode). */
export function bucketRecords(records: ReadonlyArray<{ ts: number; datum: unknown }>, from: number, stepMs: number): Bucket[] {
  const out = new Map<number, Bucket & { sum: number }>();
  for (const r of records) {
    if (typeof r.datum !== 'number') continue;
    const ts = from + Math.floor((r.ts - from) / stepMs) * stepMs;
    let b = out.get(ts);
    if (!b) out.set(ts, (b = { ts, count: 0, sum: 0, mean: null, min: r.datum, max: r.datum }));
    b.count++;
    b.sum += r.datum;
    b.min = Math.min(b.min!, r.datum);
    b.max = Math.max(b.max!, r.datum);
  }
  return [...out.values()].sort((a, b) => a.ts - b.ts).map(({ sum, ...b }) => ({ ...b, mean: sum / b.count }));
}

const base = (q: SeriesQuery) => ({ indicator: q.indicator, device: q.device, instance: q.instance, from: q.from, to: q.to });

/** Fetches a series as buckets from the roll-ups (`mode=series`), or from raw records where that mode is missing. */
export async function fetchSeries(q: SeriesQuery, signal?: AbortSignal): Promise<Series> {
  const t0 = performance.now();
  try {
    const r = await api<{ buckets?: Array<RawBucket | number[]>; series?: Array<RawBucket | number[]> }>('/query', { params: { ...base(q), mode: 'series', step: stepText(q.stepMs) }, ...(signal ? { signal } : {}) });
    const raw = r.buckets ?? r.series ?? [];
    return { buckets: raw.map(bucketOf), source: 'series', fetchMs: performance.now() - t0 };
  } catch (err) {
    // Only a probe that does not know the mode falls back; any other refusal is the answer.
    if (!(err instanceof RequestError && err.status === 400 && /mode|step/.test(JSON.stringify(err.issues) + err.message))) throw err;
  }
  const r = await api<{ records: Array<{ ts: number; datum: unknown }> }>('/query', { params: { ...base(q), last: 100_000 }, ...(signal ? { signal } : {}) });
  return { buckets: bucketRecords(r.records, q.from, q.stepMs), source: 'records', fetchMs: performance.now() - t0 };
}

/** The buckets as CSV: one line per bucket, times in ISO-8601. */
export function toCsv(buckets: readonly Bucket[]): string {
  const n = (v: number | null) => (v === null ? '' : String(v));
  return ['time,count,mean,min,max', ...buckets.map((b) => `${new Date(b.ts).toISOString()},${b.count},${n(b.mean)},${n(b.min)},${n(b.max)}`)].join('\n') + '\n';
}
