import type { ChildSpec } from '@probemesh/core';
import type { ProbeService } from '@probemesh/runtime';
import { componentRules } from '@probemesh/model';
import { loopChild } from './child.js';
import type { MeshContext } from './context.js';
import type { Membership } from './membership.js';
import type { Judge } from './merged.js';

const iso = (t: number) => new Date(t).toISOString();

/**
 * What a coordinator knows of its children: which they are (its `children` setting, or the probes
 * naming it their parent), which owe an indicator's windows (as their heartbeats say), which are
 * alive (by heartbeats only), and how long a late window is waited for: `grace` after the latest of
 * the window's end, this probe's (re)connection to NATS, the child's last partial merged here and
 * the last advance of its announced cursor — so a child catching up a backlog is waited for as
 * long as its windows keep coming — and ten times that when the child says JetStream has the
 * window already (then the delay is this probe's own consumer's, during a failover say).
 */
export class Coordination implements Judge {
  constructor(
    private readonly ctx: MeshContext,
    private readonly members: Membership,
    /** When each child last had a partial merged here. */
    private readonly progress: ReadonlyMap<string, number>,
    private readonly opts: { children?: readonly string[]; graceMs?: number; missedHeartbeats: number; heartbeatMs: number },
  ) {}

  now(): number {
    return this.ctx.clock.now();
  }

  /** The children this coordinator waits for. */
  children(): string[] {
    return [...(this.opts.children ?? this.members.childrenOf(this.ctx.id))];
  }

  owing(indicator: string, windowStart: number): string[] {
    return this.children().filter((child) => {
      const owed = this.members.get(child)?.partials;
      if (!this.members.get(child)) return true; // never heard: it may owe anything
      return owed !== undefined && owed.indicators.includes(indicator) && (owed.from ?? 0) <= windowStart;
    });
  }

  alive(child: string): boolean {
    return this.members.alive(child);
  }

  /** Whether this probe has heard the child since it started (until then, not stale means not judged yet). */
  heard(child: string): boolean {
    return this.members.lastSeen(child) !== undefined;
  }

  private grace(windowMs: number): number {
    return this.opts.graceMs ?? 3 * windowMs;
  }

  /** Since when a child is waited for, at the earliest `from`; undefined while this probe is away from NATS. */
  private waitingSince(child: string, from: number): number | undefined {
    const since = this.ctx.link.connectedSince;
    return since === undefined ? undefined : Math.max(from, since, this.progress.get(child) ?? -Infinity, this.members.cursorMoved(child) ?? -Infinity);
  }

  deadline(child: string, w: { windowStart: number; windowEnd: number }): number | undefined {
    const since = this.waitingSince(child, w.windowEnd);
    if (since === undefined) return undefined;
    const cursor = this.members.get(child)?.partials?.cursor;
    return since + this.grace(w.windowEnd - w.windowStart) * (cursor !== undefined && cursor >= w.windowStart ? 10 : 1);
  }

  /** Why a child counts as stale now (missed heartbeats, or heartbeats but no windows), or undefined. */
  staleness(child: string): string | undefined {
    if (!this.alive(child)) {
      const seen = this.members.lastSeen(child);
      return `probe ${child} missed ${this.opts.missedHeartbeats} heartbeats (${seen === undefined ? 'never heard' : `last heard ${iso(seen)}`})`;
    }
    // Judged by what the child says it delivered (its cursor), not by what reached this probe's consumer.
    const owed = this.members.get(child)?.partials;
    const since = this.ctx.link.connectedSince;
    const moved = this.members.cursorMoved(child);
    if (!owed || since === undefined || moved === undefined) return undefined;
    if (this.now() - Math.max(since, moved) > owed.windowMs + this.grace(owed.windowMs) + this.opts.heartbeatMs)
      return `probe ${child} sends heartbeats but its windows stopped going out (${owed.cursor === undefined ? 'none delivered yet' : `the last one delivered began ${iso(owed.cursor)}`})`;
    return undefined;
  }
}

/**
 * The dead-man watch of a coordinator: every heartbeat period it raises an alert through the probe's
 * own alert path (rule `mesh`, decision `stale`, device = the child) for each child that missed its
 * heartbeats or whose windows stopped going out, and resolves it once the child is back. Which of
 * them fire is the probe's to know (it fires each once, and keeps them across a restart).
 */
export class DeadMan {
  constructor(
    private readonly ctx: MeshContext,
    private readonly coordination: Coordination,
    private readonly alerts: Pick<ProbeService, 'raise' | 'resolve' | 'active'>,
  ) {}

  /** Raises and resolves once, for the children's state now. */
  check(): void {
    const alert = { rule: componentRules.mesh, decision: 'stale' };
    const children = new Set(this.coordination.children());
    for (const child of children) {
      const why = this.coordination.staleness(child);
      if (why) this.alerts.raise({ ...alert, device: child, severity: 'warning', message: why });
      // Back once heard: an alert taken back after a restart waits for the child's first heartbeat.
      else if (this.coordination.heard(child)) this.alerts.resolve({ ...alert, device: child, message: `probe ${child} is back` });
    }
    // A child no longer listed (the operator removed it) is not stale any more.
    for (const a of this.alerts.active())
      if (a.rule === alert.rule && a.decision === alert.decision && a.device !== undefined && !children.has(a.device))
        this.alerts.resolve({ ...alert, device: a.device, message: `probe ${a.device} is no longer a child of ${this.ctx.id}` });
  }

  spec(everyMs: number): ChildSpec {
    return loopChild('dead-man', async (signal) => {
      for (;;) {
        await this.ctx.clock.sleep(everyMs, signal);
        this.check();
      }
    });
  }
}
