import type { Alert, AlertState, Datum, Decision, Severity } from '@probemesh/model';
import { durationMs } from '@probemesh/model';
import type { AlertFilter, RaisedAlert } from './service.js';

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
}

/** The alert a verdict makes on `probe`: its id, message (placeholders filled) and times. */
export function makeAlert(probe: string, v: Verdict, state: AlertState, since: number, now: number): Alert {
  const d = v.decision;
  const severity: Severity = d.severity ?? 'warning';
  const fill = (s: string) =>
    s
      .replaceAll('{value}', v.value === undefined ? '' : String(v.value))
      .replaceAll('{device}', v.device ?? '')
      .replaceAll('{indicator}', d.indicator ?? '')
      .replaceAll('{rule}', v.rule);
  const what = d.when ?? `no answer for ${d.unanswered} periods`;
  const message = fill(d.message ?? `${v.rule}/${d.id}: ${what}${v.device ? ` on ${v.device}` : ''}`);
  return {
    id: `${probe}.${v.rule}.${d.id}${v.device ? `.${v.device}` : ''}`,
    probe,
    rule: v.rule,
    decision: d.id,
    ...(d.indicator ? { indicator: d.indicator } : {}),
    ...(v.device ? { device: v.device } : {}),
    ...(v.value !== undefined ? { value: v.value } : {}),
    severity,
    state,
    message,
    since,
    ts: now,
  };
}

/**
 * Alert semantics operators expect: an alert fires once when its decision has held for its hold
 * time, resolves once when it stops holding, and stays quiet in between; no storm every tick. Each
 * transition goes to `emit` (the probe's outbox) and into a bounded history. The alerts `firing`
 * when the probe last stopped are taken back as they were, so the first round where their
 * decision no longer holds resolves them and one where it still holds does not fire them again.
 */
export class AlertBook {
  private tracks = new Map<string, Track>();
  private history: Alert[] = [];
  fired = 0;

  constructor(
    private readonly probe: string,
    private readonly emit: (a: Alert) => void,
    firing: readonly Alert[] = [],
    private readonly keep = 1000,
  ) {
    const oldestFirst = [...firing].sort((x, y) => x.ts - y.ts);
    for (const a of oldestFirst) this.tracks.set(this.key(a.rule, a.decision, a.device), { holdingSince: a.since, firing: a });
    this.history = oldestFirst.slice(-keep);
  }

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
        t.firing = makeAlert(this.probe, v, 'firing', t.holdingSince, now);
        return this.record(t.firing);
      }
      return undefined;
    }
    t.holdingSince = undefined;
    if (t.firing) {
      const resolved = makeAlert(this.probe, v, 'resolved', t.firing.since, now);
      t.firing = undefined;
      this.tracks.delete(key);
      return this.record(resolved);
    }
    this.tracks.delete(key);
    return undefined;
  }

  /** Fires an alert that is not a rule's decision (the store's, the mesh's dead-man), once; undefined while it already fires. */
  raise(a: RaisedAlert, now: number): Alert | undefined {
    return this.apply({ rule: a.rule, decision: this.decisionOf(a), ...(a.device ? { device: a.device } : {}), holds: true, ...(a.value !== undefined ? { value: a.value } : {}) }, now);
  }

  /** Resolves what `raise` fired (same rule, decision and device), with `message` or the firing one; undefined when it was not firing. */
  resolve(a: Pick<RaisedAlert, 'rule' | 'decision' | 'device'> & { message?: string }, now: number): Alert | undefined {
    const firing = this.tracks.get(this.key(a.rule, a.decision, a.device))?.firing;
    if (!firing) return undefined;
    const decision = this.decisionOf({ ...firing, message: a.message ?? firing.message });
    return this.apply({ rule: a.rule, decision, ...(a.device ? { device: a.device } : {}), holds: false }, now);
  }

  private decisionOf(a: Pick<RaisedAlert, 'decision' | 'severity' | 'indicator' | 'message'>): Decision {
    return { id: a.decision, when: a.decision, ...(a.severity ? { severity: a.severity } : {}), ...(a.indicator ? { indicator: a.indicator } : {}), message: a.message };
  }

  /** Resolves every firing alert of `rule` (the rule was removed or changed its decisions). */
  resolveRule(rule: string, now: number, keepDecisions: ReadonlySet<string> = new Set()): Alert[] {
    const out: Alert[] = [];
    for (const [key, t] of this.tracks) {
      if (!key.startsWith(`${rule}/`)) continue;
      if (t.firing && keepDecisions.has(t.firing.decision)) continue;
      this.tracks.delete(key);
      if (t.firing) out.push(this.record({ ...t.firing, state: 'resolved', ts: now, message: `${t.firing.message} (rule changed)` }));
    }
    return out;
  }

  /** The alerts firing now, each as it fired, oldest first. */
  active(): Alert[] {
    const out: Alert[] = [];
    for (const t of this.tracks.values()) if (t.firing) out.push(t.firing);
    return out.sort((x, y) => x.ts - y.ts);
  }

  private record(a: Alert): Alert {
    if (a.state === 'firing') this.fired++;
    this.history.push(a);
    if (this.history.length > this.keep) this.history.splice(0, this.history.length - this.keep);
    this.emit(a);
    return a;
  }

  /** Recent transitions, newest last, filtered. */
  list(f: AlertFilter = {}): Alert[] {
    const out = this.history.filter(
      (a) => (!f.state || a.state === f.state) && (!f.rule || a.rule === f.rule) && (!f.device || a.device === f.device) && (f.since === undefined || a.ts >= f.since),
    );
    return f.limit ? out.slice(-f.limit) : out;
  }
}
