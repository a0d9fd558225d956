import { open, type Database, type RootDatabase } from 'lmdb';
import { NotNumericError, StoreError } from '@probemesh/core';
import type { Datum, Query, QueryResult, Value } from '@probemesh/model';

/** A set of series: each part that is given must match; absent parts match anything. */
export type SeriesSelector = { indicator?: string; device?: string; instance?: string; rule?: string };

/** A mergeable aggregate of numeric values (empty: count 0, sum 0, min +Infinity, max -Infinity). */
export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Where the store lives and what it keeps. */
export interface StoreOptions {
  /** Directory of the LMDB environment (created when absent). */
  path: string;
  /** Initial map size; lmdb-js grows it when full. Default 256 MiB. */
  mapSizeBytes?: number;
  /** Applied by `enforceRetention()`: values older than maxAgeMs, then oldest first down to maxBytes. */
  retention?: { maxAgeMs?: number; maxBytes?: number };
  /** The clock retention by age reads. Default Date.now. */
  now?: () => number;
}

/** A series: one (indicator, device, instance, rule) with a compact numeric id used in keys. */
interface Series {
  id: number;
  indicator: string;
  device: string;
  instance: string;
  rule: string;
}

/** What is kept in memory per series: its newest timestamp once known, its newest bucket per level, a write cursor. */
interface Live extends Series {
  newest?: number;
  last: [minute?: Cached, hour?: Cached];
  open?: Delta;
}

/** A stored bucket kept in memory, so appends to the current minute and hour read nothing. */
interface Cached {
  start: number;
  b: Bucket;
}

/** A roll-up bucket: numeric count, sum, min and max (with their timestamps), and the count of text values. */
type Bucket = [n: number, sum: number, min: number, minTs: number, max: number, maxTs: number, text: number];

