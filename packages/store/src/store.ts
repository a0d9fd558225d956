import { open, type Database, type RootDatabase } from 'lmdb';
import type { Datum, Query, QueryResult, Value } from '@probemesh/model';

/** A set of series: each part that is given must match; absent parts match anything. */
export type SeriesSelector = { indicator?: string; device?: string; instance?: string; rule?: string };

/** A series: one (indicator, device, instance, rule), with a compact numeric id used in keys. */
interface Series {
  id: number;
  indicator: string;
  device: string;
  instance: string;
  rule: string;
}

/** A roll-up bucket: numeric count, sum, min and max (with their timestamps), and how many text values. */
type Bucket = [n: number, sum: number, min: number, minTs: number, max: number, maxTs: number, text: number];

/** A mergeable aggregate of numeric values. */
export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface StoreOptions {
  path: string;
  mapSizeBytes?: number;
  retention?: { maxAgeMs?: number; maxBytes?: number };
  now?: () => number;
}

/** Something the store refuses: a value that is not finite, a closed store. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A numeric mode (max, min, mean, sum) over a range that holds text values. */
export class NotNumericError extends Error {
  override name = 'NotNumericError';
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const LEVELS = [
  { level: 0, size: MINUTE },
  { level: 1, size: HOUR },
] as const;
const MAX_TS = 8.64e15; // the largest Date

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
  private readonly seriesByKey = new Map<string, Series>();
  private readonly byId = new Map<number, Series>();
  private readonly newest = new Map<number, number>();
  private nextId = 1;
  private closed = false;
  private readonly now: () => number;

  private constructor(private readonly opts: StoreOptions) {
    this.now = opts.now ?? Date.now;
    this.root = open({ path: opts.path, maxDbs: 8, mapSize: opts.mapSizeBytes ?? 2 * 1024 ** 3, pageSize: 4096 });
    this.values = this.root.openDB({ name: 'values' });
    this.rollups = this.root.openDB({ name: 'rollups' });
    this.seriesDb = this.root.openDB({ name: 'series' });
    this.configDb = this.root.openDB({ name: 'config' });
    for (const { value } of this.seriesDb.getRange()) this.remember(value);
  }

  /** Opens (creating when absent) the store at `opts.path`. */
  static open(opts: StoreOptions): Store {
    return new Store(opts);
  }

  private remember(s: Series): void {
    this.seriesByKey.set(this.seriesKey(s), s);
    this.byId.set(s.id, s);
    this.nextId = Math.max(this.nextId, s.id + 1);
  }

  private seriesKey(s: { indicator: string; device?: string; instance?: string; rule?: string }): string {
    return `${s.indicator}\u0000${s.device ?? ''}\u0000${s.instance ?? ''}\u0000${s.rule ?? ''}`;
  }

  private check(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }

