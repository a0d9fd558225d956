import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { messageOf, whenAborted, type ChildSpec } from '@probemesh/core';
import { Alert, PartialAggregate, consumers, fits, meshStore, streams, subjects, type NatsOptions } from '@probemesh/model';
import { loopChild } from './child.js';
import type { MeshContext } from './context.js';
import { jsonOf } from './membership.js';
import type { MergedWindows } from './merged.js';
import { ensureConsumer, untilDone, type StreamSetup } from './streams.js';

/** Notifications after which a consumer is made again (a server that came back without it). */
const GONE = new Set(['consumer_deleted', 'consumer_not_found', 'stream_not_found']);

/**
 * A supervised durable JetStream consumer: made (idempotently) once the streams exist, read in
 * batches — the messages that arrive together are handled together — and restarted by its
 * supervisor when it ends or the server lost it. `handle` acks or naks each message.
 */
export function consumerChild(
  id: string,
  ctx: MeshContext,
  nats: NatsOptions,
  setup: StreamSetup,
  stream: string,
  config: { durable_name: string; filter_subject: string },
  handle: (msgs: JsMsg[]) => Promise<void>,
): ChildSpec {
  return loopChild(id, async (signal) => {
    await setup.ready(signal);
    const messages = await untilDone(
      ctx,
      nats,
      `following ${stream} (consumer ${config.durable_name})`,
      async (nc) => {
        const jsm = await jetstreamManager(nc, { ...ctx.js, timeout: 5000 });
        await ensureConsumer(jsm, stream, { ...config, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 30e9 });
        return (await jetstream(nc, ctx.js).consumers.get(stream, config.durable_name)).consume({ max_messages: 1024 });
      },
      signal,
    );
    const close = () => void messages.close();
    const forget = whenAborted(signal, close);
    let lost: string | undefined;
    void (async () => {
      for await (const s of messages.status())
        if (GONE.has(s.type)) {
          lost = s.type;
          close();
        }
    })();
    let batch: JsMsg[] = [];
    let handling: Promise<void> = Promise.resolve();
    let failure: unknown;
    const flush = () => {
      const msgs = batch;
      batch = [];
      handling = handling
        .then(() => (failure === undefined ? handle(msgs) : undefined))
        .catch((err: unknown) => {
          failure ??= err; // a bug in a handler: the consumer stops and its supervisor restarts it
          close();
        });
    };
    try {
      for await (const m of messages) {
        if (batch.push(m) === 1) setImmediate(flush);
        if (batch.length >= 512) await handling;
      }
      flush();
      await handling;
    } finally {
      forget();
    }
    if (failure !== undefined) throw failure;
    if (!signal.aborted) throw new Error(`the consumer ${config.durable_name} of ${stream} ended${lost ? ` (${lost.replaceAll('_', ' ')})` : ''}`);
  });
}

/** After the first, a dropped message is logged at most this often (with the count so far): a flood cannot flood the log. */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * A coordinator's merger: a durable consumer of `PM_PARTIALS`; each (source, window) is merged
 * once (remembered in the store), acked after the merge is saved. A message that is not a partial,
 * that claims another probe than its subject names, or whose figures or window cannot be (see
 * `MergedWindows.mergeAll`) is dropped, counted and never merged.
 */
export class Merger {
  /** Partials merged (not counting duplicates). */
  merges = 0;
  /** Messages dropped: not a partial aggregate of the probe its subject names, or figures or a window that cannot be. */
  dropped = 0;
  private droppedLogged = -Infinity;
  /** When each child last had a partial merged here (its windows are arriving). */
  readonly progress = new Map<string, number>();

  constructor(
    private readonly ctx: MeshContext,
    private readonly merged: MergedWindows,
    private readonly children: () => ReadonlySet<string> | undefined,
  ) {}

