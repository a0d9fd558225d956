import { ProbemeshError } from './errors.js';

/**
 * An actor: a mailbox handled one message at a time. Handling is async and cancellable through an
 * AbortSignal; an error thrown by the handler is a crash, reported to the parent as a message
 * (`onCrash`) and the actor stops taking mail.
 */
export class Actor<M extends { type: string }> {
  private queue: M[] = [];
  private running = false;
  private stopped = false;
  private controller = new AbortController();
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly handler: (msg: M, signal: AbortSignal) => Promise<void>,
    private readonly onCrash: (err: unknown) => void,
    private readonly capacity = 1000,
  ) {}

  /** Queues a message; false when stopped or the mailbox is full (the message is dropped). */
  send(msg: M): boolean {
    if (this.stopped || this.queue.length >= this.capacity) return false;
    this.queue.push(msg);
    if (!this.running) this.idle = this.drain();
    return true;
  }

  /** Messages waiting, and whether one is being handled. */
  get load(): { queued: number; busy: boolean } {
    return { queued: this.queue.length, busy: this.running };
  }

  /** Whether a message of this type is already waiting (lets periodic ticks coalesce). */
  has(type: M['type']): boolean {
    return this.queue.some((m) => m.type === type);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const msg = this.queue.shift()!;
        try {
          await this.handler(msg, this.controller.signal);
        } catch (err) {
          if (this.stopped) return; // aborted by stop(): not a crash
          this.stopped = true;
          this.queue = [];
          this.onCrash(err);
          return;
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Stops: aborts the message in hand, drops the rest, resolves when the handler has returned. Idempotent. */
  async stop(reason = 'actor stopped'): Promise<void> {
    this.stopped = true;
    this.queue = [];
    this.controller.abort(new ProbemeshError(reason));
    await this.idle;
  }
}
