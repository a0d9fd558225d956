import { Type, meshStore, type MergedWindow, type PartialAggregate, type WindowState } from '@probemesh/model';
import { defineConnector, failure, systemClock, type Clock } from '@probemesh/core';
import type { Store } from '@probemesh/store';

/** One source's part of a merged window. */
interface Part {
  count: number;
  sum: number;
  min: number;
  max: number;
  devices: number;
  revision: number;
  /** The source relayed a window it computed without a child of its own. */
  incomplete?: true;
}

/** A merged window as kept: each source's part (by `<probe>/<group>`: merging is idempotent), and a revision that moves with each change. */
interface Merged {
  indicator: string;
  windowStart: number;
  windowEnd: number;
  parts: Record<string, Part>;
  rev: number;
}

/** What a coordinator knows of its children when it judges whether a window is ready. */
export interface Judge {
  now(): number;
  /** The children that owe this window of this indicator. */
  owing(indicator: string, windowStart: number): string[];
  /** Whether a child counts as alive (by its heartbeats, not by late windows). */
  alive(child: string): boolean;
  /** Until when a window is waited for from an alive child; undefined: wait on (this probe is away from NATS). */
  deadline(child: string, window: { windowStart: number; windowEnd: number }): number | undefined;
}

/** A window judged: ready ones carry the figures a rule stores under the window's own start. */
export interface Judged {
  window: MergedWindow;
  state: WindowState;
  /** Moves with each change of the window (a coordinator relaying it up sends it with this revision). */
  revision: number;
}

const DAY = 86_400_000;

/** Why a partial's figures cannot be: a window that ends before it starts or lies off its own grid, figures no `count` values can have; else undefined. */
function impossible(p: PartialAggregate): string | undefined {
  const length = p.windowEnd - p.windowStart;
  if (!(length > 0)) return `its window [${p.windowStart}, ${p.windowEnd}) ends before it starts`;
  if (p.windowStart % length !== 0) return `its window [${p.windowStart}, ${p.windowEnd}) is off its own grid`;
  const devices = p.devices ?? (p.count ? 1 : 0);
  if (p.count === 0) return p.sum === 0 && p.min === 0 && p.max === 0 && devices === 0 ? undefined : 'it has no values but figures other than 0';
  if (p.min > p.max) return `its min ${p.min} is above its max ${p.max}`;
  const slack = 1e-9 * Math.max(Math.abs(p.min), Math.abs(p.max)) * p.count; // float sums
  if (p.sum < p.min * p.count - slack || p.sum > p.max * p.count + slack) return `its sum ${p.sum} cannot come from ${p.count} values between ${p.min} and ${p.max}`;
  if (devices < 1 || devices > p.count) return `${devices} devices cannot have sent ${p.count} values`;
  return undefined;
}
/** Windows kept in memory per indicator (the newest); older ones stay in the store until the horizon. */
const KEEP_WINDOWS = 360;
/** Windows a reader may owe before the oldest are dropped (a reader that stopped reading). */
const MAX_OWED = 100_000;

/**
 * The coordinator's merged windows. Each (source, window) is merged once: the merges are kept in
 * the store (one kind per day, until the horizon) so a redelivery or a resend is recognised
 * however late it comes, and a restarted coordinator neither loses a window nor counts one twice.
 * A window is ready when every child that owes it has sent it, or when those missing are gone (by
 * their heartbeats) or later than their grace: then it is `incomplete`. Readers (the `mesh`
 * connector) take each window once it is ready, and again each time a late partial changes it.
 */
export class MergedWindows {
  private readonly byIndicator = new Map<string, Map<number, Merged>>();
  /** Per reader (a rule's indicator, a relay): the windows it is owed, and when it last took some. */
  private readonly readers = new Map<string, { indicator: string; owed: Set<number>; readAt: number }>();
  private store?: Store;
  private judge?: Judge;
  private prunedBefore = 0;

  private readonly horizonMs: number;
  private readonly clock: Clock;

  /**
   * `expected`: without a judge (outside a mesh node), a window is complete when this many sources
   * are in, and waits until then. `horizonMs`: how far back merges are remembered (default 7 days,
   * the streams' default age).
   */
  constructor(
    private readonly expected = 0,
    opts: { horizonMs?: number; clock?: Clock } = {},
  ) {
    this.horizonMs = opts.horizonMs ?? 7 * DAY;
    this.clock = opts.clock ?? systemClock;
  }

  /** Loads the windows merged before a restart (the newest of each indicator); later merges are saved there. */
  attach(store: Store): void {
    this.store = store;
    const today = Math.floor(this.now() / DAY);
    for (const day of [today - 1, today]) for (const w of store.config.list<Merged>(meshStore.merged(day))) this.remember(w);
  }

  /** The judge's time (a mesh node's clock), else this one's. */
  private now(): number {
    return this.judge?.now() ?? this.clock.now();
  }

  /** Who decides when a window is ready (a mesh node sets itself, from heartbeats and its children). */
  judgeWith(judge: Judge): void {
    this.judge = judge;
  }

