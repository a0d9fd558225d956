import type { Msg } from '@nats-io/transport-node';
import { whenAborted, type ChildSpec, type Clock } from '@probemesh/core';
import { Heartbeat, fits, subjects } from '@probemesh/model';
import { loopChild } from './child.js';
import type { MeshContext } from './context.js';

/** A probe another probe heard from. */
export interface Member extends Heartbeat {
  lastSeen: number;
  stale: boolean;
}

/** More probes than this are not kept (the least recently heard goes): a flood of made-up ids cannot grow memory. */
const MAX_MEMBERS = 10_000;

/** A message's JSON payload, or undefined when it is not JSON. */
export function jsonOf(m: { json(): unknown }): unknown {
  try {
    return m.json();
  } catch {
    return undefined;
  }
}

/**
 * The probes heard on `pm.hb.*`, and whether each is alive. A probe is gone when it missed
 * `missed` heartbeats while this probe was connected: time away from NATS does not count against
 * others (after a reconnect every probe gets the full allowance again).
 */
export class Membership {
  private readonly members = new Map<string, { hb: Heartbeat; lastSeen: number; cursorMoved: number }>();
  /** Heartbeats dropped: not a heartbeat, or sent on another probe's subject. */
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly heartbeatMs: number,
    private readonly missed: number,
    /** When this probe's current connection to NATS was made; undefined while it is away. */
    private readonly connectedSince: () => number | undefined,
  ) {}

  /** Takes a heartbeat message in (a message that is not one is counted and dropped). */
  heard(m: Msg): void {
    const hb = jsonOf(m);
    if (!fits(Heartbeat, hb) || m.subject !== subjects.heartbeat(hb.probe)) {
      this.dropped++;
      return;
    }
    const now = this.clock.now();
    const had = this.members.get(hb.probe);
    const cursorMoved = had && had.hb.partials?.cursor === hb.partials?.cursor ? had.cursorMoved : now;
    this.members.delete(hb.probe); // re-inserted last: the map stays in order of last heard
    this.members.set(hb.probe, { hb, lastSeen: now, cursorMoved });
    if (this.members.size > MAX_MEMBERS) this.members.delete(this.members.keys().next().value!);
  }

  /** The last heartbeat of a probe, if it was heard. */
  get(probe: string): Heartbeat | undefined {
    return this.members.get(probe)?.hb;
  }

  /** When a probe's heartbeat last announced a new partials cursor (or first announced one): its windows are still going out. */
  cursorMoved(probe: string): number | undefined {
    return this.members.get(probe)?.cursorMoved;
  }

  /** When a probe was last heard. */
  lastSeen(probe: string): number | undefined {
    return this.members.get(probe)?.lastSeen;
  }

  /** Whether a probe counts as alive: heard within the allowance, or not yet judged (this probe away, or connected too shortly). */
  alive(probe: string): boolean {
    const since = this.connectedSince();
    if (since === undefined) return true;
    const heard = Math.max(this.members.get(probe)?.lastSeen ?? -Infinity, since);
    return this.clock.now() - heard <= this.missed * this.heartbeatMs;
  }

  /** The depth of a probe in the parent chains heard (a probe without a parent is level 0; an unheard parent counts as a root). */
  level(parent: string | undefined): number {
    const seen = new Set<string>();
    let level = 0;
    for (let p = parent; p !== undefined && !seen.has(p); p = this.members.get(p)?.hb.parent) {
      seen.add(p);
      level++;
    }
    return level;
  }

  /** Whether `probe`'s parent chain, as heard, reaches `ancestor`. */
  below(probe: string, ancestor: string): boolean {
    const seen = new Set<string>();
    for (let p = this.members.get(probe)?.hb.parent; p !== undefined && !seen.has(p); p = this.members.get(p)?.hb.parent) {
      if (p === ancestor) return true;
      seen.add(p);
    }
    return false;
  }

  /** Probes heard whose parent is `parent`. */
  childrenOf(parent: string): string[] {
    return [...this.members.values()].filter((m) => m.hb.parent === parent).map((m) => m.hb.probe);
  }

  /** The probes heard from, with their level from the parent chains and those silent too long marked stale. */
  list(): Member[] {
    return [...this.members.values()]
      .map(({ hb, lastSeen }) => ({ ...hb, level: this.level(hb.parent), lastSeen, stale: !this.alive(hb.probe) }))
      .sort((a, b) => a.probe.localeCompare(b.probe));
  }

  /** The child that listens to every heartbeat. */
  spec(ctx: MeshContext): ChildSpec {
    return subscriptionChild('membership', ctx, subjects.heartbeats, (m) => this.heard(m));
  }
}

/**
 * A supervised subscription: subscribes once connected, hands each message to `handle`, and ends
 * (a crash, restarted with back-off) when the subscription does — a permission refused, the
 * connection replaced — so no subscription error goes unseen.
 */
export function subscriptionChild(id: string, ctx: MeshContext, subject: string, handle: (m: Msg) => void): ChildSpec {
  return loopChild(id, async (signal) => {
    const nc = await ctx.link.connection(signal);
    const sub = nc.subscribe(subject);
    const forget = whenAborted(signal, () => sub.unsubscribe());
    try {
      for await (const m of sub) handle(m);
    } finally {
      forget();
    }
    const why = await sub.closed;
    if (!signal.aborted) throw why instanceof Error ? why : new Error(`subscription to ${subject} ended`);
  });
}
