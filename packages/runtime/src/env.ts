import type { Env, WindowFn } from '@probemesh/expr';
import type { Datum } from '@probemesh/model';
import type { SeriesSelector, Store } from '@probemesh/store';
import type { Catalog } from './catalog.js';

/** Whether an expression's result counts as true: anything but null, false, 0 and "". */
export function truthy(v: unknown): boolean {
  return v !== null && v !== undefined && v !== false && v !== 0 && v !== '';
}

/** Key of a value in a round: indicator, device, instance. */
export const roundKey = (indicator: string, device = '', instance = '') => `${indicator}\u0000${device}\u0000${instance}`;

/**
 * A window function over an indicator's stored history up to `ts` (inclusive): mean, sum, min,
 * max and count from the roll-ups, rate from the rows (counter resets start again from zero),
 * last the newest value. Null when the window holds no numbers.
 */
export function windowValue(store: Store, fn: WindowFn, sel: SeriesSelector, ms: number, ts: number): number | null {
  const to = ts + 1;
  if (fn === 'last') {
    const v = store.latest(sel)?.datum;
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
 * The environment an expression is evaluated in at `ts`, for `device` (or the whole rule): this
 * round's values first, then static values, then the newest stored ones; windows over the store.
 */
export function expressionEnv(ctx: { store: Store; catalog: Catalog }, ts: number, device: string | undefined, extra: Partial<Env> = {}, round: ReadonlyMap<string, Datum> = new Map()): Env {
  const { store, catalog } = ctx;
  const sel = (indicator: string, d?: string): SeriesSelector => {
    const dev = d === '*' ? undefined : (d ?? device);
    return dev ? { indicator, device: dev } : { indicator };
  };
  return {
    ts,
    ...(device ? { device } : {}),
    ...extra,
    get(indicator, d) {
      const dev = d ?? device;
      const r = round.get(roundKey(indicator, dev)) ?? (d === undefined ? round.get(roundKey(indicator)) : undefined);
      if (r !== undefined) return r;
      const s = catalog.staticValue(indicator);
      if (s !== undefined) return s;
      return store.latest(sel(indicator, dev))?.datum ?? null;
    },
    round(indicator) {
      const prefix = `${indicator}\u0000`;
      const out: Datum[] = [];
      for (const [k, v] of round) if (k.startsWith(prefix)) out.push(v);
      if (out.length === 0) {
        const s = catalog.staticValue(indicator);
        if (s !== undefined) out.push(s);
      }
      return out;
    },
    window: (fn, indicator, ms, d) => windowValue(store, fn, sel(indicator, d), ms, ts),
  };
}