  private windows(indicator: string): Map<number, Merged> {
    let m = this.byIndicator.get(indicator);
    if (!m) this.byIndicator.set(indicator, (m = new Map()));
    return m;
  }

  /** Keeps a window in memory, dropping the oldest beyond KEEP_WINDOWS (they stay in the store). */
  private remember(w: Merged): void {
    const ws = this.windows(w.indicator);
    ws.set(w.windowStart, w);
    if (ws.size > KEEP_WINDOWS) ws.delete(Math.min(...ws.keys()));
  }

  /** A window from memory, or else from the store. */
  private find(indicator: string, start: number): Merged | undefined {
    return this.byIndicator.get(indicator)?.get(start) ?? this.store?.config.get<Merged>(meshStore.merged(Math.floor(start / DAY)), `${indicator}/${start}`);
  }

  /**
   * Merges a batch of partials and saves the windows they touched in one store commit; resolves
   * with the partials that were new and those refused, each with why: figures no `count` values
   * can have, a window off its own grid or of another length than the window merged at its start,
   * or older than the horizon (its window may have been forgotten: merging it could count it
   * twice). A source's window merged already is skipped. Ack after it resolves.
   */
  async mergeAll(ps: readonly PartialAggregate[]): Promise<{ added: PartialAggregate[]; refused: Array<{ partial: PartialAggregate; why: string }> }> {
    const now = this.now();
    const touched = new Map<string, Merged>();
    const added: PartialAggregate[] = [];
    const refused: Array<{ partial: PartialAggregate; why: string }> = [];
    for (const p of ps) {
      const key = `${p.indicator}/${p.windowStart}`;
      const w = touched.get(key) ?? this.find(p.indicator, p.windowStart) ?? { indicator: p.indicator, windowStart: p.windowStart, windowEnd: p.windowEnd, parts: {}, rev: 0 };
      const why =
        impossible(p) ??
        (p.windowEnd < now - this.horizonMs ? `its window ended before the horizon (${this.horizonMs / DAY} days)` : undefined) ??
        (w.windowEnd !== p.windowEnd ? `its window ends at ${p.windowEnd}, the one merged from ${Object.keys(w.parts).join(', ')} at ${w.windowEnd}: windows of another length` : undefined);
      if (why) {
        refused.push({ partial: p, why });
        continue;
      }
      const source = `${p.probe}/${p.group}`;
      const revision = p.revision ?? 0;
      const had = w.parts[source];
      if (had && had.revision >= revision) continue; // merged already (a redelivery or a resend), or older than what is in
      const part: Part = { count: p.count, sum: p.sum, min: p.min, max: p.max, devices: p.devices ?? (p.count ? 1 : 0), revision, ...(p.incomplete ? { incomplete: true as const } : {}) };
      touched.set(key, { ...w, parts: { ...w.parts, [source]: part }, rev: w.rev + 1 });
      added.push(p);
    }
    // Issued in one turn, lmdb writes them in one transaction.
    const store = this.store;
    if (store) await Promise.all([...touched.values()].map((w) => store.config.put(meshStore.merged(Math.floor(w.windowStart / DAY)), `${w.indicator}/${w.windowStart}`, w)));
    // A reader silent for longer than the horizon is a rule gone (removed, renamed): forgotten, not owed more.
    for (const [id, r] of this.readers) if (r.readAt < now - this.horizonMs) this.readers.delete(id);
    for (const w of touched.values()) {
      this.remember(w);
      for (const r of this.readers.values()) {
        if (r.indicator !== w.indicator) continue;
        r.owed.add(w.windowStart);
        if (r.owed.size > MAX_OWED) r.owed.delete(Math.min(...r.owed));
      }
    }
    await this.prune(now);
    return { added, refused };
  }

  /** Forgets the days past the horizon (once per day). */
  private async prune(now: number): Promise<void> {
    const store = this.store;
    const first = Math.floor((now - this.horizonMs) / DAY) - 1; // the newest day wholly past the horizon
    if (!store || first < this.prunedBefore) return;
    const from = this.prunedBefore || first - 30; // a store attached for the first time: look a month back
    this.prunedBefore = first + 1;
    for (let day = from; day <= first; day++) for (const [id] of store.config.entries(meshStore.merged(day))) await store.config.delete(meshStore.merged(day), id);
  }

