import { messageOf, type AlertSink, type SinkHost, type TimerHandle } from '@probemesh/core';
import { ValidationError, type Alert } from '@probemesh/model';
import { httpTarget, postJson, type HttpTarget, type HttpTargetOptions } from './post.js';

/** The labels the sink sets on every alert; configured labels cannot replace them. */
export const ALERT_LABELS = ['alertname', 'probe', 'rule', 'decision', 'severity', 'instance', 'device', 'indicator'] as const;

/** One alert as Alertmanager's `POST /api/v2/alerts` takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** How an Alertmanager sink posts. */
export interface AlertmanagerSinkOptions extends HttpTargetOptions {
  /** Names the sink in logs and in the outbox (default `alertmanager`). */
  name?: string;
  /** Labels added to every alert (site, team …), for Alertmanager's routes. */
  labels?: Record<string, string>;
  /** How often firing alerts are sent again (default 1 min), as Prometheus does. */
  resendMs?: number;
  /** Where failed re-sends are reported (default: a process warning); the next re-send tries again. */
  log?: (level: 'warn', message: string) => void;
}

/** Alertmanager label names. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Firing alerts per request when re-sending. */
const BATCH = 500;

/**
 * Sends alert transitions to Prometheus Alertmanager (`<url>/api/v2/alerts`). A firing alert
 * carries `endsAt` = now + 4 × the re-send interval; every interval the alerts firing now (as the
 * probe that started the sink says: `start(host)`) are sent again, so Alertmanager keeps them and
 * resolves them by itself if the probe goes silent; a resolved alert carries `endsAt` = the time it
 * resolved. `stop()` ends the re-sends.
 */
export class AlertmanagerSink implements AlertSink {
  readonly name: string;
  private readonly target: HttpTarget;
  private readonly labels: Record<string, string>;
  private readonly resendMs: number;
  /** Who says what fires now; nothing until the outbox starts the sink. */
  private host: SinkHost = { active: () => [] };
  /** Posts run one at a time, so a re-send never lands after the resolution it preceded. */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly o: AlertmanagerSinkOptions) {
    this.name = o.name ?? 'alertmanager';
    this.target = httpTarget(this.name, { ...o, url: `${o.url.replace(/\/+$/, '')}/api/v2/alerts` }, []);
    const bad = Object.keys(o.labels ?? {}).filter((k) => !LABEL_NAME.test(k) || (ALERT_LABELS as readonly string[]).includes(k));
    if (bad.length) throw new ValidationError(`${this.name} sink`, bad.map((k) => ({ path: `/labels/${k}`, message: LABEL_NAME.test(k) ? `set by the ${this.name} sink itself; it cannot be configured` : 'not a label name ([a-zA-Z_][a-zA-Z0-9_]*)' })));
    this.labels = o.labels ?? {};
    this.resendMs = o.resendMs ?? 60_000;
    if (!(this.resendMs > 0)) throw new ValidationError(`${this.name} sink`, [{ path: '/resend', message: 'must be more than 0' }]);
  }

  /** Posts the transition; see `postJson` for what it throws. Alertmanager merges repeats by their labels, so the id is not sent. */
  deliver(alert: Alert, _id: string, signal: AbortSignal): Promise<void> {
    return this.exclusive(async () => {
      this.schedule();
      await postJson(this.target, JSON.stringify([this.postable(alert)]), {}, signal);
    });
  }

  /** Re-sends, every interval, what `host` says fires now (those of before a restart too). Idempotent. */
  start(host: SinkHost): void {
    this.host = host;
    this.schedule();
  }

  /** Ends the re-sends and aborts one in flight. Idempotent. */
  stop(): void {
    this.stopping.abort(new Error(`${this.name} sink stopped`));
    if (this.timer) this.target.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The alert as Alertmanager takes it, at the clock's now. */
  postable(a: Alert): PostableAlert {
    const labels: Record<string, string> = {
      ...this.labels,
      alertname: `${a.rule}/${a.decision}`,
      probe: a.probe,
      rule: a.rule,
      decision: a.decision,
      severity: a.severity,
      instance: a.device ?? a.probe,
      ...(a.device ? { device: a.device } : {}),
      ...(a.indicator ? { indicator: a.indicator } : {}),
    };
    const annotations: Record<string, string> = {
      message: a.message,
      ...(a.value !== undefined ? { value: String(a.value) } : {}),
      ...(a.threshold !== undefined ? { threshold: String(a.threshold) } : {}),
    };
    const endsAt = a.state === 'resolved' ? a.ts : this.target.clock.now() + 4 * this.resendMs;
    return { labels, annotations, startsAt: new Date(a.since).toISOString(), endsAt: new Date(endsAt).toISOString() };
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Arms the re-send timer while something fires. */
  private schedule(): void {
    if (this.timer || this.stopping.signal.aborted || this.host.active().length === 0) return;
    this.timer = this.target.clock.setTimeout(() => {
      this.timer = undefined;
      void this.exclusive(() => this.resend()).finally(() => this.schedule());
    }, this.resendMs);
  }

  private async resend(): Promise<void> {
    const all = this.host.active();
    for (let i = 0; i < all.length && !this.stopping.signal.aborted; i += BATCH) {
      try {
        await postJson(this.target, JSON.stringify(all.slice(i, i + BATCH).map((a) => this.postable(a))), {}, this.stopping.signal);
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        const message = `${messageOf(err)}; ${all.length} firing alerts are sent again in ${this.resendMs} ms`;
        if (this.o.log) this.o.log('warn', message);
        else process.emitWarning(message);
        return;
      }
    }
  }
}
