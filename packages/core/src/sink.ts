import { msgIds, type Alert } from '@probemesh/model';

/** What a sink may ask of the probe whose outbox drives it. */
export interface SinkHost {
  /** The alerts firing now, each as it fired (a restart keeps them). */
  active(): Alert[];
}

/**
 * A destination of alert transitions (JetStream, a webhook, Alertmanager …), driven by the probe's
 * durable alert outbox: `deliver` resolves once the destination has the transition, and throws a
 * ProbemeshError whose `retryable` says whether to try again later (a `retryAfterMs` on it is
 * honoured), or the signal's reason when it aborts. Delivery is at least once; `id` is stable per
 * transition, so a receiver drops repeats. `@probemesh/testkit`'s `alertSinkConformance` checks
 * all of this against a sink's real receiver.
 */
export interface AlertSink {
  readonly name: string;
  deliver(alert: Alert, id: string, signal: AbortSignal): Promise<void>;
  /** Called when the outbox takes the sink, for a sink that also works between deliveries (Alertmanager re-sends what fires now). */
  start?(host: SinkHost): void;
  /** Ends what the sink runs between deliveries. Idempotent. */
  stop?(): void | Promise<void>;
}

/** The stable id of one transition of an alert: the same for every retry of it, another for its next transition. */
export const transitionId: (a: Pick<Alert, 'id' | 'state' | 'ts'>) => string = msgIds.alert;
