import type { BackoffPolicy, Clock, TimerHandle } from '@probemesh/core';
import { StoreUnavailableError, backoffDelay, messageOf } from '@probemesh/core';
import type { Value } from '@probemesh/model';
import type { Store } from '@probemesh/store';
import type { LogFn } from './probe.js';

/** Whether the store takes writes, as the rule states, /metrics and the `store` alert show it. */
export interface StoreHealth {
  available: boolean;
  /** When the store stopped taking writes (absent while it takes them). */
  since?: number;
  /** Why the last commit failed (absent while the store takes writes). */
  error?: string;
  /** Values held in memory until the store takes writes again. */
  pendingValues: number;
  /** Values given up because more were held than the bound (oldest first), since the probe started. */
  droppedValues: number;
  /** Commits that failed, since the probe started. */
  failedCommits: number;
  /** Values committed, since the probe started. */
  writtenValues: number;
}

/** How a StoreWriter runs. */
export interface StoreWriterOptions {
  clock: Clock;
  log: LogFn;
  /** Told when the store stops or starts taking writes. */
  onChange(health: StoreHealth): void;
  /** Most values held while the store takes no writes (default 100,000: some 15 MB). */
  maxPending?: number;
  /** Delays between attempts to write again (default 1 s growing to 10 s, jittered). */
  backoff?: BackoffPolicy;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 10_000, factor: 2, jitter: 0.2 };
/** Seconds `valuesPerS` keeps: a whole minute, and the current second. */
const RING = 61;

/**
 * Every value the runtime stores goes through here, so a full disk is a state, not a crash. A
 * commit that fails (StoreUnavailableError) makes the store unavailable: the rules whose values it
 * held are marked, retention runs at once, and the values (up to a bound) are held and written
 * again with back-off until a commit succeeds. Values already committed are never touched.
 */
export class StoreWriter {
  private pending: Value[][] = [];
  private pendingValues = 0;
  private down?: { since: number; error: string; attempt: number; rules: Set<string>; timer?: TimerHandle };
  private dropped = 0;
  private failed = 0;
  private written = 0;
  private retrying?: Promise<void>;
  private stopped = false;
  /** Values committed in each of the last seconds (a ring; slot = second % RING), for `valuesPerS`. */
  private readonly perSecond = new Array<number>(RING).fill(0);
  private second: number;
  private readonly firstSecond: number;

  constructor(
    private readonly store: Store,
    private readonly opts: StoreWriterOptions,
  ) {
    this.second = this.firstSecond = Math.floor(opts.clock.now() / 1000);
  }

  /** Counts `n` values committed now. */
  private committed(n: number): void {
    this.roll();
    this.written += n;
    this.perSecond[this.second % RING]! += n;
  }

  /** Moves the ring to the current second, emptying the seconds it skips. */
  private roll(): void {
    const now = Math.floor(this.opts.clock.now() / 1000);
    for (let s = Math.max(this.second + 1, now - RING + 1); s <= now; s++) this.perSecond[s % RING] = 0;
    this.second = Math.max(this.second, now);
  }

  /** Values committed per second over the last whole minute (since the start when younger; the current second left out). */
  valuesPerS(): number {
    this.roll();
    const span = Math.min(RING - 1, this.second - this.firstSecond);
    let sum = 0;
    for (let i = 1; i <= span; i++) sum += this.perSecond[(this.second - i) % RING]!;
    return span > 0 ? sum / span : 0;
  }

  /**
   * Stores `values` for `rule`. Resolves once they are committed, or held because the store takes
   * no writes; rejects only for values the store refuses (a StoreError: a bug upstream).
   */
  async append(values: readonly Value[], rule?: string): Promise<void> {
    if (values.length === 0) return;
    if (this.down) return this.hold(values, rule);
    try {
      await this.store.append(values);
      this.committed(values.length);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.failedWith(err);
      this.hold(values, rule);
    }
  }

  /** Whether `rule`'s values are held because the store takes no writes. */
  blocks(rule: string): boolean {
    return this.down?.rules.has(rule) ?? false;
  }

  health(): StoreHealth {
    return {
      available: !this.down,
      ...(this.down ? { since: this.down.since, error: this.down.error } : {}),
      pendingValues: this.pendingValues,
      droppedValues: this.dropped,
      failedCommits: this.failed,
      writtenValues: this.written,
    };
  }

  private hold(values: readonly Value[], rule?: string): void {
    if (rule !== undefined) this.down?.rules.add(rule);
    this.pending.push(values.slice());
    this.pendingValues += values.length;
    const max = this.opts.maxPending ?? 100_000;
    while (this.pendingValues > max && this.pending.length > 1) {
      const gone = this.pending.shift()!;
      this.pendingValues -= gone.length;
      this.dropped += gone.length;
    }
  }

  /** A commit failed: the first failure makes the store unavailable and starts the attempts to write again. */
  private failedWith(err: unknown): void {
    this.failed++;
    if (this.down) {
      this.down.error = messageOf(err);
      return;
    }
    this.down = { since: this.opts.clock.now(), error: messageOf(err), attempt: 0, rules: new Set() };
    this.opts.log('error', `${messageOf(err)}; values are held (up to ${this.opts.maxPending ?? 100_000}) and written again when space returns`);
    this.opts.onChange(this.health());
    this.retain();
    this.schedule();
  }

  /** Retention frees pages the store can reuse without growing its file. */
  private retain(): void {
    this.store.enforceRetention().catch((err: unknown) => this.opts.log('warn', `retention while the store takes no writes: ${messageOf(err)}`));
  }

  private schedule(): void {
    const d = this.down;
    if (!d || this.stopped) return;
    const delay = backoffDelay(d.attempt++, this.opts.backoff ?? DEFAULT_BACKOFF);
    d.timer = this.opts.clock.setTimeout(() => (this.retrying = this.retry().finally(() => (this.retrying = undefined))), delay);
  }

  /** Writes what is held (or, with nothing held, a small record) in one commit; on success the store is available again. */
  private async retry(): Promise<void> {
    const d = this.down;
    if (!d || this.stopped) return;
    d.timer = undefined;
    try {
      if (this.pending.length === 0) await this.store.config.put('store', 'writable', { ts: this.opts.clock.now() });
      while (this.pending.length > 0) {
        const batches = this.pending;
        const n = this.pendingValues;
        this.pending = [];
        this.pendingValues = 0;
        try {
          await Promise.all(batches.map((b) => this.store.append(b))); // one commit: appends of a tick share it
          this.committed(n);
        } catch (err) {
          this.pending = batches.concat(this.pending);
          this.pendingValues += n;
          throw err;
        }
      }
      this.down = undefined;
      this.opts.log('info', `the store takes writes again after ${Math.round((this.opts.clock.now() - d.since) / 1000)} s; held values are written`);
      this.opts.onChange(this.health());
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) this.opts.log('error', `writing held values: ${messageOf(err)}`);
      this.failed++;
      d.error = messageOf(err);
      this.retain();
      this.schedule();
    }
  }

  /** Stops the attempts; values still held are tried once more (the store may take them), else reported lost. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.down?.timer) this.opts.clock.clearTimeout(this.down.timer);
    await this.retrying;
    if (this.pendingValues === 0) return;
    const n = this.pendingValues;
    await Promise.all(this.pending.map((b) => this.store.append(b))).then(
      () => this.committed(n),
      (err: unknown) => this.opts.log('error', `${n} held values were not stored before stopping: ${messageOf(err)}`),
    );
    this.pending = [];
    this.pendingValues = 0;
  }
}