  /** The state of a window now, its figures, and the children it misses. */
  private judged(w: Merged): Judged {
    const j = this.judge;
    const sources = Object.keys(w.parts);
    const present = new Set(sources.map((s) => s.slice(0, s.indexOf('/'))));
    const missing = j ? j.owing(w.indicator, w.windowStart).filter((c) => !present.has(c)) : [];
    let state: WindowState;
    if (!j) state = sources.length >= this.expected ? 'complete' : 'waiting';
    else if (missing.length === 0) state = 'complete';
    else {
      const now = this.now();
      const waiting = missing.some((c) => {
        if (!j.alive(c)) return false;
        const until = j.deadline(c, w);
        return until === undefined || now < until;
      });
      state = waiting ? 'waiting' : 'incomplete';
    }
    // A relayed window its own coordinator computed without a child: what is merged from it is no more complete.
    if (state === 'complete' && Object.values(w.parts).some((p) => p.incomplete)) state = 'incomplete';
    const figures = { count: 0, sum: 0, min: Infinity, max: -Infinity, total: 0, devices: 0 };
    for (const p of Object.values(w.parts)) {
      figures.count += p.count;
      figures.sum += p.sum;
      figures.devices += p.devices;
      if (p.count === 0) continue;
      figures.min = Math.min(figures.min, p.min);
      figures.max = Math.max(figures.max, p.max);
      figures.total += (p.sum * p.devices) / p.count; // mean × devices: exact when each device sent one value
    }
    if (figures.count === 0) Object.assign(figures, { min: 0, max: 0 });
    const window: MergedWindow = { indicator: w.indicator, windowStart: w.windowStart, windowEnd: w.windowEnd, ...figures, sources, missing, state };
    return { state, window, revision: w.rev };
  }

  /**
   * The windows of `indicator` that became ready, or changed after, since `reader` last took them,
   * oldest first. A new reader starts with the windows in memory.
   */
  take(reader: string, indicator: string): Judged[] {
    let r = this.readers.get(reader);
    if (!r || r.indicator !== indicator) this.readers.set(reader, (r = { indicator, owed: new Set(this.byIndicator.get(indicator)?.keys()), readAt: 0 }));
    r.readAt = this.now();
    const out: Judged[] = [];
    for (const start of [...r.owed].sort((a, b) => a - b)) {
      const w = this.find(indicator, start);
      const j = w && this.judged(w);
      if (j?.state === 'waiting') continue;
      r.owed.delete(start);
      if (j) out.push(j);
    }
    return out;
  }

  /** Whether any window of `indicator` was ever merged here. */
  has(indicator: string): boolean {
    return (this.byIndicator.get(indicator)?.size ?? 0) > 0;
  }

  /** A merged window by start, judged now. */
  get(indicator: string, windowStart: number): MergedWindow | undefined {
    const w = this.find(indicator, windowStart);
    return w && this.judged(w).window;
  }

  /** The windows in memory, newest first, judged now: for `GET /mesh/windows`. */
  list(filter: { indicator?: string; limit?: number } = {}): MergedWindow[] {
    const ws = filter.indicator ? [...(this.byIndicator.get(filter.indicator)?.values() ?? [])] : [...this.byIndicator.values()].flatMap((m) => [...m.values()]);
    return ws
      .sort((a, b) => b.windowStart - a.windowStart || a.indicator.localeCompare(b.indicator))
      .slice(0, filter.limit ?? 1000)
      .map((w) => this.judged(w).window);
  }
}

/** What the `mesh` connector can read of a merged window. */
export const MeshStat = Type.Union(
  ['mean', 'sum', 'min', 'max', 'count', 'total', 'devices', 'complete', 'missing'].map((s) => Type.Literal(s)),
  { description: 'mean (count-weighted), sum, min, max, count, devices, total (Σ mean × devices), complete (1, or 0 when computed without a child), missing (children not in)' },
);

/** A stat of a judged window; undefined when the window has no values for it (mean, min, max, total of an empty window). */
export function statOf({ window: w, state }: Judged, stat: string): number | undefined {
  switch (stat) {
    case 'mean':
      return w.count ? w.sum / w.count : undefined;
    case 'min':
    case 'max':
    case 'total':
      return w.count ? w[stat] : undefined;
    case 'complete':
      return state === 'complete' ? 1 : 0;
    case 'missing':
      return w.missing.length;
    default:
      return (w as unknown as Record<string, number>)[stat];
  }
}

/**
 * The `mesh` connector: a coordinator's rules read merged windows like any other indicator. Each
 * read returns the windows that became ready (or changed, a late partial merged) since that rule's
 * last read of that indicator, stamped with the window's own start: nothing when no window came,
 * never the same figure again under a new time; every rule reading it gets every window. The
 * figures of a window computed without a child are marked `incomplete` (and `stat: complete` is 0).
 */
export function meshConnector(merged: MergedWindows) {
  return defineConnector({
    scheme: 'mesh',
    summary: "windows merged from child probes' partial aggregates, each under its own start time",
    params: Type.Object({ indicator: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), stat: MeshStat }, { additionalProperties: false }),
    perDevice: false,
    start: () => ({
      async read(requests) {
        return requests.map((r) => {
          const { indicator, stat } = r.params as { indicator: string; stat: string };
          if (!merged.has(indicator)) return failure('not-found', `no child has sent a window of '${indicator}' yet`, true);
          const samples = merged.take(`${r.rule ?? ''}/${r.indicator}`, indicator).flatMap((j) => {
            const datum = statOf(j, stat);
            if (datum === undefined) return [];
            return [j.state === 'complete' ? { datum, ts: j.window.windowStart } : { datum, ts: j.window.windowStart, incomplete: true as const }];
          });
          return { ok: true as const, samples };
        });
      },
      async stop() {},
    }),
  });
}
