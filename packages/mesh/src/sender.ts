import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamOptions } from '@nats-io/jetstream';
import type { ChildSpec } from '@probemesh/core';
import { meshStore, msgIds, subjects, type Heartbeat, type NatsOptions, type PartialAggregate } from '@probemesh/model';
import type { Store } from '@probemesh/store';
import { loopChild } from './child.js';
import { statOf, type MergedWindows } from './merged.js';
import { Tally } from './tally.js';
import type { MeshContext } from './context.js';
import { untilDone } from './streams.js';

/** What a delegate sends its parent. */
export interface PartialsOptions {
  indicators: string[];
  windowMs: number;
  /** The device group these windows cover (e.g. the probe's network). */
  group?: string;
  /** How long after a window ends it is computed, so the last tick's values are in (default min(2 s, window / 2)). */
  graceMs?: number;
  /** Windows sent per second while catching up after an outage (default 200). */
  backlogPerS?: number;
}

/** Listed indicators a coordinator reads from its merged windows: relayed up from those, not computed from its store. */
export type Relays = ReadonlyMap<string, { from: string; stat: string }>;

const CURSOR = 'partials-cursor';
/** The first window this probe owes: it began sending then. */
const FROM = 'partials-from';
/** Partials published together before their acknowledgements are awaited. */
const BATCH_MESSAGES = 256;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Publishes partials together, resolving once JetStream acknowledged every one (in the order sent). */
async function publishAll(nc: NatsConnection, js: JetStreamOptions, ps: readonly PartialAggregate[]): Promise<void> {
  const jsc = jetstream(nc, js);
  await Promise.all(ps.map((p) => jsc.publish(subjects.partial(p.probe, p.indicator), enc(p), { msgID: msgIds.partial(p), timeout: 5000 })));
}

/** The partial aggregate of one indicator over [start, end) from a probe's store (count 0 when it holds nothing there). */
export function partialOf(store: Store, probe: string, group: string, indicator: string, start: number, end: number): PartialAggregate {
  let [count, sum, min, max, devices] = [0, 0, Infinity, -Infinity, 0];
  for (const a of store.windowByDevice({ indicator }, start, end).values()) {
    if (a.count === 0) continue;
    devices++;
    count += a.count;
    sum += a.sum;
    min = Math.min(min, a.min);
    max = Math.max(max, a.max);
  }
  return { probe, indicator, group, windowStart: start, windowEnd: end, count, sum, min: count ? min : 0, max: count ? max : 0, devices };
}

/**
 * A delegate's partial sender, a supervised child. It owes its parent every closed window its store
 * still holds from the cursor on (empty windows too: they tell the coordinator nothing more will
 * come): a backlog after an outage of any length is read from the store window by window — never
 * queued in memory — and sent in order at a bounded rate, a batch at a time; the cursor in the
 * store moves once JetStream acknowledged the whole batch, so a restarted probe sends what it still
 * owes and the message ids make any resend a duplicate the stream drops.
 */
export class PartialSender {
  private readonly group: string;
  private readonly graceMs: number;

  constructor(
    private readonly ctx: MeshContext & { store: Store },
    private readonly opts: PartialsOptions,
    private readonly nats: NatsOptions,
    /** A coordinator's merged windows and which listed indicators are read from them. */
    private readonly relaying?: { merged: MergedWindows; relays: () => Relays },
  ) {
    this.group = opts.group ?? '';
    this.graceMs = opts.graceMs ?? Math.min(2000, opts.windowMs / 2);
  }

  /** Start of the newest window acknowledged (every earlier one was too). */
  get cursor(): number | undefined {
    return this.ctx.store.config.get<number>(meshStore.state, CURSOR);
  }

  /** What the heartbeat announces: which windows this probe owes, from when, and how far it has delivered them. */
  owed(): NonNullable<Heartbeat['partials']> {
    const cursor = this.cursor;
    const from = this.ctx.store.config.get<number>(meshStore.state, FROM);
    return { indicators: this.opts.indicators, windowMs: this.opts.windowMs, ...(from !== undefined ? { from } : {}), ...(cursor !== undefined ? { cursor } : {}) };
  }

