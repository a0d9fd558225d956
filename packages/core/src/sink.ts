import type { Alert } from '@probemesh/model';

/**
 * A destination of alert transitions (JetStream, a webhook, Alertmanager …), driven by the probe's
 * durable alert outbox: `deliver` resolves once the destination has the transition, and throws a
 * ProbemeshError whose `retryable` says whether to try again later (a `retryAfterMs` on it is
 * honoured). Delivery is at least once; `id` is stable per transition, so a receiver drops repeats.
 */
export interface AlertSink {
  readonly name: string;
  deliver(alert: Alert, id: string, signal: AbortSignal): Promise<void>;
}

/** The stable id of one transition of an alert: the same for every retry of it, another for its next transition. */
export function transitionId(a: Alert): string {
  return `${a.id}.${a.state}.${a.ts}`;
}