  /**
   * Appends values in one transaction (concurrent appends are batched by LMDB into one commit);
   * resolves when durable. A value that is not finite or not a number/string refuses the batch.
   */
  async append(values: readonly Value[]): Promise<void> {
    this.check();
    for (const v of values) {
      if (typeof v.datum === 'number' ? !Number.isFinite(v.datum) : typeof v.datum !== 'string')
        throw new StoreError(`indicator '${v.indicator}': ${String(v.datum)} is not a finite number or a text; nothing of this batch was stored`);
      if (!Number.isInteger(v.ts) || v.ts < 0 || v.ts > MAX_TS) throw new StoreError(`indicator '${v.indicator}': timestamp ${v.ts} is not a time in ms; nothing of this batch was stored`);
    }
    if (values.length === 0) return;
    await this.root.transaction(() => {
      type Entry = { sid: number; level: number; start: number; b: Bucket; dirty: boolean };
      const touched: Entry[] = [];
      // Per series and level, the buckets this batch touched (a batch usually stays in a few).
      const open = new Map<number, Map<number, Entry>[]>();
      const bucketOf = (sid: number, level: number, start: number): Entry => {
        let levels = open.get(sid);
        if (!levels) open.set(sid, (levels = LEVELS.map(() => new Map<number, Entry>())));
        let e = levels[level]!.get(start);
        if (!e) {
          e = { sid, level, start, b: this.rollups.get([sid, level, start]) ?? emptyBucket(), dirty: false };
          levels[level]!.set(start, e);
          touched.push(e);
        }
        return e;
      };
      for (const v of values) {
        const s = this.seriesFor(v);
        // Only a write at or before the newest timestamp can replace a value: skip the read otherwise.
        const old = v.ts <= this.newestTs(s) ? this.values.get([s.id, v.ts]) : undefined;
        if (v.ts > this.newest.get(s.id)!) this.newest.set(s.id, v.ts);
        for (let level = 0; level < LEVELS.length; level++) {
          const size = LEVELS[level]!.size;
          const e = bucketOf(s.id, level, v.ts - (v.ts % size));
          if (old !== undefined) {
            if (typeof old === 'number') {
              e.b[0]--;
              e.b[1] -= old;
              e.dirty = true; // the replaced value may have been the min or max
            } else e.b[6]--;
          }
          addToBucket(e.b, v.ts, v.datum);
        }
        this.values.put([s.id, v.ts], v.datum);
      }
      for (const e of touched) {
        const size = LEVELS[e.level]!.size;
        this.rollups.put([e.sid, e.level, e.start], e.dirty ? this.rawBucket(e.sid, e.start, e.start + size) : e.b);
      }
    });
  }

  /** The newest timestamp of a series (read once, then kept up to date in memory). */
  private newestTs(s: Series): number {
    let n = this.newest.get(s.id);
    if (n === undefined) {
      n = -1;
      for (const [ts] of this.rows(s, 0, MAX_TS, true, 1)) n = ts;
      this.newest.set(s.id, n);
    }
    return n;
  }

  private seriesFor(v: Value): Series {
    const k = this.seriesKey(v);
    let s = this.seriesByKey.get(k);
    if (!s) {
      s = { id: this.nextId++, indicator: v.indicator, device: v.device ?? '', instance: v.instance ?? '', rule: v.rule ?? '' };
      this.seriesDb.put(s.id, s);
      this.remember(s);
    }
    return s;
  }

  /** Series matching `sel`, as fully specified selectors. */
  series(sel: SeriesSelector = {}): SeriesSelector[] {
    return this.match(sel).map((s) => ({ indicator: s.indicator, device: s.device, instance: s.instance, rule: s.rule }));
  }

  private match(sel: SeriesSelector): Series[] {
    const out: Series[] = [];
    for (const s of this.byId.values()) {
      if (sel.indicator !== undefined && s.indicator !== sel.indicator) continue;
      if (sel.device !== undefined && s.device !== sel.device) continue;
      if (sel.instance !== undefined && s.instance !== sel.instance) continue;
      if (sel.rule !== undefined && s.rule !== sel.rule) continue;
      out.push(s);
    }
    return out;
  }

