import type { Env, WindowFn } from '@probemesh/expr';
import type { Datum, Value } from '@probemesh/model';
import type { SeriesSelector, Store } from '@probemesh/store';
import type { Catalog } from './catalog.js';
import type { Slot } from './round.js';

/** Whether an expression's result counts as true: anything but null, false, 0 and "". */
export function truthy(v: unknown): boolean {
  return v !== null && v !== undefined && v !== false && v !== 0 && v !== '';
}

/** Key of a value in a round: indicator, device, instance. */
export const roundKey = (indicator: string, device = '', instance = '') => `${indicator}\u0000${device}\u0000${instance}`;

/** The newest stored value of the selected series at or before `ts`. */
export function latestAt(store: Store, sel: SeriesSelector, ts: number): Value | undefined {
  const r = store.query({ ...sel, to: ts + 1, last: 1 });
  return r.mode === 'records' ? r.records[0] : undefined;
}

/**
 * A window function over an indicator's stored history up to `ts` (inclusive): mean, sum, min,
 * max and count from the roll-ups, rate from the rows (counter resets start again from zero),
 * last the newest value at `ts`. Null when the window holds no numbers.
 */
export function windowValue(store: Store, fn: WindowFn, sel: SeriesSelector, ms: number, ts: number): number | null {
  const to = ts + 1;
  if (fn === 'last') {
    const v = latestAt(store, sel, ts)?.datum;
    return typeof v === 'number' ? v : null;
  }
  if (fn === 'rate') {
    let firstTs: number | undefined;
    let prev: number | undefined;
    let lastTs = 0;
    let inc = 0;
    for (const page of store.scan({ ...sel, from: to - ms, to })) {
      for (const r of page) {
        if (typeof r.datum !== 'number') continue;
        firstTs ??= r.ts;
        if (prev !== undefined) inc += r.datum >= prev ? r.datum - prev : r.datum;
        prev = r.datum;
        lastTs = r.ts;
      }
    }
    const dt = firstTs === undefined ? 0 : (lastTs - firstTs) / 1000;
    return dt > 0 ? inc / dt : null;
  }
  const w = store.window(sel, to - ms, to);
  if (fn === 'count') return w.count;
  if (w.count === 0) return null;
  switch (fn) {
    case 'mean':
      return w.sum / w.count;
    case 'sum':
      return w.sum;
    case 'min':
      return w.min;
    case 'max':
      return w.max;
  }
}

/**
 * A formula evaluated at one time of its rule's round: the round's slot of that time (its readings
 * are new ones), whether stored values are read as of that time (a time before the tick's: a
 * merged window's) rather than the newest, and what the evaluation read — a new reading, an
 * incomplete figure — for the caller to judge.
 */
export interface Following {
  slot: Slot;
  asOf: boolean;
  read: { fresh: boolean; incomplete: boolean };
}

/**
 * The environment an expression is evaluated in at `ts`, for `device` (or the whole rule): this
 * round's values first, then static values, then the newest stored ones; windows over the store.
 * With `following` the round is its slot, stored values are read as of `ts` when it says so, and
 * what was read is told there.
 */
export function expressionEnv(ctx: { store: Store; catalog: Catalog }, ts: number, device: string | undefined, extra: Partial<Env> = {}, round: ReadonlyMap<string, Datum> = new Map(), following?: Following): Env {
  const { store, catalog } = ctx;
  const values = following?.slot.values ?? round;
  const read = following?.read;
  const marked = following?.slot.incomplete;
  const sel = (indicator: string, d?: string): SeriesSelector => {
    const dev = d === '*' ? undefined : (d ?? device);
    return dev ? { indicator, device: dev } : { indicator };
  };
  /** A value of the round: new; incomplete when marked so. */
  const taken = (key: string, v: Datum): Datum => {
    if (read) {
      read.fresh = true;
      if (marked?.has(key)) read.incomplete = true;
    }
    return v;
  };
  return {
    ts,
    ...(device ? { device } : {}),
    ...extra,
    get(indicator, d) {
      const dev = d ?? device;
      const key = roundKey(indicator, dev);
      const r = values.get(key);
      if (r !== undefined) return taken(key, r);
      const rule = d === undefined ? values.get(roundKey(indicator)) : undefined;
      if (rule !== undefined) return taken(roundKey(indicator), rule);
      const s = catalog.staticValue(indicator);
      if (s !== undefined) return s;
      const stored = following?.asOf ? latestAt(store, sel(indicator, dev), ts) : store.latest(sel(indicator, dev));
      if (read && stored?.incomplete) read.incomplete = true;
      return stored?.datum ?? null;
    },
    round(indicator) {
      const prefix = `${indicator}\u0000`;
      const out: Datum[] = [];
      for (const [k, v] of values) if (k.startsWith(prefix)) out.push(taken(k, v));
      if (out.length === 0) {
        const s = catalog.staticValue(indicator);
        if (s !== undefined) out.push(s);
      }
      return out;
    },
    window: (fn, indicator, ms, d) => {
      // A window over an indicator with a new reading at `ts` reads it: the figure follows it.
      if (read && following.slot.indicators.has(indicator)) read.fresh = true;
      return windowValue(store, fn, sel(indicator, d), ms, ts);
    },
  };
}
