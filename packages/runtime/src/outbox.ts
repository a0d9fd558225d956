import { randomBytes } from 'node:crypto';
import type { AlertSink, BackoffPolicy, Clock, SinkHost } from '@probemesh/core';
import { ProbemeshError, backoffDelay, messageOf, transitionId } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import type { Store } from '@probemesh/store';
import type { LogFn } from './probe.js';

/** How one sink is doing, for /metrics. */
export interface SinkStats {
  name: string;
  /** Transitions not yet delivered. */
  pending: number;
  /** Transitions delivered since the probe started. */
  delivered: number;
  /** Failed attempts (each retried later) since the probe started. */
  retries: number;
  /** Transitions the sink refused for good (not retryable), given up, since the probe started. */
  rejected: number;
  lastError?: string;
}

/** How an AlertOutbox runs. */
export interface AlertOutboxOptions {
  clock: Clock;
  log: LogFn;
  /** What each sink is started with: the alerts firing now. */
  host: SinkHost;
  /** Delays between attempts of one sink (default 1 s growing to 60 s, jittered). */
  backoff?: BackoffPolicy;
}

/** One transition owed to a sink: its record in the store (`key`), once `saved` says it is durable. */
interface Item {
  key: string;
  alert: Alert;
  saved: Promise<boolean>;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.2 };

/** The store kind holding what is owed to a sink, one record per transition in order. */
const kindOf = (sink: string) => `outbox.${sink}`;

/** Delivers one sink's transitions in order, one at a time, retrying with its own back-off. */
class Lane {
  readonly queue: Item[] = [];
  stats: SinkStats;
  private wake?: () => void;
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;

  constructor(
    readonly sink: AlertSink,
    private readonly store: Store,
    private readonly opts: AlertOutboxOptions,
  ) {
    this.stats = { name: sink.name, pending: 0, delivered: 0, retries: 0, rejected: 0 };
    // What the store still owes this sink (from before a restart) goes first, in its order.
    for (const [key, alert] of store.config.entries<Alert>(kindOf(sink.name))) this.queue.push({ key, alert, saved: Promise.resolve(true) });
    sink.start?.(opts.host);
    this.done = this.run(this.controller.signal).catch((err: unknown) => {
      if (!this.controller.signal.aborted) opts.log('error', `alert sink ${sink.name} stopped delivering: ${messageOf(err)}`);
    });
  }

  push(item: Item): void {
    this.queue.push(item);
    this.wake?.();
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.opts;
    for (let attempt = 0; !signal.aborted; ) {
      const item = this.queue[0];
      if (!item) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', this.wake, { once: true });
        });
        signal.removeEventListener('abort', this.wake!);
        this.wake = undefined;
        continue;
      }
      const durable = await item.saved; // nothing reaches a sink before it is in the store (or the store refused it)
      try {
        await this.sink.deliver(item.alert, transitionId(item.alert), signal);
        this.stats.delivered++;
      } catch (err) {
        if (signal.aborted) return;
        this.stats.lastError = messageOf(err);
        if (!(err instanceof ProbemeshError) || err.retryable) {
          this.stats.retries++;
          const after = (err as { retryAfterMs?: unknown }).retryAfterMs;
          const policy = this.opts.backoff ?? DEFAULT_BACKOFF;
          const delay = Math.min(policy.maxMs, Math.max(backoffDelay(attempt++, policy), typeof after === 'number' ? after : 0));
          log('warn', `alert sink ${this.sink.name}: ${messageOf(err)}; alert ${item.alert.id} (${this.queue.length} queued) tried again in ${delay} ms`);
          await clock.sleep(delay, signal).catch(() => undefined);
          continue;
        }
        this.stats.rejected++;
        log('error', `alert sink ${this.sink.name} refused alert ${item.alert.id} for good, given up: ${messageOf(err)}`);
      }
      attempt = 0;
      this.queue.shift();
      if (durable) await this.store.config.delete(kindOf(this.sink.name), item.key).catch((err: unknown) => log('warn', `alert ${item.alert.id} delivered to ${this.sink.name} but still recorded as owed (sent again after a restart): ${messageOf(err)}`));
    }
  }

  async stop(): Promise<void> {
    this.controller.abort(new ProbemeshError(`alert sink ${this.sink.name} stopped`));
    await this.done;
    try {
      await this.sink.stop?.();
    } catch (err) {
      this.opts.log('warn', `alert sink ${this.sink.name} did not stop cleanly: ${messageOf(err)}`);
    }
  }
}

/**
 * The probe's one path for alert transitions to their destinations: each transition is saved in
 * the store for every sink before any sink sees it, then each sink gets it in order, at least once,
 * with its stable id; a sink that fails is retried with its own jittered back-off and never delays
 * another. What is owed survives a restart (delivered when the sink is added again). When the store
 * cannot commit (a full disk) a transition is delivered from memory, so the alert saying so still
 * goes out.
 */
export class AlertOutbox {
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  /** Tells this run's keys from a previous run's that had the same time and sequence number. */
  private readonly run = randomBytes(4).toString('hex');

  constructor(
    private readonly store: Store,
    private readonly opts: AlertOutboxOptions,
  ) {}

  /** Adds and starts a sink: it gets every transition from now on, after what the store still owes it. */
  add(sink: AlertSink): void {
    if (this.lanes.has(sink.name)) throw new ProbemeshError(`an alert sink named '${sink.name}' is already added`);
    this.lanes.set(sink.name, new Lane(sink, this.store, this.opts));
  }

  /** Removes and stops a sink; what it is still owed stays in the store for a sink of that name. Idempotent. */
  async remove(name: string): Promise<void> {
    const lane = this.lanes.get(name);
    this.lanes.delete(name);
    await lane?.stop();
  }

  /** Saves a transition for every sink, then queues it for each; resolves once it is durable (false: held in memory only). */
  enqueue(alert: Alert): Promise<boolean> {
    const key = `${String(this.opts.clock.now()).padStart(15, '0')}-${String(this.seq++).padStart(9, '0')}-${this.run}`;
    const lanes = [...this.lanes.values()];
    const saved = Promise.all(lanes.map((l) => this.store.config.put(kindOf(l.sink.name), key, alert))).then(
      () => true,
      (err: unknown) => {
        this.opts.log('error', `alert ${alert.id} is delivered from memory, not saved: ${messageOf(err)}`);
        return false;
      },
    );
    for (const l of lanes) l.push({ key, alert, saved });
    return saved;
  }

  /** Each sink's pending, delivered, retried and refused transitions. */
  stats(): SinkStats[] {
    return [...this.lanes.values()].map((l) => ({ ...l.stats, pending: l.queue.length }));
  }

  /** Stops every sink and its deliveries (what is owed stays in the store). Idempotent. */
  async stop(): Promise<void> {
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    await Promise.all(lanes.map((l) => l.stop()));
  }
}