  private partialOf(m: JsMsg): PartialAggregate | undefined {
    const p = jsonOf(m);
    if (fits(PartialAggregate, p) && m.subject === subjects.partial(p.probe, p.indicator)) {
      const children = this.children();
      if (p.probe !== this.ctx.id && (!children || children.has(p.probe))) return p;
      return undefined; // another coordinator's child: not ours to merge
    }
    this.drop(m.subject, 'not a partial aggregate of the probe it names');
    return undefined;
  }

  private drop(subject: string, why: string): void {
    this.dropped++;
    const now = this.ctx.clock.now();
    if (now - this.droppedLogged < DROP_LOG_EVERY_MS) return;
    this.droppedLogged = now;
    this.ctx.log('warn', `dropped a message on ${subject}: ${why} (${this.dropped} dropped so far)`);
  }

  spec(nats: NatsOptions, setup: StreamSetup): ChildSpec {
    return consumerChild('merger', this.ctx, nats, setup, streams.partials, { durable_name: consumers.partials(this.ctx.id), filter_subject: subjects.partials }, async (msgs) => {
      const ps = msgs.map((m) => this.partialOf(m)).filter((p): p is PartialAggregate => p !== undefined);
      try {
        const { added, refused } = await this.merged.mergeAll(ps);
        for (const { partial: p, why } of refused) this.drop(subjects.partial(p.probe, p.indicator), why);
        this.merges += added.length;
        const now = this.ctx.clock.now();
        for (const p of added) this.progress.set(p.probe, now);
        for (const m of msgs) m.ack();
      } catch (err) {
        this.ctx.log('warn', `${msgs.length} partials not merged, redelivered later: ${messageOf(err)}`);
        for (const m of msgs) m.nak(1000);
      }
    });
  }
}

/** Beyond this many alerts the oldest resolved ones are forgotten. */
const MAX_ALERTS = 5000;

/**
 * A coordinator's alert follower: a durable consumer of `PM_ALERTS` from the start of the stream
 * (what fired before it joined shows as firing). Each transition is taken once (a redelivery that
 * matches the saved transition is ignored) and kept in the store.
 */
export class AlertFollower {
  /** Newest transition per alert, by `<probe>/<alert id>`. */
  readonly book = new Map<string, Alert>();
  /** Transitions taken (not counting redeliveries). */
  received = 0;

  constructor(private readonly ctx: MeshContext) {
    for (const [key, a] of ctx.store?.config.entries<Alert>(meshStore.alerts) ?? []) this.book.set(key, a);
  }

  private async take(m: JsMsg): Promise<void> {
    const a = jsonOf(m);
    if (!fits(Alert, a) || m.subject !== subjects.alertIn(a.severity, a.probe, a.rule)) return m.ack(); // not an alert of the probe it names
    const key = `${a.probe}/${a.id}`;
    const had = this.book.get(key);
    if (had && had.ts >= a.ts && (had.ts > a.ts || had.state === a.state)) return m.ack(); // a redelivery, or older than what is held
    try {
      await this.ctx.store?.config.put(meshStore.alerts, key, a);
      this.book.set(key, a);
      await this.prune();
      this.received++;
      m.ack();
    } catch (err) {
      this.ctx.log('warn', `alert on ${m.subject} not kept, redelivered later: ${messageOf(err)}`);
      m.nak(1000);
    }
  }

  /** Keeps the book bounded: beyond MAX_ALERTS entries the oldest resolved ones go. */
  private async prune(): Promise<void> {
    const excess = this.book.size - MAX_ALERTS;
    if (excess <= 0) return;
    const old = [...this.book].filter(([, a]) => a.state === 'resolved').sort(([, a], [, b]) => a.ts - b.ts).slice(0, excess);
    for (const [key] of old) this.book.delete(key);
    await Promise.all(old.map(([key]) => this.ctx.store?.config.delete(meshStore.alerts, key)));
  }

  spec(nats: NatsOptions, setup: StreamSetup): ChildSpec {
    return consumerChild('alerts', this.ctx, nats, setup, streams.alerts, { durable_name: consumers.alerts(this.ctx.id), filter_subject: subjects.alertsIn }, async (msgs) => {
      for (const m of msgs) await this.take(m);
    });
  }
}
