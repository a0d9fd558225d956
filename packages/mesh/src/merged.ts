import { Type, type PartialAggregate } from '@probemesh/model';
import { defineConnector, failure, reading } from '@probemesh/core';
import type { Store } from '@probemesh/store';

/** A window merged from children's partials: count-weighted, never a mean of means. */
export interface MergedWindow {
  indicator: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Σ over sources of (mean × devices): e.g. the total power of every server, site-wide. */
  total: number;
  devices: number;
  /** Which (probe, group) partials are in: makes merging idempotent. */
  sources: string[];
}

const KIND = 'mesh-merged';
const KEEP_WINDOWS = 360;

/**
 * The coordinator's merged windows, kept in its store so a restarted coordinator neither loses
 * a window nor counts one twice.
 */
export class MergedWindows {
  private readonly byIndicator = new Map<string, Map<number, MergedWindow>>();
  private store?: Store;

  /** `expected`: how many sources make a window complete (a coordinator's children); see `latest`. */
  constructor(private readonly expected = 0) {}

  /** Loads what was merged before a restart; later merges are saved there. */
  attach(store: Store): void {
    this.store = store;
    for (const w of store.config.list<MergedWindow>(KIND)) this.windows(w.indicator).set(w.windowStart, w);
  }

  private windows(indicator: string): Map<number, MergedWindow> {
    let m = this.byIndicator.get(indicator);
    if (!m) this.byIndicator.set(indicator, (m = new Map()));
    return m;
  }

  /**
   * Merges a batch of partials and saves the windows they touched in one store commit; resolves
   * with how many were new (a source's window merged already is skipped). Ack after it resolves.
   */
  async mergeAll(ps: readonly PartialAggregate[]): Promise<number> {
    const touched = new Map<string, MergedWindow>();
    const dropped = new Set<string>();
    let added = 0;
    for (const p of ps) {
      const source = `${p.probe}/${p.group}`;
      const ws = this.windows(p.indicator);
      const w = ws.get(p.windowStart) ?? { indicator: p.indicator, windowStart: p.windowStart, windowEnd: p.windowEnd, count: 0, sum: 0, min: Infinity, max: -Infinity, total: 0, devices: 0, sources: [] };
      if (w.sources.includes(source)) continue;
      const merged: MergedWindow = {
        ...w,
        count: w.count + p.count,
        sum: w.sum + p.sum,
        min: Math.min(w.min, p.min),
        max: Math.max(w.max, p.max),
        total: w.total + (p.count ? (p.sum * (p.devices ?? 1)) / p.count : 0), // exact when each device sent one value
        devices: w.devices + (p.devices ?? 1),
        sources: [...w.sources, source],
      };
      ws.set(p.windowStart, merged);
      touched.set(`${p.indicator}/${p.windowStart}`, merged);
      added++;
      if (ws.size > KEEP_WINDOWS) {
        const oldest = Math.min(...ws.keys());
        ws.delete(oldest);
        touched.delete(`${p.indicator}/${oldest}`);
        dropped.add(`${p.indicator}/${oldest}`);
      }
    }
    // Issued in one turn, lmdb writes them in one transaction.
    const store = this.store;
    if (store) await Promise.all([...[...touched].map(([k, w]) => store.config.put(KIND, k, w)), ...[...dropped].map((k) => store.config.delete(KIND, k))]);
    return added;
  }

  /**
   * The newest complete window of an indicator (every expected source in), so a site total never
   * misses a network still sending; when none of the last three windows is complete (a child is
   * gone), the newest one — its `sources` and `devices` say what it holds.
   */
  latest(indicator: string): MergedWindow | undefined {
    const ws = this.byIndicator.get(indicator);
    if (!ws?.size) return undefined;
    const newest = [...ws.keys()].sort((a, b) => b - a);
    const complete = newest.slice(0, 3).find((start) => ws.get(start)!.sources.length >= this.expected);
    return ws.get(complete ?? newest[0]!);
  }

  /** A merged window by start. */
  get(indicator: string, windowStart: number): MergedWindow | undefined {
    return this.byIndicator.get(indicator)?.get(windowStart);
  }
}

const Stat = Type.Union(['mean', 'sum', 'min', 'max', 'count', 'total', 'devices'].map((s) => Type.Literal(s)));

/**
 * The `mesh` connector: a coordinator's rules read merged windows like any other indicator,
 * so they store them, compute formulas over them and decide on them — and, when the coordinator
 * is itself a delegate, send their own partials further up.
 */
export function meshConnector(merged: MergedWindows) {
  return defineConnector({
    scheme: 'mesh',
    summary: "the newest window merged from child probes' partial aggregates",
    params: Type.Object({ indicator: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), stat: Stat }, { additionalProperties: false }),
    perDevice: false,
    start: () => ({
      async read(requests) {
        return requests.map((r) => {
          const { indicator, stat } = r.params as { indicator: string; stat: string };
          const w = merged.latest(indicator);
          if (!w || w.count === 0) return failure('not-found', `no child has sent a window of '${indicator}' yet`, true);
          const v = stat === 'mean' ? w.sum / w.count : (w as unknown as Record<string, number>)[stat]!;
          return reading(v);
        });
      },
      async stop() {},
    }),
  });
}
