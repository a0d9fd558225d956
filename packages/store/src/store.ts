import { open, type Database, type RootDatabase } from 'lmdb';
import { NotNumericError, StoreError, StoreUnavailableError, messageOf } from '@probemesh/core';
import type { Datum, Query, QueryResult, SeriesBucket, Value } from '@probemesh/model';
import { DEFAULT_LIMIT, MAX_BUCKETS, MAX_LIMIT, durationMs } from '@probemesh/model';
import { decodeCursor, encodeCursor, type Position } from './cursor.js';
import { HOUR, MINUTE, addToBucket, emptyBucket, mergeBucket, spans, type Bucket, type Level } from './rollup.js';
import { quietReportedCommitErrors, reportedCommitError } from './lmdb-stderr.js';

/** A set of series: each part that is given must match; absent parts match anything. */
export type SeriesSelector = { indicator?: string; device?: string; instance?: string; rule?: string };

/** A mergeable aggregate of numeric values (empty: count 0, sum 0, min +Infinity, max -Infinity). */
export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Told of each append once its values are durable; `replaced` when one of them replaced a stored value. */
export type AppendListener = (values: readonly Value[], replaced: boolean) => void;

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
  /** The store's change count when a commit last changed it (for `version`). */
  changed?: number;
  newest?: number;
  /** Its oldest timestamp once known (Infinity when empty), so retention reads nothing of a series with nothing to delete. */
  oldest?: number;
  /**
   * Its newest minute and hour buckets, exact (see `fresh`): written to the database only when a
   * newer bucket takes their place or the store closes. Absent after a reopen or a failed write.
   */
  last?: Newest;
  /** What the write in progress adds to it: its newest time before, its minute deltas (the latest start among them, the one values go to now), its rows not yet put (ts, datum, …). */
  batch?: { before: number; minutes: Delta[]; latest: number; open?: Delta; rows: Array<number | Stored> };
}

/** The newest bucket of a series at each level, when it has one. */
type Newest = [minute: Cached | undefined, hour: Cached | undefined];

/** A bucket kept in memory; `dirty` until the database holds it as it is. */
interface Cached {
  start: number;
  b: Bucket;
  dirty: boolean;
}

/** What the queued appends add to one bucket; `replaced` when one overwrote a value (then the bucket is rebuilt). */
interface Delta {
  start: number;
  b: Bucket;
  replaced: boolean;
}

const MAX_TS = 8.64e15; // the largest Date

/**
 * A row as stored: the datum itself (every row a store written before marks holds), or the datum
 * with flags when a mark is set — `[datum, INCOMPLETE]` for a value marked `incomplete`.
 */
type Stored = Datum | [datum: Datum, flags: number];
const INCOMPLETE = 1;
const datumOf = (r: Stored): Datum => (typeof r === 'object' ? r[0] : r);
const incompleteIn = (r: Stored): boolean => typeof r === 'object' && (r[1] & INCOMPLETE) !== 0;
const CHUNK = 5_000; // deletions per retention transaction

