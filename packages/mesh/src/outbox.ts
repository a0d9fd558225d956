import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamOptions } from '@nats-io/jetstream';
import type { ChildSpec } from '@probemesh/core';
import { meshStore, msgIds, subjects, type Alert, type NatsOptions } from '@probemesh/model';
import { loopChild, Waiters } from './child.js';
import type { MeshContext } from './context.js';
import { untilDone } from './streams.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/**
 * Publishes one alert transition through JetStream; resolves once `PM_ALERTS` has stored it (and
 * republished it on `pm.alert.<severity>.<probe>.<rule>`). The message id makes a resend after a
 * lost acknowledgement a duplicate the stream drops.
 */
export async function publishAlert(nc: NatsConnection, js: JetStreamOptions, a: Alert, timeoutMs = 5000): Promise<void> {
  await jetstream(nc, js).publish(subjects.alertIn(a.severity, a.probe, a.rule), enc(a), { msgID: msgIds.alert(a), timeout: timeoutMs });
}

/**
 * Alert transitions on their way to JetStream, in order: each is saved in the probe's store before
 * it is queued and deleted once JetStream acknowledged it, so a restarted probe delivers what it
 * owed. A supervised child publishes them, retrying with jittered back-off while NATS is away.
 */
export class AlertOutbox {
  private readonly queue: Array<{ alert: Alert; key?: string; saved?: Promise<void> }> = [];
  private seq = 0;
  private readonly queued = new Waiters();
  private readonly emptied = new Waiters();
  /** Transitions JetStream acknowledged. */
  published = 0;

  constructor(
    private readonly ctx: MeshContext,
    private readonly nats: NatsOptions,
  ) {
    // What a previous run owed goes out first, in its order.
    for (const [key, alert] of ctx.store?.config.entries<Alert>(meshStore.outbox) ?? []) this.queue.push({ key, alert });
  }

  /** Transitions not yet acknowledged. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues a transition, in order; resolves once it is saved in the store (when there is one). */
  enqueue(alert: Alert): Promise<void> {
    const { store, clock } = this.ctx;
    const item: (typeof this.queue)[number] = { alert };
    if (store) {
      item.key = `${String(clock.now()).padStart(15, '0')}-${String(this.seq++).padStart(9, '0')}`;
      item.saved = store.config.put(meshStore.outbox, item.key, alert);
    }
    this.queue.push(item);
    this.queued.wake();
    return item.saved ?? Promise.resolve();
  }

  /** Resolves when nothing is queued, or when `signal` aborts. */
  async idle(signal: AbortSignal): Promise<void> {
    while (this.queue.length) await this.emptied.wait(signal);
  }

  spec(): ChildSpec {
    return loopChild('outbox', async (signal) => {
      const { js, store } = this.ctx;
      for (;;) {
        if (this.queue.length === 0) {
          this.emptied.wake();
          await this.queued.wait(signal);
          continue;
        }
        const item = this.queue[0]!;
        await untilDone(this.ctx, this.nats, `delivering alert ${item.alert.id}, ${this.queue.length} queued in the store`, (nc) => publishAlert(nc, js, item.alert), signal);
        if (item.key) {
          await item.saved; // a delete before the put lands would leave it owed
          await store!.config.delete(meshStore.outbox, item.key);
        }
        this.queue.shift();
        this.published++;
      }
    });
  }
}