  private toValue(s: Series, ts: number, datum: Datum): Value {
    return {
      indicator: s.indicator,
      ...(s.device ? { device: s.device } : {}),
      ...(s.instance ? { instance: s.instance } : {}),
      ...(s.rule ? { rule: s.rule } : {}),
      ts,
      datum,
    };
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

  private rawBucket(sid: number, from: number, to: number): Bucket {
    const b = emptyBucket();
    const s = this.byId.get(sid)!;
    for (const [ts, d] of this.rows(s, from, to)) addToBucket(b, ts, d);
    return b;
  }

  /** The aggregate of one series over [from, to): raw rows at the ragged ends, roll-ups between. */
  private aggregateSeries(s: Series, from: number, to: number): Bucket {
    const out = emptyBucket();
    if (from >= to) return out;
    const buckets = (level: number, size: number, a: number, b: number) => {
      for (const { key, value } of this.rollups.getRange({ start: [s.id, level, a], end: [s.id, level, b] })) {
        if (key[2] >= a && key[2] + size <= b) mergeBucket(out, value);
      }
    };
    const a = Math.ceil(from / MINUTE) * MINUTE;
    const b = Math.floor(to / MINUTE) * MINUTE;
    if (a >= b) {
      mergeBucket(out, this.rawBucket(s.id, from, to));
      return out;
    }
    mergeBucket(out, this.rawBucket(s.id, from, a));
    mergeBucket(out, this.rawBucket(s.id, b, to));
    const A = Math.ceil(a / HOUR) * HOUR;
    const B = Math.floor(b / HOUR) * HOUR;
    if (A < B) {
      buckets(0, MINUTE, a, A);
      buckets(1, HOUR, A, B);
      buckets(0, MINUTE, B, b);
    } else buckets(0, MINUTE, a, b);
    return out;
  }

  /** Count, sum, min and max of the numeric values of the selected series over [from, to). */
  window(sel: SeriesSelector, from: number, to: number): Aggregate {
    this.check();
    const all = emptyBucket();
    for (const s of this.match(sel)) mergeBucket(all, this.aggregateSeries(s, from, to));
    return { count: all[0], sum: all[1], min: all[2], max: all[4] };
  }

  /** The newest value of the selected series. */
  latest(sel: SeriesSelector): Value | undefined {
    this.check();
    let best: Value | undefined;
    for (const s of this.match(sel)) {
      for (const [ts, d] of this.rows(s, 0, MAX_TS, true, 1)) if (!best || ts > best.ts) best = this.toValue(s, ts, d);
    }
    return best;
  }

  /** Records of the selected series over [from, to), merged by time; first or last `n` when given. */
  private records(list: Series[], from: number, to: number, first?: number, last?: number): Value[] {
    if (list.length === 1) {
      const s = list[0]!;
      if (last) return [...this.rows(s, from, to, true, last)].reverse().map(([ts, d]) => this.toValue(s, ts, d));
      return [...this.rows(s, from, to, false, first)].map(([ts, d]) => this.toValue(s, ts, d));
    }
    const out: Value[] = [];
    for (const s of list) for (const [ts, d] of this.rows(s, from, to, !!last, first ?? last)) out.push(this.toValue(s, ts, d));
    out.sort((a, b) => a.ts - b.ts || a.indicator.localeCompare(b.indicator) || (a.device ?? '').localeCompare(b.device ?? '') || (a.instance ?? '').localeCompare(b.instance ?? '') || (a.rule ?? '').localeCompare(b.rule ?? ''));
    if (first) return out.slice(0, first);
    if (last) return out.slice(-last);
    return out;
  }

  /** Answers the data-access query (DESIGN.md §1). `from` is inclusive, `to` exclusive. */
  query(q: Query): QueryResult {
    this.check();
    const mode = q.mode ?? 'records';
    const sel: SeriesSelector = {
      ...(q.indicator !== undefined ? { indicator: q.indicator } : {}),
      ...(q.device !== undefined ? { device: q.device } : {}),
      ...(q.instance !== undefined ? { instance: q.instance } : {}),
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
    };
    if (q.first !== undefined && q.last !== undefined) throw new StoreError('a query takes first or last, not both');
    const list = this.match(sel);
    const from = q.from ?? 0;
    const to = q.to ?? MAX_TS;
    const what = q.indicator ? `indicator '${q.indicator}'` : 'the selected series';
    if (mode === 'records') return { mode, records: this.records(list, from, to, q.first, q.last) };
    let agg: Bucket;
    if (q.first !== undefined || q.last !== undefined) {
      agg = emptyBucket();
      for (const v of this.records(list, from, to, q.first, q.last)) addToBucket(agg, v.ts, v.datum);
    } else {
      agg = emptyBucket();
      for (const s of list) mergeBucket(agg, this.aggregateSeries(s, from, to));
    }
    if (mode === 'count') return { mode, count: agg[0] + agg[6] };
    if (agg[6] > 0) throw new NotNumericError(`${what} holds text values in this range; ${mode} needs numbers (use mode records or count)`);
    if (mode === 'mean' || mode === 'sum') return { mode, value: agg[0] === 0 ? null : mode === 'sum' ? agg[1] : agg[1] / agg[0], count: agg[0] };
    if (agg[0] === 0) return { mode, record: null };
    const [val, ts] = mode === 'max' ? [agg[4], agg[5]] : [agg[2], agg[3]];
    // The record itself: the earliest series holding that value at that time.
    for (const s of list) {
      const d = this.values.get([s.id, ts]);
      if (d === val) return { mode, record: this.toValue(s, ts, d) };
    }
    return { mode, record: null };
  }

  /** Configuration entities by kind and id, in the same environment. */
  readonly config = {
    get: <T>(kind: string, id: string): T | undefined => this.configDb.get([kind, id]) as T | undefined,
    put: async (kind: string, id: string, v: unknown): Promise<void> => {
      this.check();
      await this.configDb.put([kind, id], v);
    },
    delete: async (kind: string, id: string): Promise<boolean> => {
      this.check();
      return this.configDb.remove([kind, id]);
    },
    list: <T>(kind: string): T[] => this.config.entries<T>(kind).map(([, v]) => v),
    /** [id, value] pairs of a kind, in id order. */
    entries: <T>(kind: string): Array<[string, T]> => [...this.configDb.getRange({ start: [kind, ''], end: [kind, '\uffff'] })].map((e) => [e.key[1], e.value as T]),
  };

  /** Deletes values older than `cutoff` in one series, in small transactions; fixes the roll-ups. */
  private async deleteBefore(s: Series, cutoff: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const keys = [...this.values.getKeys({ start: [s.id, 0], end: [s.id, cutoff], limit: 10_000 })];
      if (keys.length === 0) break;
      await this.root.transaction(() => {
        for (const k of keys) this.values.remove(k);
      });
      deleted += keys.length;
    }
    if (deleted === 0) return 0;
    await this.root.transaction(() => {
      for (const { level, size } of LEVELS) {
        const edge = Math.floor(cutoff / size) * size;
        for (const key of this.rollups.getKeys({ start: [s.id, level, 0], end: [s.id, level, edge] })) this.rollups.remove(key);
        if (edge < cutoff) this.rollups.put([s.id, level, edge], this.rawBucket(s.id, edge, edge + size));
      }
    });
    return deleted;
  }

