import type { Alert } from '@probemesh/model';

/**
 * A destination of alert transitions, driven by the probe's durable outbox: `deliver` resolves when
 * the destination has the transition, and throws a ProbemeshError whose `retryable` says whether
 * the outbox should try again later. `id` is stable per transition, so a receiver can drop repeats.
 */
export interface AlertSink {
  readonly name: string;
  deliver(alert: Alert, id: string, signal: AbortSignal): Promise<void>;
}
