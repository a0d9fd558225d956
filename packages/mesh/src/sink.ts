import { jetstream } from '@nats-io/jetstream';
import { abortable, type AlertSink } from '@probemesh/core';
import { builtinSinks, subjects, type Alert, type NatsOptions } from '@probemesh/model';
import type { MeshContext } from './context.js';
import { MeshUnavailableError } from './errors.js';
import { classifyApiError } from './streams.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/**
 * The mesh as a destination of the probe's durable alert outbox: each transition is published on
 * `pm.in.alert.<severity>.<probe>.<rule>` with its transition id as `Nats-Msg-Id`, and delivered
 * once `PM_ALERTS` stored it — the stream drops a resend after a lost acknowledgement, and
 * republishes each stored transition once on `pm.alert.…`. While NATS is away the delivery waits
 * for it; any failure is retryable (a permission refused may be granted: the outbox keeps the alert);
 * an abort of the signal ends it at once, waiting neither for NATS nor for its acknowledgement.
 */
export class JetStreamSink implements AlertSink {
  readonly name = builtinSinks.jetstream;
  /** Transitions JetStream acknowledged since start. */
  delivered = 0;

  constructor(
    private readonly ctx: MeshContext,
    private readonly nats: NatsOptions,
  ) {}

  async deliver(a: Alert, id: string, signal: AbortSignal): Promise<void> {
    const nc = await this.ctx.link.connection(signal);
    signal.throwIfAborted();
    try {
      await abortable(jetstream(nc, this.ctx.js).publish(subjects.alertIn(a.severity, a.probe, a.rule), enc(a), { msgID: id, timeout: 5000 }), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const e = classifyApiError(err, `storing alert ${a.id} in PM_ALERTS`, this.nats, nc.getServer());
      throw e instanceof MeshUnavailableError ? e : new MeshUnavailableError(e.message, { cause: err });
    }
    this.delivered++;
  }
}