/** Series order: indicator, device, instance, rule (JS string order); ties in time are merged in it. */
function compareSeries(a: Omit<Series, 'id'>, b: Omit<Series, 'id'>): number {
  for (const k of ['indicator', 'device', 'instance', 'rule'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

/** The series of a position, as compareSeries takes it. */
const seriesAt = (p: Position) => ({ indicator: p.series[0], device: p.series[1], instance: p.series[2], rule: p.series[3] });

/**
 * Sorted iterators merged lazily, holding one item of each: yields each item with the index of its
 * iterator, first the one `before` puts first. Iterators left unfinished are ended (their range reads
 * closed) when the caller stops.
 */
function* kmerge<T>(its: ReadonlyArray<Iterator<T>>, before: (a: T, ai: number, b: T, bi: number) => boolean): Generator<[number, T]> {
  type Head = { i: number; it: Iterator<T>; v: T };
  const first = (a: Head, b: Head) => before(a.v, a.i, b.v, b.i);
  const heap: Head[] = [];
  const push = (h: Head) => {
    let k = heap.push(h) - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!first(heap[k]!, heap[p]!)) break;
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
        if (l < heap.length && first(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && first(heap[r]!, heap[m]!)) m = r;
        if (m === k) break;
        [heap[k], heap[m]] = [heap[m]!, heap[k]!];
        k = m;
      }
    }
    return top;
  };
  let taken: Head | undefined; // out of the heap while its item is with the caller
  try {
    its.forEach((it, i) => {
      const r = it.next();
      if (!r.done) push({ i, it, v: r.value });
    });
    while (heap.length > 0) {
      taken = pop();
      yield [taken.i, taken.v];
      const r = taken.it.next();
      if (!r.done) {
        taken.v = r.value;
        push(taken);
      }
      taken = undefined;
    }
  } finally {
    taken?.it.return?.(undefined);
    for (const h of heap) h.it.return?.(undefined);
  }
}

const MODES: readonly string[] = ['records', 'max', 'min', 'mean', 'sum', 'count', 'series'];

/** Steps suggested when one gives too many buckets. */
const NICE_STEPS = [1, 10, 100, 1e3, 5e3, 10e3, 30e3, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 7 * 24 * HOUR];

/** "5m", "2h", "1d": the largest unit that divides `ms`. */
function formatMs(ms: number): string {
  const [unit, size] = ([['d', 24 * HOUR], ['h', HOUR], ['m', MINUTE], ['s', 1e3]] as const).find(([, n]) => ms % n === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
}

/** Error codes of a commit that failed for lack of space or an I/O error (not a bug): ENOSPC, EDQUOT, EIO, MDB_MAP_FULL. */
const SPACE_CODES = new Set<unknown>(['ENOSPC', 'EDQUOT', 'EIO', 28, 122, 5, -30792]);

/**
 * A failed write as the store reports it: a commit that failed (lmdb-js gives its cause as the
 * `commitError` promise, already settled by then) or ran out of space becomes a
 * StoreUnavailableError; anything else is returned as it is.
 */
async function unavailable(err: unknown, what: string): Promise<unknown> {
  const commitError = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
  let cause = err;
  if (commitError) {
    commitError.then(undefined, (e: unknown) => {
      cause = e;
      reportedCommitError(e);
    });
    await new Promise((r) => setImmediate(r));
  }
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (!commitError && !SPACE_CODES.has(code) && !/MDB_MAP_FULL|no space left/i.test(messageOf(cause))) return err;
  return new StoreUnavailableError(`the store could not commit ${what}: ${messageOf(cause)} (nothing of it was written; what was committed before is intact)`, { cause });
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
  private readonly values: Database<Stored, [number, number]>;
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
  private queued?: Promise<Live[]>;
  /** Commits that wrote series, retention commits and reloads of memory: what `version` is made of. */
  private changes = 0;
  private trims = 0;
  private reloads = 0;
  private retention?: Promise<{ deleted: number }>;
  private readonly listeners = new Set<AppendListener>();
  /** Queued appends with a value that replaced a stored one (set by `write`). */
  private readonly replacing = new WeakSet<readonly Value[]>();
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
    quietReportedCommitErrors();
    return new Store(opts);
  }

  private check(): void {
    if (this.closing) throw new StoreError('the store is closed');
  }

  private find(indicator: string, device: string, instance: string, rule: string): Live | undefined {
    return this.index.get(indicator)?.get(device)?.get(instance)?.get(rule);
  }

  /** Indexes a series and appends it to `sorted` (the caller puts `sorted` in order again). */
  private remember(s: Series): Live {
    const live: Live = { ...s };
    const level = <K, V>(m: Map<K, V>, k: K, make: () => V): V => {
      let v = m.get(k);
      if (v === undefined) m.set(k, (v = make()));
      return v;
    };
    level(level(level(this.index, s.indicator, () => new Map()), s.device, () => new Map()), s.instance, () => new Map()).set(s.rule, live);
    this.nextId = Math.max(this.nextId, s.id + 1);
    this.sorted.push(live);
    return live;
  }

  private forget(gone: readonly Live[]): void {
    for (const s of gone) this.index.get(s.indicator)?.get(s.device)?.get(s.instance)?.delete(s.rule);
    const set = new Set(gone);
    this.sorted = this.sorted.filter((x) => !set.has(x));
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
      if (v.incomplete !== undefined && v.incomplete !== true) throw bad(v, `incomplete is true or absent, not ${String(v.incomplete)}`);
    }
    if (values.length === 0) return;
    // Appends queued before the transaction starts are written by one write(): each bucket they
    // touch is read and put once per commit, not once per append.
    const mine = values.slice(); // the caller may reuse its array before the transaction runs
    this.queue.push(mine);
    this.queued ??= this.root.childTransaction(() => {
      const batches = this.queue;
      this.queue = [];
      this.queued = undefined;
      return this.write(batches);
    });
    try {
      // Stamped once readers see the commit, never before: an answer kept under a version holds what it says.
      this.stamp(await this.durable(this.queued, `${values.length} value${values.length === 1 ? '' : 's'}`));
    } catch (err) {
      // The child transaction rolled this group back; memory may be ahead of the database.
      this.reload();
      throw err;
    }
    for (const l of this.listeners) {
      try {
        l(mine, this.replacing.has(mine));
      } catch (err) {
        queueMicrotask(() => {
          throw err; // a listener's bug, reported as such: the values are stored all the same
        });
      }
    }
  }

  /**
   * Calls `fn` with the values of each append once they are durable (in commit order), and whether
   * one of them replaced a stored value, so a reader can keep figures of recent values without
   * reading them back. A listener must not throw. Returns what stops it.
   */
  onAppend(fn: AppendListener): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /**
   * Awaits a write until it is flushed. A commit that fails (disk or map full, an I/O error)
   * rejects with StoreUnavailableError: nothing of it was written, and the store takes writes again
   * once space returns. Every write goes through here, so no commit's failure is left unobserved.
   */
  private async durable<T>(write: Promise<T>, what: string): Promise<T> {
    // lmdb-js also rejects its own promise of the batch's commit (made when the batch starts): it is
    // observed here, before the rejection is reported as unhandled, and reported through `write`.
    const observe = () => void this.root.committed.then(undefined, () => undefined);
    try {
      const out = await write;
      await this.root.flushed;
      return out;
    } catch (err) {
      observe();
      throw await unavailable(err, what);
    }
  }

  /** Marks series changed by a commit (the appends of one commit share the list: the first to get here empties it). */
  private stamp(changed: Live[]): void {
    if (changed.length === 0) return;
    const n = ++this.changes;
    for (const s of changed) s.changed = n;
    changed.length = 0;
  }

  /**
   * A text that changes whenever what a query of the selected series reads may have changed (a
   * commit that wrote or trimmed one of them, a series added or removed, a reload): an answer
   * kept with it is current while it is the same.
   */
  version(sel: SeriesSelector): string {
    this.check();
    let newest = 0;
    const list = this.match(sel);
    for (const s of list) if ((s.changed ?? 0) > newest) newest = s.changed!;
    return `${this.reloads}.${this.trims}.${list.length}.${newest}`;
  }

  /** Rebuilds what memory holds about series from the database. */
  private reload(): void {
    this.reloads++;
    this.index.clear();
    this.sorted = [];
    for (const { value } of this.seriesDb.getRange()) this.remember(value);
    this.sorted.sort(compareSeries);
  }

  /** Runs inside a (child) write transaction: puts the rows of the queued appends, then folds their deltas into the buckets. */
  private write(batches: ReadonlyArray<readonly Value[]>): Live[] {
    const created: Live[] = [];
    /** Series this write adds to, each with its `batch` state. */
    const touched: Live[] = [];
    // The series of one (indicator, device) by instance and rule, for the last pair seen: a table's rows come together.
    let byInstance: Map<string, Map<string, Live>> | undefined;
    let seen: [indicator: string, device: string] | undefined;
    try {
      for (const values of batches) {
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          const { ts, datum } = v;
          const row: Stored = v.incomplete ? [datum, INCOMPLETE] : datum;
          const device = v.device ?? '';
          const instance = v.instance ?? '';
          const rule = v.rule ?? '';
          if (seen?.[0] !== v.indicator || seen[1] !== device) {
            seen = [v.indicator, device];
            byInstance = this.index.get(v.indicator)?.get(device);
          }
          let s = byInstance?.get(instance)?.get(rule);
          if (!s) {
            const rec: Series = { id: this.nextId++, indicator: v.indicator, device, instance, rule };
            this.seriesDb.put(rec.id, rec);
            created.push((s = this.remember(rec)));
            s.newest = -1; // a new series holds nothing yet: no read
            s.oldest = ts;
            s.last = [undefined, undefined];
            seen = undefined;
          }
          let w = s.batch;
          if (!w) {
            this.fresh(s); // from what is committed, before this batch's rows are put
            s.batch = w = { before: this.newestOf(s), minutes: [], latest: -Infinity, rows: [] };
            touched.push(s);
          }
          if (s.oldest !== undefined && ts < s.oldest) s.oldest = ts; // (undefined: not known yet, read when needed)
          // Only a write at or before the newest timestamp can replace a value: skip the look-up otherwise.
          let replaced = false;
          if (ts > s.newest!) {
            s.newest = ts;
            w.rows.push(ts, row); // put after the loop, in key order
          } else {
            this.putRows(s); // this write's earlier rows of the series first, so the look-up sees them
            replaced = this.values.doesExist([s.id, ts]);
            if (replaced) this.replacing.add(values);
            this.values.put([s.id, ts], row);
          }
          const start = ts - (ts % MINUTE);
          let d = w.open;
          if (d?.start !== start) {
            // Past every minute seen: a new one (values mostly come in time order); otherwise look.
            d = start > w.latest ? undefined : w.minutes.find((x) => x.start === start);
            if (!d) w.minutes.push((d = { start, b: emptyBucket(), replaced: false }));
            w.latest = Math.max(w.latest, start);
            w.open = d;
          }
          if (replaced) d.replaced = true;
          else addToBucket(d.b, ts, datum);
        }
      }
      if (created.length) this.sorted.sort(compareSeries); // once per batch, not an insertion per new series
      // Rows are put series by series: LMDB inserts in key order cost a third less than interleaved ones.
      touched.sort((a, b) => a.id - b.id);
      for (const s of touched) this.putRows(s);
      for (const s of touched) {
        // A bucket that starts after the series' newest value before this batch is empty: no read.
        const { before, minutes } = s.batch!;
        const hours: Delta[] = [];
        for (const d of minutes) {
          const b = d.replaced ? this.rawBucket(s, d.start, d.start + MINUTE) : this.bucket(s, 0, d.start, before);
          if (!d.replaced) mergeBucket(b, d.b);
          this.keep(s, 0, d.start, b);
          const hs = d.start - (d.start % HOUR);
          let h = hours.find((x) => x.start === hs);
          if (!h) hours.push((h = { start: hs, b: emptyBucket(), replaced: false }));
          if (d.replaced) h.replaced = true;
          else mergeBucket(h.b, d.b);
        }
        for (const h of hours) {
          // A replaced value may have been a min or max: rebuild the hour from its minutes.
          const b = h.replaced ? this.mergedBuckets(s, 0, h.start, h.start + HOUR) : this.bucket(s, 1, h.start, before);
          if (!h.replaced) mergeBucket(b, h.b);
          this.keep(s, 1, h.start, b);
        }
      }
      return touched;
    } catch (err) {
      // The child transaction is rolled back: forget what memory learnt from it.
      for (const s of touched) {
        s.newest = s.batch!.before;
        s.last = undefined; // rebuilt from what is committed when next needed
        s.oldest = undefined;
      }
      this.forget(created);
      throw err;
    } finally {
      for (const s of touched) s.batch = undefined;
    }
  }

  /** Puts the rows the write in progress holds for a series. */
  private putRows(s: Live): void {
    const rows = s.batch!.rows;
    for (let j = 0; j < rows.length; j += 2) this.values.put([s.id, rows[j] as number], rows[j + 1] as Stored);
    rows.length = 0;
  }

  /** The oldest timestamp of a series, Infinity when empty (read once, then kept up to date in memory). */
  private oldestOf(s: Live): number {
    if (s.oldest === undefined) {
      s.oldest = Infinity;
      for (const [ts] of this.rows(s, 0, MAX_TS, false, 1, true)) s.oldest = ts;
    }
    return s.oldest;
  }

  /** The newest timestamp of a series, -1 when empty (read once, then kept up to date in memory). */
  private newestOf(s: Live): number {
    if (s.newest === undefined) {
      s.newest = -1;
      for (const [ts] of this.rows(s, 0, MAX_TS, true, 1)) s.newest = ts;
    }
    return s.newest;
  }

  /**
   * The newest minute and hour buckets of a series. Every other bucket in the database is exact; these
   * two are kept in memory and put only when a newer one takes their place (or at close), so a series
   * written every few seconds puts one row per value, not a row and two buckets. After a reopen or a
   * failed write the database may hold older versions of them: they are rebuilt from the committed
   * rows (the minute) and the committed minutes (the hour).
   */
  private fresh(s: Live): Newest {
    if (s.last) return s.last;
    const newest = this.newestOf(s);
    if (newest < 0) return (s.last = [undefined, undefined]);
    const m = newest - (newest % MINUTE);
    const h = newest - (newest % HOUR);
    const minute = this.rawBucket(s, m, m + MINUTE);
    const hour = emptyBucket();
    for (const { value } of this.rollups.getRange({ start: [s.id, 0, h], end: [s.id, 0, m] })) mergeBucket(hour, value);
    mergeBucket(hour, minute);
    return (s.last = [
      { start: m, b: minute, dirty: true },
      { start: h, b: hour, dirty: true },
    ]);
  }

  /** A bucket of a series (the in-memory one when it is the newest), or an empty one when none can exist. */
  private bucket(s: Live, level: 0 | 1, start: number, newest: number): Bucket {
    const c = this.fresh(s)[level];
    if (c?.start === start) return c.b;
    if (start > newest) return emptyBucket();
    return this.rollups.get([s.id, level, start]) ?? emptyBucket();
  }

  /** Records bucket `b` of a series: the newest of its level stays in memory (the one it replaces is put now), an older one is put now. */
  private keep(s: Live, level: 0 | 1, start: number, b: Bucket): void {
    const last = this.fresh(s);
    const c = last[level];
    if (c && start < c.start) this.rollups.put([s.id, level, start], b);
    else if (c && start === c.start) {
      c.b = b;
      c.dirty = true;
    } else {
      if (c?.dirty) this.rollups.put([s.id, level, c.start], c.b);
      last[level] = { start, b, dirty: true };
    }
  }

  /** The stored buckets of one level whose start is in [from, to), oldest first (newest first when `reverse`), the newest as memory holds it. */
  private *rollupRange(s: Live, level: 0 | 1, from: number, to: number, reverse = false): Generator<[number, Bucket]> {
    const c = this.fresh(s)[level];
    const live = c && c.start >= from && c.start < to ? c : undefined;
    if (reverse && live) yield [live.start, live.b];
    // A reverse range starts at its start key itself and ends before its end key.
    const range = reverse ? { start: [s.id, level, to], end: [s.id, level, from - 1], reverse: true } : { start: [s.id, level, from], end: [s.id, level, to] };
    for (const { key, value } of this.rollups.getRange(range)) if (key[2] !== live?.start && key[2] < to) yield [key[2], value];
    if (!reverse && live) yield [live.start, live.b];
  }

  /** Puts every bucket memory holds that the database does not (in the calling transaction). */
  private flushBuckets(list: Iterable<Live>): void {
    for (const s of list)
      s.last?.forEach((c, level) => {
        if (!c?.dirty) return;
        this.rollups.put([s.id, level, c.start], c.b);
        c.dirty = false;
      });
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

  private toValue(s: Series, ts: number, datum: Datum, incomplete = false): Value {
    const v: Value = { indicator: s.indicator, ts, datum };
    if (s.device) v.device = s.device;
    if (s.instance) v.instance = s.instance;
    if (s.rule) v.rule = s.rule;
    if (incomplete) v.incomplete = true;
    return v;
  }

  /** Rows of one series in [from, to) (datum, and whether it is marked incomplete), oldest first or newest first, at most `limit`; with `keys` the data is not read (0). */
  private *rows(s: Series, from: number, to: number, reverse = false, limit?: number, keys = false): Generator<[number, Datum, boolean]> {
    const range = reverse
      ? { start: [s.id, to], end: [s.id, from - 1], reverse: true, ...(limit ? { limit: limit + 1 } : {}) } // end is exclusive: step past `from`
      : { start: [s.id, from], end: [s.id, to], ...(limit ? { limit } : {}) };
    const entries = keys ? this.values.getKeys(range).map((key) => ({ key, value: 0 as Stored })) : this.values.getRange(range);
    let n = 0;
    for (const { key, value } of entries) {
      const ts = key[1];
      if (ts < from || ts >= to) continue; // a reverse range starts at `to` itself
      yield typeof value === 'object' ? [ts, value[0], incompleteIn(value)] : [ts, value, false];
      if (limit && ++n >= limit) return;
    }
  }

  private rawBucket(s: Live, from: number, to: number): Bucket {
    const b = emptyBucket();
    for (const { key, value } of this.values.getRange({ start: [s.id, from], end: [s.id, to] })) addToBucket(b, key[1], datumOf(value));
    return b;
  }

  /** The merge of the stored buckets of one level whose start is in [from, to). */
  private mergedBuckets(s: Live, level: 0 | 1, from: number, to: number): Bucket {
    const out = emptyBucket();
    for (const [, b] of this.rollupRange(s, level, from, to)) mergeBucket(out, b);
    return out;
  }

  /** The aggregate of one series over [from, to): raw rows at the ragged ends, minute and hour buckets between. */
  private aggregateSeries(s: Live, from: number, to: number): Bucket {
    const out = emptyBucket();
    for (const [level, a, b] of spans(from, to, 1)) mergeBucket(out, level < 0 ? this.rawBucket(s, a, b) : this.mergedBuckets(s, level as 0 | 1, a, b));
    return out;
  }

  /** Count, sum, min and max of the numeric values of the selected series over [fromMs, toMs); text is skipped. */
  window(sel: SeriesSelector, fromMs: number, toMs: number): Aggregate {
    this.check();
    const all = emptyBucket();
    if (fromMs < toMs) for (const s of this.match(sel)) mergeBucket(all, this.aggregateSeries(s, fromMs, toMs));
    return { count: all[0], sum: all[1], min: all[2], max: all[4] };
  }

  /** The aggregate of `window()` per device ('' for values without one), in one pass over the selected series. */
  windowByDevice(sel: SeriesSelector, fromMs: number, toMs: number): Map<string, Aggregate> {
    this.check();
    const out = new Map<string, Aggregate>();
    if (!(fromMs < toMs)) return out;
    const byDevice = new Map<string, Bucket>();
    const oneMinute = Math.floor(fromMs / MINUTE) === Math.floor((toMs - 1) / MINUTE);
    for (const s of this.match(sel)) {
      let all = byDevice.get(s.device);
      if (!all) byDevice.set(s.device, (all = emptyBucket()));
      // Memory knows when a series holds nothing in range (it stopped, or began later): no read.
      if ((s.newest !== undefined && s.newest < fromMs) || (s.oldest !== undefined && s.oldest >= toMs)) continue;
      // A range within one minute (a partial's window) is rows only: added straight in, no bucket per series.
      if (oneMinute) for (const { key, value } of this.values.getRange({ start: [s.id, fromMs], end: [s.id, toMs] })) addToBucket(all, key[1], datumOf(value));
      else mergeBucket(all, this.aggregateSeries(s, fromMs, toMs));
    }
    for (const [device, b] of byDevice) out.set(device, { count: b[0], sum: b[1], min: b[2], max: b[4] });
    return out;
  }

  /** The newest value of the selected series (on a tie in time, the first series in series order). */
  latest(sel: SeriesSelector): Value | undefined {
    this.check();
    let best: Value | undefined;
    for (const s of this.match(sel)) {
      const newest = this.newestRow(s, 0, MAX_TS);
      if (newest) {
        if (!best || newest.ts > best.ts) best = newest;
      } else for (const [ts, d, m] of this.rows(s, 0, MAX_TS, true, 1)) if (!best || ts > best.ts) best = this.toValue(s, ts, d, m);
    }
    return best;
  }

  /**
   * The newest value of a series when it lies in [from, to): one read at the newest time kept in
   * memory, no cursor (the last-value query of every dashboard). Undefined when it lies outside, or
   * is not committed yet: then a range read decides.
   */
  private newestRow(s: Live, from: number, to: number): Value | undefined {
    const ts = this.newestOf(s);
    if (ts < from || ts >= to) return undefined;
    const r = this.values.get([s.id, ts]);
    return r === undefined ? undefined : this.toValue(s, ts, datumOf(r), incompleteIn(r));
  }

  /**
   * The rows of several series over [from, to), merged lazily by time (ties in series order), oldest
   * first, or newest first when `reverse`: holds one row per series, whatever the range. Forward,
   * `after` starts past a position (or at it when `inclusive`); `limit` says how many rows the
   * caller takes at most (each series reads no more); `keys` skips reading the data.
   */
  private *merged(list: Live[], from: number, to: number, o: { reverse?: boolean; after?: Position; inclusive?: boolean; keys?: boolean; limit?: number } = {}): Generator<[Live, number, Datum, boolean]> {
    const { reverse = false, after, inclusive = false, keys = false, limit } = o;
    const mark = after && seriesAt(after);
    // Past the mark: its own time in series after the mark's (or the mark's own, when inclusive), the next ms in the others.
    const startOf = (s: Live) => {
      if (!after || !mark) return from;
      const c = compareSeries(s, mark);
      return Math.max(from, c > 0 || (c === 0 && inclusive) ? after.ts : after.ts + 1);
    };
    if (list.length === 1) {
      const s = list[0]!;
      for (const [ts, d, m] of this.rows(s, startOf(s), to, reverse, limit, keys)) yield [s, ts, d, m];
      return;
    }
    // Taken first: the earliest (latest when reversed); on a tie the first series (last when reversed).
    const before = (a: [number, ...unknown[]], ai: number, b: [number, ...unknown[]], bi: number) => (reverse ? a[0] > b[0] || (a[0] === b[0] && ai > bi) : a[0] < b[0] || (a[0] === b[0] && ai < bi));
    for (const [i, [ts, d, m]] of kmerge(list.map((s) => this.rows(s, startOf(s), to, reverse, limit, keys)), before)) yield [list[i]!, ts, d, m];
  }

  /** The position of a merged row, for a cursor. */
  private position(s: Series, ts: number, remaining?: number): Position {
    return { ts, series: [s.indicator, s.device, s.instance, s.rule], ...(remaining !== undefined ? { remaining } : {}) };
  }

  /**
   * One page of records: at most `limit`, from the cursor's position (or the start of the
   * selection: the range, its first N, or its last N), with `next` when more remain.
   */
  private page(list: Live[], q: Query, from: number, to: number, limit: number): { records: Value[]; next?: string } {
    let start: Position | undefined;
    let inclusive = false;
    let remaining = q.first ?? q.last;
    if (q.cursor !== undefined) {
      start = decodeCursor({ ...q, cursor: q.cursor });
      remaining = start.remaining;
    } else if (q.last !== undefined && q.last <= limit) {
      const newest = q.last === 1 && list.length === 1 ? this.newestRow(list[0]!, from, to) : undefined;
      if (newest) return { records: [newest] };
      // One page holds them all: read backwards, newest first, and turn around.
      const records: Value[] = [];
      for (const [s, ts, d, m] of this.merged(list, from, to, { reverse: true, limit: q.last })) if (records.push(this.toValue(s, ts, d, m)) === q.last) break;
      return { records: records.reverse() };
    } else if (q.last !== undefined) {
      // The page starts at the last-th newest row (the oldest row when fewer), found from the roll-ups.
      start = this.nth(list, from, to, q.last, true);
      inclusive = true;
    }
    const take = Math.min(limit, remaining ?? Infinity);
    const records: Value[] = [];
    let more = false;
    let end: [Live, number] | undefined;
    if (take > 0) {
      for (const [s, ts, d, m] of this.merged(list, from, to, { after: start, inclusive, limit: take + 1 })) {
        if (records.length === take) {
          more = true;
          break;
        }
        records.push(this.toValue(s, ts, d, m));
        end = [s, ts];
      }
    }
    const left = remaining === undefined ? undefined : remaining - records.length;
    if (!more || left === 0 || !end) return { records };
    return { records, next: encodeCursor(q, this.position(end[0], end[1], left)) };
  }

  /**
   * Where the n-th row of the selection lies, counted from its start (from its end when `reverse`),
   * in merged order; undefined when it holds fewer. Found from the roll-ups: the counts of hours,
   * then of the minutes of the hour it falls in, then the rows of that minute (and rows only at the
   * ragged ends of the range), so the cost grows with buckets, not with n.
   */
  private nth(list: Live[], from: number, to: number, n: number, reverse: boolean): Position | undefined {
    let need = n;
    for (const [level, a, b] of spans(from, to, 1).sort((x, y) => (reverse ? y[1] - x[1] : x[1] - y[1]))) {
      const r = this.nthIn(list, level, a, b, need, reverse);
      if (typeof r !== 'number') return r;
      need -= r;
    }
    return undefined;
  }

  /** The `need`-th row of [a, b) (whole buckets of `level`, or rows), or the number of rows [a, b) holds when fewer. */
  private nthIn(list: Live[], level: Level, a: number, b: number, need: number, reverse: boolean): Position | number {
    let seen = 0;
    if (level === -1) {
      for (const [s, ts] of this.merged(list, a, b, { reverse, keys: true, limit: need })) if (++seen === need) return this.position(s, ts);
      return seen;
    }
    for (const [start, c] of this.bucketCounts(list, level, a, b, reverse)) {
      if (seen + c < need) seen += c;
      else {
        const r = this.nthIn(list, (level - 1) as Level, start, start + (level === 1 ? HOUR : MINUTE), need - seen, reverse);
        if (typeof r !== 'number') return r;
        seen += r; // (roll-ups agree with rows; were one not to, the rows decide)
      }
    }
    return seen;
  }

  /**
   * The rows each bucket of `level` in [a, b) holds over the selected series, by bucket start, oldest
   * first (newest first when `reverse`); read lazily, so a walk that stops early reads no further.
   */
  private *bucketCounts(list: Live[], level: 0 | 1, a: number, b: number, reverse: boolean): Generator<[start: number, rows: number]> {
    const before = (x: [number, Bucket], _xi: number, y: [number, Bucket]) => (reverse ? x[0] > y[0] : x[0] < y[0]);
    let start = NaN;
    let rows = 0;
    for (const [, [at, bucket]] of kmerge(list.map((s) => this.rollupRange(s, level, a, b, reverse)), before)) {
      if (at !== start) {
        if (rows > 0) yield [start, rows];
        start = at;
        rows = 0;
      }
      rows += bucket[0] + bucket[6];
    }
    if (rows > 0) yield [start, rows];
  }

  /** The part [a, b) of [from, to) each selected series has in the first (or last, when `reverse`) n rows of the selection. */
  private firstOrLast(list: Live[], from: number, to: number, n: number, reverse: boolean): Array<[number, number]> {
    const at = this.nth(list, from, to, n, reverse);
    if (!at) return list.map(() => [from, to]);
    const mark = seriesAt(at);
    return list.map((s) => {
      // Rows at the n-th row's own time count in series from its series on (last), or up to it (first).
      const c = compareSeries(s, mark);
      return reverse ? [c >= 0 ? at.ts : at.ts + 1, to] : [from, c <= 0 ? at.ts + 1 : at.ts];
    });
  }

  /**
   * Buckets of `step` ms over [from, to) (from the selection's first to its last value when not
   * given), merged across the selected series, each read at the coarsest roll-up that fits inside
   * the step: hours, minutes, or rows for steps that are not whole minutes.
   */
  private buckets(list: Live[], q: Query): QueryResult {
    if (q.step === undefined) throw new StoreError('mode series needs a step, e.g. "1m" or "1h"');
    const step = durationMs(q.step);
    if (!(Number.isSafeInteger(step) && step >= 1)) throw new StoreError(`step must be at least 1 ms, not ${JSON.stringify(q.step)}`);
    let from = q.from;
    let to = q.to;
    if (from === undefined || to === undefined) {
      let oldest = Infinity;
      let newest = -Infinity;
      for (const s of list) {
        if (from === undefined) for (const [ts] of this.rows(s, 0, to ?? MAX_TS, false, 1, true)) oldest = Math.min(oldest, ts);
        if (to === undefined) for (const [ts] of this.rows(s, from ?? 0, MAX_TS, true, 1, true)) newest = Math.max(newest, ts);
      }
      from ??= oldest;
      to ??= newest + 1;
    }
    if (!(from < to)) return { mode: 'series', step, buckets: [] };
    const first = Math.floor(from / step);
    const count = Math.ceil(to / step) - first;
    if (count > MAX_BUCKETS) {
      const fits = NICE_STEPS.find((n) => Math.ceil(to! / n) - Math.floor(from! / n) <= MAX_BUCKETS);
      throw new StoreError(
        `step ${JSON.stringify(q.step)} gives ${count.toLocaleString('en')} buckets over this range, more than ${MAX_BUCKETS.toLocaleString('en')}: use ${fits ? `a step of at least ${formatMs(fits)}` : 'a longer step'} or a shorter range`,
      );
    }
    const top: Level = step % HOUR === 0 ? 1 : step % MINUTE === 0 ? 0 : -1;
    if (top < 0) {
      // A step finer than whole minutes is read from the rows: at most a page of them (counted from the roll-ups).
      let rows = 0;
      for (const s of list) {
        const b = this.aggregateSeries(s, from, to);
        rows += b[0] + b[6];
      }
      if (rows > MAX_LIMIT)
        throw new StoreError(
          `step ${JSON.stringify(q.step)} is not whole minutes, so it is read from the rows: ${rows.toLocaleString('en')} over this range, more than ${MAX_LIMIT.toLocaleString('en')}; use a step of whole minutes (e.g. "1m") or a shorter range`,
        );
    }
    const acc: Array<Bucket | undefined> = new Array(count);
    const at = (ts: number): Bucket => (acc[Math.floor(ts / step) - first] ??= emptyBucket());
    const text = new Set<string>();
    for (const s of list) {
      let texts = 0;
      for (const [level, a, b] of spans(from, to, top)) {
        if (level < 0)
          for (const [ts, d] of this.rows(s, a, b)) {
            addToBucket(at(ts), ts, d);
            if (typeof d === 'string') texts++;
          }
        else
          for (const [start, value] of this.rollupRange(s, level as 0 | 1, a, b)) {
            mergeBucket(at(start), value);
            texts += value[6];
          }
      }
      if (texts > 0) text.add(s.indicator);
    }
    if (text.size > 0) throw new NotNumericError([...text], 'series');
    const buckets: SeriesBucket[] = [];
    acc.forEach((b, i) => {
      if (b && b[0] > 0) buckets.push({ ts: (first + i) * step, count: b[0], mean: b[1] / b[0], min: b[2], max: b[4] });
    });
    return { mode: 'series', step, buckets };
  }

  /**
   * Answers the data-access query: `from` inclusive, `to` exclusive; records a page
   * at a time (`limit`, `cursor` → `next`); series in buckets of `step`. Throws StoreError (a bad
   * query or cursor) or NotNumericError.
   */
  query(q: Query): QueryResult {
    this.check();
    const mode = q.mode ?? 'records';
    for (const k of ['first', 'last'] as const) {
      const n = q[k];
      if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new StoreError(`${k} must be a whole number ≥ 1, not ${String(n)}`);
    }
    for (const k of ['from', 'to'] as const) if (q[k] !== undefined && !Number.isFinite(q[k])) throw new StoreError(`${k} must be a time in ms, not ${String(q[k])}`);
    if (q.first !== undefined && q.last !== undefined) throw new StoreError('a query takes first or last, not both');
    if (!MODES.includes(mode)) throw new StoreError(`unknown mode '${String(mode)}'`);
    if (mode !== 'records' && (q.limit !== undefined || q.cursor !== undefined)) throw new StoreError(`limit and cursor page records; mode ${mode} takes neither`);
    if (mode !== 'series' && q.step !== undefined) throw new StoreError(`step is for mode series, not ${mode}`);
    const list = this.match(q);
    if (mode === 'series') {
      if (q.first !== undefined || q.last !== undefined) throw new StoreError('mode series takes from and to, not first or last');
      return this.buckets(list, q);
    }
    const from = q.from ?? 0;
    const to = q.to ?? MAX_TS;
    if (mode === 'records') {
      const limit = q.limit ?? DEFAULT_LIMIT;
      if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) throw new StoreError(`limit must be a whole number from 1 to ${MAX_LIMIT}, not ${String(limit)}`);
      return { mode, ...(from < to ? this.page(list, q, from, to, limit) : { records: [] }) };
    }
    const agg = emptyBucket();
    const text = new Set<string>();
    let picked: Value | undefined; // the max or min record, the first one on ties
    let pickedIn: Live | undefined; // and its series
    const n = q.first ?? q.last;
    if (from < to) {
      // First or last N: each series' part of them, found from the roll-ups; then roll-ups over each part.
      const parts = n === undefined ? undefined : this.firstOrLast(list, from, to, n, q.last !== undefined);
      const [v, t] = (mode === 'max' ? [4, 5] : [2, 3]) as [2 | 4, 3 | 5];
      list.forEach((s, i) => {
        const [a, z] = parts?.[i] ?? [from, to];
        if (!(a < z)) return;
        const b = this.aggregateSeries(s, a, z);
        if (b[6] > 0) text.add(s.indicator);
        // The bucket keeps the extreme and its time: the record is (series, time, value), no look-up.
        if ((mode === 'max' || mode === 'min') && b[0] > 0 && (!picked || (mode === 'max' ? b[v] > agg[v] : b[v] < agg[v]) || (b[v] === agg[v] && b[t] < agg[t])))
          [picked, pickedIn] = [this.toValue(s, b[t], b[v]), s];
        mergeBucket(agg, b);
      });
    }
    if (mode === 'count') return { mode, count: agg[0] + agg[6] };
    if (text.size > 0) throw new NotNumericError([...text], mode);
    if (mode === 'mean' || mode === 'sum') return { mode, value: agg[0] === 0 ? null : mode === 'sum' ? agg[1] : agg[1] / agg[0], count: agg[0] };
    if (picked && pickedIn && incompleteIn(this.values.get([pickedIn.id, picked.ts]) ?? 0)) picked.incomplete = true; // its mark: one row read
    return { mode, record: agg[0] === 0 ? null : picked! };
  }

  /**
   * The records of `q` page by page (`q.limit` each, default 10,000; from `q.cursor` when given),
   * for exports and streamed answers: memory of one page, and no read is held open between pages,
   * so a slow consumer never pins the file. The first page is read now, so a bad query throws
   * here, before anything is sent; the others when asked for.
   */
  scan(q: Query): Iterable<Value[]> {
    if ((q.mode ?? 'records') !== 'records') throw new StoreError(`scan reads records, not mode ${q.mode}`);
    const page = (cursor?: string) => this.query({ ...q, mode: 'records', ...(cursor !== undefined ? { cursor } : {}) }) as { records: Value[]; next?: string };
    const first = page(q.cursor);
    return (function* () {
      for (let r = first; ; r = page(r.next)) {
        if (r.records.length) yield r.records;
        if (r.next === undefined) return;
      }
    })();
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
      await this.durable(this.configDb.put([kind, id], v), `config ${kind}/${id}`);
    },
    delete: async (kind: string, id: string): Promise<boolean> => {
      this.check();
      const removed = await this.durable(
        this.root.transaction(() => this.configDb.doesExist([kind, id]) && this.configDb.removeSync([kind, id])),
        `the removal of config ${kind}/${id}`,
      );
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
      // Series with nothing to delete cost no read and no commit.
      if (this.oldestOf(s) >= cutoff) return total;
      const n = await this.durable(this.root.childTransaction(() => {
        const keys = [...this.values.getKeys({ start: [s.id, 0], end: [s.id, cutoff], limit: CHUNK })];
        if (keys.length === 0) return 0;
        this.flushBuckets([s]);
        s.last = undefined; // rebuilt from what is left when next needed
        for (const k of keys) this.values.remove(k);
        s.oldest = undefined;
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
          this.forget([s]);
        }
        return keys.length;
      }), `retention of series ${s.id}`).catch((err: unknown) => {
        this.reload(); // the transaction may have forgotten the series in memory
        throw err;
      });
      if (n > 0) this.trims++; // after the commit, as `stamp` (retention is rare: every answer kept is dropped)
      total += n;
      if (n < CHUNK) return total;
    }
  }

  /** The oldest and newest timestamps over all series. */
  private span(): { oldest: number; newest: number } {
    let oldest = Infinity;
    let newest = -Infinity;
    for (const s of this.sorted) {
      oldest = Math.min(oldest, this.oldestOf(s));
      newest = Math.max(newest, this.newestOf(s));
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
      // The newest buckets memory holds; were this to fail, the next open rebuilds them from the rows.
      await this.root.childTransaction(() => this.flushBuckets(this.sorted)).catch(() => undefined);
      await this.root.flushed;
      await this.root.close();
    })();
    return this.closing;
  }
}
