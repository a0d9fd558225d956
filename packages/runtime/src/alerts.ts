import type { Alert, AlertState, Datum, Decision, Severity } from '@probemesh/model';
import { durationMs } from '@probemesh/model';
import type { AlertFilter } from './service.js';

interface Track {
  holdingSince?: number;
  firing?: Alert;
}

/** What a decision saw this round for one device (or the whole rule when `device` is absent). */
export interface Verdict {
  rule: string;
  decision: Decision;
  device?: string;
  holds: boolean;
  value?: Datum;
  threshold?: number;
}

/**
 * Alert semantics operators expect: an alert fires once when its decision has held for its hold
 * time, resolves once when it stops holding, and stays quiet in between; no storm every tick.
 */
export class AlertBook {
  private tracks = new Map<string, Track>();
  private history: Alert[] = [];
  private listeners = new Set<(a: Alert) => void>();
  fired = 0;

  constructor(
    private readonly probe: string,
    private readonly keep = 1000,
  ) {}

  private key(rule: string, decision: string, device?: string): string {
    return `${rule}/${decision}/${device ?? ''}`;
  }

  /** Applies one round's verdict at time `now`; returns the transition it caused, if any. */
  apply(v: Verdict, now: number): Alert | undefined {
    const key = this.key(v.rule, v.decision.id, v.device);
    const t = this.tracks.get(key) ?? {};
    this.tracks.set(key, t);
    if (v.holds) {
      t.holdingSince ??= now;
      const hold = v.decision.for === undefined ? 0 : durationMs(v.decision.for);
      if (!t.firing && now - t.holdingSince >= hold) {
        t.firing = this.make(v, 'firing', t.holdingSince, now);
        return this.emit(t.firing);
      }
      return undefined;
    }
    t.holdingSince = undefined;
    if (t.firing) {
      const resolved = this.make(v, 'resolved', t.firing.since, now);
      t.firing = undefined;
      this.tracks.delete(key);
      return this.emit(resolved);
    }
    this.tracks.delete(key);
    return undefined;
  }

  /** Resolves every firing alert of `rule` (the rule was removed or changed its decisions). */
  resolveRule(rule: string, now: number, keepDecisions: ReadonlySet<string> = new Set()): Alert[] {
    const out: Alert[] = [];
    for (const [key, t] of this.tracks) {
      if (!key.startsWith(`${rule}/`)) continue;
      if (t.firing && keepDecisions.has(t.firing.decision)) continue;
      this.tracks.delete(key);
      if (t.firing) out.push(this.emit({ ...t.firing, state: 'resolved', ts: now, message: `${t.firing.message} (rule changed)` }));
    }
    return out;
  }

  private make(v: Verdict, state: AlertState, since: number, now: number): Alert {
    const d = v.decision;
    const severity: Severity = d.severity ?? 'warning';
    const fill = (s: string) =>
      s
        .replaceAll('{value}', v.value === undefined ? '' : String(v.value))
        .replaceAll('{device}', v.device ?? '')
        .replaceAll('{indicator}', d.indicator ?? '')
        .replaceAll('{rule}', v.rule);
    const message = fill(d.message ?? `${v.rule}/${d.id}: ${d.when}${v.device ? ` on ${v.device}` : ''}`);
    return {
      id: `${this.probe}.${v.rule}.${d.id}${v.device ? `.${v.device}` : ''}`,
      probe: this.probe,
      rule: v.rule,
      decision: d.id,
      ...(d.indicator ? { indicator: d.indicator } : {}),
      ...(v.device ? { device: v.device } : {}),
      ...(v.value !== undefined ? { value: v.value } : {}),
      ...(v.threshold !== undefined ? { threshold: v.threshold } : {}),
      severity,
      state,
      message,
      since,
      ts: now,
    };
  }

  private emit(a: Alert): Alert {
    if (a.state === 'firing') this.fired++;
    this.history.push(a);
    if (this.history.length > this.keep) this.history.splice(0, this.history.length - this.keep);
    for (const l of this.listeners) {
      try {
        l(a);
      } catch {
        // a listener's failure is its own (a closed SSE stream); others still get the alert
      }
    }
    return a;
  }

  /** Subscribes to transitions; returns an unsubscribe. */
  on(fn: (a: Alert) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Firing alerts now. */
  active(): Alert[] {
    return [...this.tracks.values()].flatMap((t) => (t.firing ? [t.firing] : []));
  }

  /** Recent transitions, newest last, filtered. */
  list(f: AlertFilter = {}): Alert[] {
    const out = this.history.filter(
      (a) => (!f.state || a.state === f.state) && (!f.rule || a.rule === f.rule) && (!f.device || a.device === f.device) && (f.since === undefined || a.ts >= f.since),
    );
    return f.limit ? out.slice(-f.limit) : out;
  }
}
