import type { Context } from 'hono';
import type { Clock, TimerHandle } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import { HttpError } from './errors.js';

/** Limits of the alert stream. */
export interface SseLimits {
  /** Milliseconds between keep-alive comments; a subscriber that takes nothing for a whole period while data waits is dropped. */
  keepAliveMs: number;
  /** Bytes that may wait for one subscriber before it is dropped. */
  maxQueuedBytes: number;
  /** Subscribers at once; more are refused with 503. */
  maxSubscribers: number;
}

/** Counters of the alert stream, for /metrics. */
export interface SseStats {
  subscribers: number;
  /** Subscribers dropped because they did not read. */
  dropped: number;
}

interface Subscriber {
  ctrl: ReadableStreamDefaultController<Uint8Array>;
  queue: Uint8Array[];
  bytes: number;
  /** Delivers straight to a read that is waiting. */
  wake?: (chunk: Uint8Array) => void;
  /** Something was taken since the last keep-alive. */
  took: boolean;
  /** Ends the connection at once (a stalled socket would otherwise keep its buffers). */
  destroy?: () => void;
}

const text = new TextEncoder();
const KEEP_ALIVE = text.encode(': keep-alive\n\n');

/**
 * Fans alert transitions out to Server-Sent Event subscribers. Each alert is serialised once;
 * each subscriber has a bounded queue that fills only when its socket stops taking data (the
 * response stream is pulled by the socket's drain), and a subscriber whose queue overflows, or
 * that takes nothing for a whole keep-alive period while data waits, is dropped and forgotten.
 */
export class SseHub {
  private readonly subs = new Set<Subscriber>();
  private dropped = 0;
  private off: (() => void) | undefined;
  /** Event ids: one sequence for the hub, so every subscriber shares each encoded event. */
  private seq = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly service: ProbeService,
    private readonly self: string,
    private readonly limits: SseLimits,
    private readonly clock: Clock,
  ) {}

  /** A `text/event-stream` response that follows alert transitions until the client leaves or is dropped. */
  respond(c: Context): Response {
    if (this.subs.size >= this.limits.maxSubscribers) throw new HttpError(503, 'too-many-subscribers', `this probe serves at most ${this.limits.maxSubscribers} alert streams at once; try again later`);
    this.start();
    const socket = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket;
    let sub: Subscriber;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (ctrl) => {
          sub = { ctrl, queue: [], bytes: 0, took: true, ...(socket ? { destroy: () => socket.destroy() } : {}) };
          this.subs.add(sub);
          this.push(sub, text.encode(`event: hello\ndata: ${JSON.stringify({ probe: this.self })}\n\n`));
        },
        pull: (ctrl) => {
          const next = sub.queue.shift();
          sub.took = true;
          if (next) {
            sub.bytes -= next.byteLength;
            ctrl.enqueue(next);
            return;
          }
          return new Promise<void>((resolve) => {
            sub.wake = (chunk) => {
              sub.wake = undefined;
              ctrl.enqueue(chunk);
              resolve();
            };
          });
        },
        cancel: () => void this.forget(sub),
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } });
  }

  /** Subscribers now and dropped so far. */
  stats(): SseStats {
    return { subscribers: this.subs.size, dropped: this.dropped };
  }

  /** Ends every stream and stops listening. Idempotent. */
  stop(): void {
    this.off?.();
    this.off = undefined;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of [...this.subs]) {
      this.forget(s);
      try {
        s.ctrl.close();
      } catch {
        // already closed by its reader: nothing left to end
      }
    }
  }

  private start(): void {
    if (this.off) return;
    this.off = this.service.onAlert((a: Alert) => {
      const event = text.encode(`event: alert\nid: ${++this.seq}\ndata: ${JSON.stringify(a)}\n\n`); // once for every subscriber
      for (const s of this.subs) this.push(s, event);
    });
    this.tick();
  }

  private tick(): void {
    this.timer = this.clock.setTimeout(() => {
      for (const s of [...this.subs]) {
        if (!s.took && s.queue.length > 0) this.drop(s);
        else {
          s.took = false;
          this.push(s, KEEP_ALIVE);
        }
      }
      this.tick();
    }, this.limits.keepAliveMs);
  }

  private push(s: Subscriber, chunk: Uint8Array): void {
    if (s.wake) return s.wake(chunk);
    s.queue.push(chunk);
    s.bytes += chunk.byteLength;
    if (s.bytes > this.limits.maxQueuedBytes) this.drop(s);
  }

  private drop(s: Subscriber): void {
    if (!this.forget(s)) return;
    this.dropped++;
    s.ctrl.close();
    s.destroy?.();
  }

  /** Removes a subscriber and its queue; true when it was still there. */
  private forget(s: Subscriber): boolean {
    if (!this.subs.delete(s)) return false;
    s.queue = [];
    s.bytes = 0;
    s.wake = undefined;
    if (this.subs.size === 0) {
      this.off?.();
      this.off = undefined;
      if (this.timer) this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    return true;
  }
}