/** What the queued appends add to one bucket; `replaced` when one overwrote a value (then the bucket is rebuilt). */
interface Delta {
  start: number;
  b: Bucket;
  replaced: boolean;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const MAX_TS = 8.64e15; // the largest Date
const CHUNK = 5_000; // deletions per retention transaction

const emptyBucket = (): Bucket => [0, 0, Infinity, 0, -Infinity, 0, 0];

/** Merges `b` into `a`; ties on min/max keep the earlier timestamp. */
function mergeBucket(a: Bucket, b: Bucket): void {
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

function addToBucket(b: Bucket, ts: number, d: Datum): void {
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

/** Series order: indicator, device, instance, rule (JS string order); ties in time are merged in it. */
function compareSeries(a: Series, b: Series): number {
  for (const k of ['indicator', 'device', 'instance', 'rule'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

function bad(v: Value, what: string): StoreError {
  return new StoreError(`indicator '${String(v?.indicator)}': ${what}; nothing of this batch was stored`);
}

/**
 * The probe's value store on LMDB. Values live per series under ordered keys [series, ts], so a
 * time range is one range read; every write also updates per-minute and per-hour roll-ups in the
 * same transaction, so aggregates over long ranges cost buckets, not rows. Configuration
 * entities live in the same environment.
 */
export class Store {
  private readonly root: RootDatabase;
  private readonly values: Database<Datum, [number, number]>;
  private readonly rollups: Database<Bucket, [number, number, number]>;
  private readonly seriesDb: Database<Series, number>;
  private readonly configDb: Database<unknown, [string, string]>;
  /** indicator → device → instance → rule → series. */
  private readonly index = new Map<string, Map<string, Map<string, Map<string, Live>>>>();
  /** Every series, in series order. */
  private sorted: Live[] = [];
  private nextId = 1;
  private closing?: Promise<void>;
  /** Appends waiting for the transaction that will write them. */
  private queue: Array<readonly Value[]> = [];
  private queued?: Promise<void>;
  private retention?: Promise<{ deleted: number }>;
  private readonly now: () => number;

  private constructor(private readonly opts: StoreOptions) {
    this.now = opts.now ?? Date.now;
    // No object cache (memory on a 1 GiB board); the OS page cache serves reads.
    this.root = open({ path: opts.path, maxDbs: 8, mapSize: opts.mapSizeBytes ?? 256 * 1024 ** 2, pageSize: 4096 });
    this.values = this.root.openDB({ name: 'values' });
    this.rollups = this.root.openDB({ name: 'rollups' });
    this.seriesDb = this.root.openDB({ name: 'series' });
    this.configDb = this.root.openDB({ name: 'config' });
    this.reload();
  }

  /** Opens (creating when absent) the store at `opts.path`. */
  static open(opts: StoreOptions): Store {
    return new Store(opts);
  }

  private check(): void {
    if (this.closing) throw new StoreError('the store is closed');
  }

  private find(indicator: string, device: string, instance: string, rule: string): Live | undefined {
    return this.index.get(indicator)?.get(device)?.get(instance)?.get(rule);
  }

  private remember(s: Series, inOrder = true): Live {
    const live: Live = { ...s, last: [] };
    const level = <K, V>(m: Map<K, V>, k: K, make: () => V): V => {
      let v = m.get(k);
      if (v === undefined) m.set(k, (v = make()));
      return v;
    };
    level(level(level(this.index, s.indicator, () => new Map()), s.device, () => new Map()), s.instance, () => new Map()).set(s.rule, live);
    this.nextId = Math.max(this.nextId, s.id + 1);
    if (!inOrder) {
      this.sorted.push(live);
      return live;
    }
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareSeries(this.sorted[mid]!, s) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, live);
    return live;
  }

  private forget(s: Live): void {
    this.index.get(s.indicator)?.get(s.device)?.get(s.instance)?.delete(s.rule);
    this.sorted = this.sorted.filter((x) => x !== s);
  }

  /**
   * Appends values; resolves when they are durable. Appends made in the same tick share one
   * transaction and commit. A value that is not a finite number or a text, or has a bad
   * timestamp, refuses the whole batch (rejects with StoreError; nothing of it is written).
   */
  async append(values: readonly Value[]): Promise<void> {
    this.check();
    if (!Array.isArray(values)) throw new StoreError('append takes an array of values');
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (typeof v?.indicator !== 'string' || v.indicator === '') throw bad(v, 'a value needs an indicator');
      const d = v.datum;
      if (typeof d === 'number' ? !Number.isFinite(d) : typeof d !== 'string') throw bad(v, `${String(d)} is not a finite number or a text`);
      if (!Number.isInteger(v.ts) || v.ts < 0 || v.ts > MAX_TS) throw bad(v, `timestamp ${String(v.ts)} is not a time in ms`);
      if ((v.device !== undefined && typeof v.device !== 'string') || (v.instance !== undefined && typeof v.instance !== 'string') || (v.rule !== undefined && typeof v.rule !== 'string'))
        throw bad(v, 'device, instance and rule are texts');
    }
    if (values.length === 0) return;
    // Appends queued before the transaction starts are written by one write(): each bucket they
    // touch is read and put once per commit, not once per append.
    this.queue.push(values.slice()); // the caller may reuse its array before the transaction runs
    this.queued ??= this.root.childTransaction(() => {
      const batches = this.queue;
      this.queue = [];
      this.queued = undefined;
      this.write(batches);
    });
    try {
      await this.queued;
    } catch (err) {
      // The child transaction rolled this group back; memory may be ahead of the database.
      this.reload();
      throw err;
    }
    await this.root.flushed;
  }

  /** Rebuilds what memory holds about series from the database. */
  private reload(): void {
    this.index.clear();
    this.sorted = [];
    for (const { value } of this.seriesDb.getRange()) this.remember(value, false);
    this.sorted.sort(compareSeries);
  }

  /** Runs inside a (child) write transaction: puts the rows of the queued appends, then folds their deltas into the buckets. */
  private write(batches: ReadonlyArray<readonly Value[]>): void {
    const created: Live[] = [];
    const newest = new Map<Live, number | undefined>();
    const minutes = new Map<Live, Map<number, Delta>>();
    try {
      for (const values of batches) {
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          const { ts, datum } = v;
          const device = v.device ?? '';
          const instance = v.instance ?? '';
          const rule = v.rule ?? '';
          let s = this.find(v.indicator, device, instance, rule);
          if (!s) {
            const rec: Series = { id: this.nextId++, indicator: v.indicator, device, instance, rule };
            this.seriesDb.put(rec.id, rec);
            created.push((s = this.remember(rec)));
          }
          const key: [number, number] = [s.id, ts];
          // Only a write at or before the newest timestamp can replace a value: skip the look-up otherwise.
          let replaced = false;
          if (ts <= this.newestOf(s)) replaced = this.values.doesExist(key);
          else {
            if (!newest.has(s)) newest.set(s, s.newest);
            s.newest = ts;
          }
          const start = ts - (ts % MINUTE);
          let d = s.open;
          if (d === undefined || d.start !== start) {
            let m = minutes.get(s);
            if (!m) minutes.set(s, (m = new Map()));
            d = m.get(start);
            if (!d) m.set(start, (d = { start, b: emptyBucket(), replaced: false }));
            s.open = d;
          }
          if (replaced) d.replaced = true;
          else addToBucket(d.b, ts, datum);
          this.values.put(key, datum);
        }
      }
      for (const [s, m] of minutes) {
        // A bucket that starts after the series' newest value before this batch is empty: no read.
        const before = newest.has(s) ? newest.get(s)! : s.newest!;
        const hours = new Map<number, Delta>();
        for (const d of m.values()) {
          const b = d.replaced ? this.rawBucket(s, d.start, d.start + MINUTE) : this.bucket(s, 0, d.start, before);
          if (!d.replaced) mergeBucket(b, d.b);
          this.putBucket(s, 0, d.start, b);
          const hs = d.start - (d.start % HOUR);
          let h = hours.get(hs);
          if (!h) hours.set(hs, (h = { start: hs, b: emptyBucket(), replaced: false }));
          if (d.replaced) h.replaced = true;
          else mergeBucket(h.b, d.b);
        }
        for (const h of hours.values()) {
          // A replaced value may have been a min or max: rebuild the hour from its minutes.
          const b = h.replaced ? this.mergedBuckets(s, 0, h.start, h.start + HOUR) : this.bucket(s, 1, h.start, before);
          if (!h.replaced) mergeBucket(b, h.b);
          this.putBucket(s, 1, h.start, b);
        }
      }
    } catch (err) {
      // The child transaction is rolled back: forget what memory learnt from it.
      for (const s of minutes.keys()) s.last = [];
      for (const s of created) this.forget(s);
      for (const [s, n] of newest) s.newest = n;
      throw err;
    } finally {
      for (const s of minutes.keys()) s.open = undefined;
    }
  }

  /** The newest timestamp of a series, -1 when empty (read once, then kept up to date in memory). */
  private newestOf(s: Live): number {
    if (s.newest === undefined) {
      s.newest = -1;
      for (const [ts] of this.rows(s, 0, MAX_TS, true, 1)) s.newest = ts;
    }
    return s.newest;
  }

  /** A stored bucket (the in-memory one when it is the series' newest), or an empty one when none can exist. */
  private bucket(s: Live, level: 0 | 1, start: number, newest: number): Bucket {
    const c = s.last[level];
    if (c?.start === start) return c.b;
    if (start > newest) return emptyBucket();
    return this.rollups.get([s.id, level, start]) ?? emptyBucket();
  }

  private putBucket(s: Live, level: 0 | 1, start: number, b: Bucket): void {
    this.rollups.put([s.id, level, start], b); // encoded now: `b` may change afterwards
    const c = s.last[level];
    if (!c || c.start <= start) s.last[level] = { start, b };
  }

  /** Series matching `sel`, as fully specified selectors, in series order. */
  series(sel: SeriesSelector = {}): SeriesSelector[] {
    this.check();
    return this.match(sel).map((s) => ({ indicator: s.indicator, device: s.device, instance: s.instance, rule: s.rule }));
  }

  private match(sel: SeriesSelector): Live[] {
    if (sel.indicator !== undefined) {
      // Only that indicator's series (and device's, when given), put in series order.
      const byDevice = this.index.get(sel.indicator);
      const devices = sel.device === undefined ? [...(byDevice?.values() ?? [])] : [byDevice?.get(sel.device)];
      const out: Live[] = [];
      for (const byInstance of devices) {
        if (!byInstance) continue;
        const instances = sel.instance === undefined ? [...byInstance.values()] : [byInstance.get(sel.instance)];
        for (const byRule of instances) {
          if (!byRule) continue;
          if (sel.rule === undefined) out.push(...byRule.values());
          else {
            const s = byRule.get(sel.rule);
            if (s) out.push(s);
          }
        }
      }
      return out.length > 1 ? out.sort(compareSeries) : out;
    }
    return this.sorted.filter(
      (s) =>
        (sel.indicator === undefined || s.indicator === sel.indicator) &&
        (sel.device === undefined || s.device === sel.device) &&
        (sel.instance === undefined || s.instance === sel.instance) &&
        (sel.rule === undefined || s.rule === sel.rule),
    );
  }

  private toValue(s: Series, ts: number, datum: Datum): Value {
    const v: Value = { indicator: s.indicator, ts, datum };
    if (s.device) v.device = s.device;
    if (s.instance) v.instance = s.instance;
    if (s.rule) v.rule = s.rule;
    return v;
  }

  /** Rows of one series in [from, to), oldest first or newest first, at most `limit`. */
  private *rows(s: Series, from: number, to: number, reverse = false, limit?: number): Generator<[number, Datum]> {
    const range = reverse
      ? this.values.getRange({ start: [s.id, to], end: [s.id, from - 1], reverse: true, ...(limit ? { limit: limit + 1 } : {}) }) // end is exclusive: step past `from`
      : this.values.getRange({ start: [s.id, from], end: [s.id, to], ...(limit ? { limit } : {}) });
    let n = 0;
    for (const { key, value } of range) {
      const ts = key[1];
      if (ts < from || ts >= to) continue; // a reverse range starts at `to` itself
      yield [ts, value];
      if (limit && ++n >= limit) return;
    }
  }

  private rawBucket(s: Series, from: number, to: number): Bucket {
    const b = emptyBucket();
    for (const [ts, d] of this.rows(s, from, to)) addToBucket(b, ts, d);
    return b;
  }

  /** The merge of the stored buckets of one level whose start is in [from, to). */
  private mergedBuckets(s: Series, level: 0 | 1, from: number, to: number): Bucket {
    const out = emptyBucket();
    for (const { value } of this.rollups.getRange({ start: [s.id, level, from], end: [s.id, level, to] })) mergeBucket(out, value);
    return out;
  }

  /** The aggregate of one series over [from, to): raw rows at the ragged ends, minute and hour buckets between. */
  private aggregateSeries(s: Series, from: number, to: number): Bucket {
    const a = Math.ceil(from / MINUTE) * MINUTE;
    const b = Math.floor(to / MINUTE) * MINUTE;
    if (a >= b) return this.rawBucket(s, from, to);
    const out = this.rawBucket(s, from, a);
    mergeBucket(out, this.rawBucket(s, b, to));
    const A = Math.ceil(a / HOUR) * HOUR;
    const B = Math.floor(b / HOUR) * HOUR;
    if (A < B) {
      mergeBucket(out, this.mergedBuckets(s, 0, a, A));
      mergeBucket(out, this.mergedBuckets(s, 1, A, B));
      mergeBucket(out, this.mergedBuckets(s, 0, B, b));
    } else mergeBucket(out, this.mergedBuckets(s, 0, a, b));
    return out;
  }

  /** Count, sum, min and max of the numeric values of the selected series over [fromMs, toMs); text is skipped. */
  window(sel: SeriesSelector, fromMs: number, toMs: number): Aggregate {
    this.check();
    const all = emptyBucket();
    if (fromMs < toMs) for (const s of this.match(sel)) mergeBucket(all, this.aggregateSeries(s, fromMs, toMs));
    return { count: all[0], sum: all[1], min: all[2], max: all[4] };
  }

  /** The newest value of the selected series (on a tie in time, the first series in series order). */
  latest(sel: SeriesSelector): Value | undefined {
    this.check();
    let best: Value | undefined;
    for (const s of this.match(sel)) {
      for (const [ts, d] of this.rows(s, 0, MAX_TS, true, 1)) if (!best || ts > best.ts) best = this.toValue(s, ts, d);
    }
    return best;
  }

  /** Records of the selected series over [from, to), merged by time (ties in series order); first or last `n` when given. */
  private records(list: Live[], from: number, to: number, first?: number, last?: number): Value[] {
    const n = first ?? last;
    if (n !== undefined && list.length > 1) return this.merged(list, from, to, n, last !== undefined);
    const out: Value[] = [];
    for (const s of list) {
      const part = [...this.rows(s, from, to, last !== undefined, n)];
      if (last !== undefined) part.reverse();
      for (const [ts, d] of part) out.push(this.toValue(s, ts, d));
    }
    if (list.length > 1) out.sort((a, b) => a.ts - b.ts); // stable: series order within a timestamp
    return out;
  }

  /** The first (or last) `n` records of several series, merged lazily: reads about n + series rows, not n × series. */
  private merged(list: Live[], from: number, to: number, n: number, reverse: boolean): Value[] {
    type Head = { i: number; it: Iterator<[number, Datum]>; ts: number; d: Datum };
    // Taken first: the earliest (latest when reversed); on a tie the first series (last when reversed).
    const before = (a: Head, b: Head) => (reverse ? a.ts > b.ts || (a.ts === b.ts && a.i > b.i) : a.ts < b.ts || (a.ts === b.ts && a.i < b.i));
    const heap: Head[] = [];
    const push = (h: Head) => {
      let k = heap.push(h) - 1;
      while (k > 0) {
        const p = (k - 1) >> 1;
        if (!before(heap[k]!, heap[p]!)) break;
        [heap[k], heap[p]] = [heap[p]!, heap[k]!];
        k = p;
      }
    };
    const pop = (): Head => {
      const top = heap[0]!;
      const end = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = end;
        for (let k = 0; ; ) {
          const l = 2 * k + 1;
          const r = l + 1;
          let m = k;
          if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
          if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
          if (m === k) break;
          [heap[k], heap[m]] = [heap[m]!, heap[k]!];
          k = m;
        }
      }
      return top;
    };
    list.forEach((s, i) => {
      const it = this.rows(s, from, to, reverse, n);
      const r = it.next();
      if (!r.done) push({ i, it, ts: r.value[0], d: r.value[1] });
    });
    const out: Value[] = [];
    while (out.length < n && heap.length > 0) {
      const h = pop();
      out.push(this.toValue(list[h.i]!, h.ts, h.d));
      const r = h.it.next();
      if (!r.done) {
        h.ts = r.value[0];
        h.d = r.value[1];
        push(h);
      }
    }
    for (const h of heap) h.it.return?.(undefined); // ends their range reads
    return reverse ? out.reverse() : out;
  }

  /** Answers the data-access query (DESIGN.md §1): `from` inclusive, `to` exclusive; throws StoreError or NotNumericError. */
  query(q: Query): QueryResult {
    this.check();
    const mode = q.mode ?? 'records';
    for (const k of ['first', 'last'] as const) {
      const n = q[k];
      if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new StoreError(`${k} must be a whole number ≥ 1, not ${String(n)}`);
    }
    for (const k of ['from', 'to'] as const) if (q[k] !== undefined && !Number.isFinite(q[k])) throw new StoreError(`${k} must be a time in ms, not ${String(q[k])}`);
    if (q.first !== undefined && q.last !== undefined) throw new StoreError('a query takes first or last, not both');
    if (!['records', 'max', 'min', 'mean', 'sum', 'count'].includes(mode)) throw new StoreError(`unknown mode '${String(mode)}'`);
    if (mode === 'series') throw new StoreError('mode series is answered by the next version of the store');
    const list = this.match(q);
    const from = q.from ?? 0;
    const to = q.to ?? MAX_TS;
    const limited = q.first !== undefined || q.last !== undefined;
    if (mode === 'records') return { mode, records: from < to ? this.records(list, from, to, q.first, q.last) : [] };
    const agg = emptyBucket();
    const text = new Set<string>();
    let picked: Value | undefined; // the max or min record, the first one on ties
    if (from < to && limited) {
      for (const v of this.records(list, from, to, q.first, q.last)) {
        addToBucket(agg, v.ts, v.datum);
        if (typeof v.datum === 'string') text.add(v.indicator);
        else if (!picked || (mode === 'max' ? v.datum > (picked.datum as number) : v.datum < (picked.datum as number))) picked = v;
      }
    } else if (from < to) {
      const [v, t] = (mode === 'max' ? [4, 5] : [2, 3]) as [2 | 4, 3 | 5];
      for (const s of list) {
        const b = this.aggregateSeries(s, from, to);
        if (b[6] > 0) text.add(s.indicator);
        // The bucket keeps the extreme and its time: the record is (series, time, value), no look-up.
        if ((mode === 'max' || mode === 'min') && b[0] > 0 && (!picked || (mode === 'max' ? b[v] > agg[v] : b[v] < agg[v]) || (b[v] === agg[v] && b[t] < agg[t]))) picked = this.toValue(s, b[t], b[v]);
        mergeBucket(agg, b);
      }
    }
    if (mode === 'count') return { mode, count: agg[0] + agg[6] };
    if (text.size > 0) throw new NotNumericError([...text], mode);
    if (mode === 'mean' || mode === 'sum') return { mode, value: agg[0] === 0 ? null : mode === 'sum' ? agg[1] : agg[1] / agg[0], count: agg[0] };
    return { mode, record: agg[0] === 0 ? null : picked! };
  }

  /** Configuration entities (JSON values) by kind and id, in the same environment; puts and deletes are durable when they resolve. */
  readonly config = {
    get: <T>(kind: string, id: string): T | undefined => {
      this.check();
      return this.configDb.get([kind, id]) as T | undefined;
    },
    put: async (kind: string, id: string, v: unknown): Promise<void> => {
      this.check();
      if (v === undefined) throw new StoreError(`config ${kind}/${id}: no value to store`);
      await this.configDb.put([kind, id], v);
      await this.root.flushed;
    },
    delete: async (kind: string, id: string): Promise<boolean> => {
      this.check();
      const removed = await this.root.transaction(() => this.configDb.doesExist([kind, id]) && this.configDb.removeSync([kind, id]));
      await this.root.flushed;
      return removed;
    },
    /** The values of a kind, in id order. */
    list: <T>(kind: string): T[] => this.config.entries<T>(kind).map(([, v]) => v),
    /** [id, value] pairs of a kind, in id order. */
    entries: <T>(kind: string): Array<[string, T]> => {
      this.check();
      return [...this.configDb.getRange({ start: [kind, ''], end: [kind, '\uffff'] })].map((e) => [e.key[1], e.value as T]);
    },
  };

  /**
   * Deletes the values of one series older than `cutoff`, a chunk per transaction; in the same
   * transaction the roll-ups below the cut are removed and the bucket it falls in is rebuilt.
   * A series left empty is forgotten.
   */
  private async trim(s: Live, cutoff: number): Promise<number> {
    let total = 0;
    for (;;) {
      // Check outside a transaction first, so series with nothing to delete cost no commit.
      const first = [...this.values.getKeys({ start: [s.id, 0], end: [s.id, cutoff], limit: 1 })];
      if (first.length === 0) return total;
      const n = await this.root.childTransaction(() => {
        const keys = [...this.values.getKeys({ start: [s.id, 0], end: [s.id, cutoff], limit: CHUNK })];
        if (keys.length === 0) return 0;
        for (const k of keys) this.values.remove(k);
        s.last = [];
        // Every row at or before `last` is gone: buckets ending by then are empty, the one holding it is partial.
        const last = keys[keys.length - 1]![1];
        for (const [level, size] of [[0, MINUTE], [1, HOUR]] as const) {
          const edge = last - (last % size);
          for (const k of [...this.rollups.getKeys({ start: [s.id, level, 0], end: [s.id, level, edge] })]) this.rollups.remove(k);
          const b = level === 0 ? this.rawBucket(s, edge, edge + size) : this.mergedBuckets(s, 0, edge, edge + size);
          if (b[0] + b[6] > 0) this.rollups.put([s.id, level, edge], b);
          else this.rollups.remove([s.id, level, edge]);
        }
        if (this.find(s.indicator, s.device, s.instance, s.rule) === s && [...this.values.getKeys({ start: [s.id, 0], end: [s.id, MAX_TS], limit: 1 })].length === 0) {
          this.seriesDb.remove(s.id);
          this.forget(s);
        }
        return keys.length;
      });
      total += n;
      if (n < CHUNK) return total;
    }
  }

  /** The oldest and newest timestamps over all series. */
  private span(): { oldest: number; newest: number } {
    let oldest = Infinity;
    let newest = -Infinity;
    for (const s of this.sorted) {
      for (const [ts] of this.rows(s, 0, MAX_TS, false, 1)) oldest = Math.min(oldest, ts);
      for (const [ts] of this.rows(s, 0, MAX_TS, true, 1)) newest = Math.max(newest, ts);
    }
    return { oldest, newest };
  }

  /**
   * Applies retention: values older than maxAgeMs, then the oldest values until the bytes in use
   * are within maxBytes. Runs in small transactions, so appends go on meanwhile.
   */
  enforceRetention(): Promise<{ deleted: number }> {
    this.check();
    // One run at a time: a call during a run shares it.
    this.retention ??= this.retain().finally(() => (this.retention = undefined));
    return this.retention;
  }

  private async retain(): Promise<{ deleted: number }> {
    const r = this.opts.retention ?? {};
    let deleted = 0;
    if (r.maxAgeMs !== undefined) {
      const cutoff = this.now() - r.maxAgeMs;
      for (const s of [...this.sorted]) if (!this.closing) deleted += await this.trim(s, cutoff);
    }
    if (r.maxBytes !== undefined) {
      for (let round = 0; round < 100 && !this.closing; round++) {
        const bytes = this.stats().bytes;
        if (bytes <= r.maxBytes) break;
        const { oldest, newest } = this.span();
        if (!Number.isFinite(oldest)) break;
        // Drop the oldest share of the time span, about the share of bytes over budget (at least 2%).
        const share = Math.max(0.02, (bytes - r.maxBytes) / bytes);
        const cutoff = oldest + Math.max(1, Math.ceil((newest - oldest) * share));
        let n = 0;
        for (const s of [...this.sorted]) if (!this.closing) n += await this.trim(s, cutoff);
        deleted += n;
      }
    }
    return { deleted };
  }

  /** Series and values held, and bytes in use (pages of the store's trees, not free pages of the file). */
  stats(): { series: number; values: number; bytes: number } {
    this.check();
    type St = { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; pageSize: number; entryCount: number };
    const st = (db: Database<unknown, never>) => db.getStats() as St;
    const pages = (x: St) => (x.treeBranchPageCount + x.treeLeafPageCount + x.overflowPages) * x.pageSize;
    const v = st(this.values as Database<unknown, never>);
    const dbs = [this.rollups, this.seriesDb, this.configDb] as Array<Database<unknown, never>>;
    return { series: this.sorted.length, values: v.entryCount, bytes: pages(v) + dbs.reduce((a, db) => a + pages(st(db)), 0) };
  }

  /** Waits for pending writes to be durable and closes the environment. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.retention?.catch(() => undefined); // a run stops at its next series; its failure is its caller's
      await this.root.flushed;
      await this.root.close();
    })();
    return this.closing;
  }
}