  /** Applies retention by age, then by size (oldest first), in small transactions. */
  async enforceRetention(): Promise<{ deleted: number }> {
    this.check();
    const r = this.opts.retention ?? {};
    let deleted = 0;
    if (r.maxAgeMs !== undefined) {
      const cutoff = this.now() - r.maxAgeMs;
      for (const s of [...this.byId.values()]) deleted += await this.deleteBefore(s, cutoff);
    }
    if (r.maxBytes !== undefined) {
      for (let round = 0; round < 20 && this.stats().bytes > r.maxBytes; round++) {
        let oldest = Infinity;
        let newest = -Infinity;
        for (const s of this.byId.values()) {
          for (const [ts] of this.rows(s, 0, MAX_TS, false, 1)) oldest = Math.min(oldest, ts);
          for (const [ts] of this.rows(s, 0, MAX_TS, true, 1)) newest = Math.max(newest, ts);
        }
        if (!Number.isFinite(oldest)) break;
        const cutoff = Math.max(oldest + 1, oldest + Math.ceil((newest - oldest) / 10)); // drop the oldest tenth
        let n = 0;
        for (const s of [...this.byId.values()]) n += await this.deleteBefore(s, cutoff);
        deleted += n;
        if (n === 0) break;
      }
    }
    return { deleted };
  }

  /** Sizes: series, values, and bytes in use (pages of the value and roll-up trees). */
  stats(): { series: number; values: number; bytes: number } {
    const pages = (db: { getStats(): unknown }) => {
      const st = db.getStats() as { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; pageSize: number; entryCount: number };
      return (st.treeBranchPageCount + st.treeLeafPageCount + st.overflowPages) * st.pageSize;
    };
    const vst = this.values.getStats() as { entryCount: number };
    return {
      series: this.byId.size,
      values: vst.entryCount,
      bytes: pages(this.values) + pages(this.rollups) + pages(this.seriesDb) + pages(this.configDb),
    };
  }

  /** Waits for pending writes and closes the environment. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.flushed;
    await this.root.close();
  }
}
