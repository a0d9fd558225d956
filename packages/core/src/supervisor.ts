import type { ActorStatus } from '@probemesh/model';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import { messageOf } from './errors.js';

/** Something a supervisor runs. It reports a crash by calling the `crash` it was started with. */
export interface Worker {
  stop(): Promise<void>;
}

/** How to start a child; `start` may throw (counted as a crash). */
export interface ChildSpec {
  id: string;
  start(crash: (err: unknown) => void): Worker | Promise<Worker>;
}

/** What a child is doing, as the API shows it. */
export interface ChildState {
  status: ActorStatus;
  restarts: number;
  lastError?: string;
  nextRetry?: number;
}

/** Events a supervisor emits (for logs and metrics). */
export type SupervisorEvent =
  | { type: 'started'; id: string }
  | { type: 'crashed'; id: string; error: string; retryInMs: number }
  | { type: 'failed'; id: string; error: string }
  | { type: 'stopped'; id: string };

export interface SupervisorOptions {
  clock: Clock;
  backoff?: BackoffPolicy;
  /** Restart intensity: more than `maxRestarts` crashes within `withinMs` and the child is failed. */
  maxRestarts?: number;
  withinMs?: number;
  onEvent?: (e: SupervisorEvent) => void;
}

/** How a supervisor restarts its children: back-off, and the intensity past which a child is failed. */
export type RestartPolicy = Pick<SupervisorOptions, 'backoff' | 'maxRestarts' | 'withinMs'>;

interface Entry {
  spec: ChildSpec;
  worker?: Worker;
  state: ChildState;
  crashes: number[];
  timer?: TimerHandle;
  generation: number;
}

/**
 * A one_for_one supervisor: a crashed child is restarted alone, after a jittered back-off; one that
 * crashes too often is marked failed (escalated through `onEvent`) until it is replaced.
 */
export class Supervisor {
  private children = new Map<string, Entry>();
  private readonly opts: Required<Omit<SupervisorOptions, 'onEvent'>> & Pick<SupervisorOptions, 'onEvent'>;

  constructor(opts: SupervisorOptions) {
    this.opts = { backoff: defaultBackoff, maxRestarts: 5, withinMs: 10 * 60_000, ...opts };
  }

  /** Starts a child, replacing (stopping first) any child with the same id. */
  async start(spec: ChildSpec): Promise<void> {
    await this.stop(spec.id);
    const entry: Entry = { spec, state: { status: 'starting', restarts: 0 }, crashes: [], generation: 0 };
    this.children.set(spec.id, entry);
    await this.launch(entry);
  }

  private async launch(entry: Entry): Promise<void> {
    const gen = ++entry.generation;
    entry.timer = undefined;
    entry.state = { ...entry.state, status: 'starting', nextRetry: undefined };
    const crash = (err: unknown) => {
      if (entry.generation === gen && this.children.get(entry.spec.id) === entry) void this.crashed(entry, err);
    };
    try {
      const worker = await entry.spec.start(crash);
      if (entry.generation !== gen || this.children.get(entry.spec.id) !== entry) {
        await worker.stop(); // replaced or stopped while starting
        return;
      }
      entry.worker = worker;
      if (entry.state.status === 'starting') entry.state = { ...entry.state, status: 'running' };
      this.opts.onEvent?.({ type: 'started', id: entry.spec.id });
    } catch (err) {
      crash(err);
    }
  }

  private async crashed(entry: Entry, err: unknown): Promise<void> {
    const { clock, maxRestarts, withinMs, backoff } = this.opts;
    const error = messageOf(err);
    entry.generation++; // later crash reports of this run are ignored
    const worker = entry.worker;
    entry.worker = undefined;
    const now = clock.now();
    entry.crashes = entry.crashes.filter((t) => now - t < withinMs);
    entry.crashes.push(now);
    if (entry.crashes.length > maxRestarts) {
      entry.state = { ...entry.state, status: 'failed', lastError: error, nextRetry: undefined };
      this.opts.onEvent?.({ type: 'failed', id: entry.spec.id, error });
    } else {
      const delay = backoffDelay(entry.crashes.length - 1, backoff);
      entry.state = { ...entry.state, status: 'backing-off', lastError: error, restarts: entry.state.restarts + 1, nextRetry: now + delay };
      this.opts.onEvent?.({ type: 'crashed', id: entry.spec.id, error, retryInMs: delay });
      entry.timer = clock.setTimeout(() => void this.launch(entry), delay);
    }
    await worker?.stop().catch(() => undefined);
  }

  /** Stops and forgets a child; false when there was none. Idempotent. */
  async stop(id: string): Promise<boolean> {
    const entry = this.children.get(id);
    if (!entry) return false;
    this.children.delete(id);
    entry.generation++;
    if (entry.timer) this.opts.clock.clearTimeout(entry.timer);
    await entry.worker?.stop();
    this.opts.onEvent?.({ type: 'stopped', id });
    return true;
  }

  /** The state of one child. */
  state(id: string): ChildState | undefined {
    return this.children.get(id)?.state;
  }

  /** Ids of the children. */
  ids(): string[] {
    return [...this.children.keys()];
  }

  /** Stops every child. */
  async stopAll(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.stop(id)));
  }
}