  /**
   * Relays what changed in the merged windows that listed indicators read: each window once it is
   * ready (so the parent gets this coordinator's figure only when its own children are in), and
   * again, with a higher revision, each time a late partial changes it.
   */
  private async relay(relays: Relays, signal: AbortSignal): Promise<void> {
    const { id, js } = this.ctx;
    const out: PartialAggregate[] = [];
    for (const [indicator, { from, stat }] of relays)
      for (const j of this.relaying!.merged.take(`relay:${indicator}`, from)) {
        const v = statOf(j, stat);
        const { windowStart, windowEnd } = j.window;
        out.push({ probe: id, indicator, group: this.group, windowStart, windowEnd, count: v === undefined ? 0 : 1, sum: v ?? 0, min: v ?? 0, max: v ?? 0, devices: v === undefined ? 0 : 1, revision: j.revision, ...(j.state === 'complete' ? {} : { incomplete: true as const }) });
      }
    if (out.length === 0) return;
    await untilDone(this.ctx, this.nats, `relaying ${out.length} merged windows`, (nc) => publishAll(nc, js, out), signal);
  }

  /** The oldest window that holds a value of a listed indicator (windows before it were emptied by retention, or never filled). */
  private oldestHeld(): number | undefined {
    const W = this.opts.windowMs;
    let first: number | undefined;
    for (const indicator of this.opts.indicators) {
      const r = this.ctx.store.query({ indicator, first: 1 });
      const ts = r.mode === 'records' ? r.records[0]?.ts : undefined;
      if (ts !== undefined && (first === undefined || ts < first)) first = ts;
    }
    return first === undefined ? undefined : Math.floor(first / W) * W;
  }

  spec(): ChildSpec {
    return loopChild('partials', async (signal) => {
      // Recent windows are added up as their values are committed; others are read from the store.
      const tally = new Tally(this.ctx.store, new Set(this.opts.indicators), this.opts.windowMs, this.ctx.clock.now());
      try {
        await this.send(tally, signal);
      } finally {
        tally.stop();
      }
    });
  }

  /** Sends every closed window owed, forever (until `signal` aborts). */
  private async send(tally: Tally, signal: AbortSignal): Promise<never> {
    const { clock, store, js, id } = this.ctx;
    const W = this.opts.windowMs;
    const perS = this.opts.backlogPerS ?? 200;
    for (;;) {
      const relays = this.relaying?.relays() ?? new Map();
      await this.relay(relays, signal);
      const indicators = this.opts.indicators.filter((i) => !relays.has(i));
      const perBatch = Math.max(1, Math.min(Math.floor(BATCH_MESSAGES / Math.max(1, indicators.length)), Math.ceil(perS / 4))); // a quarter second of backlog at a time
      const now = clock.now();
      const lastClosed = Math.floor((now - this.graceMs) / W) * W - W;
      const cursor = this.cursor;
      let next = cursor === undefined ? lastClosed : cursor + W;
      if (cursor === undefined && store.config.get(meshStore.state, FROM) === undefined) await store.config.put(meshStore.state, FROM, next);
      if (next < lastClosed) {
        // Windows older than anything the store holds (retention took them) cannot be sent: skip them.
        const oldest = this.oldestHeld();
        if (oldest === undefined || oldest > next) next = Math.min(oldest ?? lastClosed, lastClosed);
      }
      if (next > lastClosed || indicators.length === 0) {
        // Relayed windows change whenever a partial is merged: look again within a quarter window.
        const untilClosed = next + W + this.graceMs - now;
        await clock.sleep(Math.max(10, relays.size ? Math.min(untilClosed, W / 4) : untilClosed), signal);
        continue;
      }
      const last = Math.min(lastClosed, next + (perBatch - 1) * W);
      const started = clock.now();
      const owed = Math.round((lastClosed - next) / W) + 1;
      await untilDone(
        this.ctx,
        this.nats,
        `sending the partials of ${owed} windows from ${new Date(next).toISOString()} (kept in the store)`,
        (nc) => {
          const ps: PartialAggregate[] = [];
          for (let start = next; start <= last; start += W)
            for (const indicator of indicators) ps.push(tally.partial(id, this.group, indicator, start) ?? partialOf(store, id, this.group, indicator, start, start + W));
          return publishAll(nc, js, ps);
        },
        signal,
      );
      await store.config.put(meshStore.state, CURSOR, last);
      tally.forget(last);
      const windows = Math.round((last - next) / W) + 1;
      if (last < lastClosed) await clock.sleep(Math.max(0, (windows * 1000) / perS - (clock.now() - started)), signal); // a backlog: at most perS windows a second
    }
  }
}
