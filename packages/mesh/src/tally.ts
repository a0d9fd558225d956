import type { PartialAggregate, Value } from '@probemesh/model';
import type { Store } from '@probemesh/store';

/** One indicator over one window: its numeric values added up, and the devices they came from. */
interface Sum {
  count: number;
  sum: number;
  min: number;
  max: number;
  devices: Set<string>;
}

/** Windows kept at most (the newest); an older one still owed, after a long outage, is read from the store. */
const KEPT = 360;

/**
 * A delegate's partials of recent windows, added up from the values its store commits
 * (`store.onAppend`), so a closed window goes out without reading back every series it covers
 * (20,000 range reads a window at 20,000 sensors). A window is answered from here only when every
 * value of it was heard: it starts after the newest value the store held when the tally began, none
 * of its values replaced a stored one, and it is among the newest windows kept. Any other window is
 * read from the store, as after a restart.
 */
export class Tally {
  /** Window start → indicator → its sum, or 'store' when it must be read from the store. */
  private readonly windows = new Map<number, Map<string, Sum | 'store'>>();
  /** Windows from here on are heard whole. */
  private from: number;
  private readonly off: () => void;

  constructor(
    store: Store,
    private readonly indicators: ReadonlySet<string>,
    private readonly windowMs: number,
    now: number,
  ) {
    let newest = now;
    for (const indicator of indicators) newest = Math.max(newest, store.latest({ indicator })?.ts ?? 0);
    this.from = newest - (newest % windowMs) + windowMs;
    this.off = store.onAppend((values, replaced) => this.add(values, replaced));
  }

  private add(values: readonly Value[], replaced: boolean): void {
    for (const v of values) {
      if (!this.indicators.has(v.indicator)) continue;
      const start = v.ts - (v.ts % this.windowMs);
      if (start < this.from) continue;
      let w = this.windows.get(start);
      if (!w) {
        if (this.windows.size >= KEPT) this.evictOldest();
        if (start < this.from) continue;
        this.windows.set(start, (w = new Map()));
      }
      const s = w.get(v.indicator);
      if (s === 'store') continue;
      // A replaced value cannot be taken out of a sum (nor a min or max): that window is read from the store.
      if (replaced) w.set(v.indicator, 'store');
      else if (typeof v.datum === 'number') {
        if (!s) w.set(v.indicator, { count: 1, sum: v.datum, min: v.datum, max: v.datum, devices: new Set([v.device ?? '']) });
        else {
          s.count++;
          s.sum += v.datum;
          s.min = Math.min(s.min, v.datum);
          s.max = Math.max(s.max, v.datum);
          s.devices.add(v.device ?? '');
        }
      }
    }
  }

  private evictOldest(): void {
    const oldest = Math.min(...this.windows.keys());
    this.windows.delete(oldest);
    this.from = Math.max(this.from, oldest + this.windowMs);
  }

  /** The partial of `indicator` over the window starting at `start` when every value of it was heard, else undefined. */
  partial(probe: string, group: string, indicator: string, start: number): PartialAggregate | undefined {
    if (start < this.from) return undefined;
    const s = this.windows.get(start)?.get(indicator);
    if (s === 'store') return undefined;
    const p: PartialAggregate = { probe, indicator, group, windowStart: start, windowEnd: start + this.windowMs, count: 0, sum: 0, min: 0, max: 0, devices: 0 };
    return s ? { ...p, count: s.count, sum: s.sum, min: s.min, max: s.max, devices: s.devices.size } : p;
  }

  /** Lets go of the windows up to `start` (sent): asked again, they are read from the store. */
  forget(start: number): void {
    for (const w of this.windows.keys()) if (w <= start) this.windows.delete(w);
    this.from = Math.max(this.from, start + this.windowMs);
  }

  stop(): void {
    this.off();
  }
}
