import { ProbemeshError } from '@probemesh/core';

/**
 * The receiver refused the delivery and would refuse it again (a 4xx other than 408 and 429, or a
 * redirect): the URL, the credentials or the payload must change first. Not retryable.
 */
export class SinkRejectedError extends ProbemeshError {
  override name = 'SinkRejectedError';
  constructor(
    message: string,
    /** The HTTP status the receiver answered. */
    readonly status: number,
  ) {
    super(message, { retryable: false });
  }
}

/**
 * The receiver could not take the delivery now (connection refused or reset, DNS or TLS failure,
 * a 5xx, 408 or 429): the same delivery may succeed later. Retryable.
 */
export class SinkUnavailableError extends ProbemeshError {
  override name = 'SinkUnavailableError';
  /** The HTTP status, when the receiver answered. */
  readonly status: number | undefined;
  /** How long the receiver asked to wait (its Retry-After header), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options: { cause?: unknown; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message, { ...(options.cause === undefined ? {} : { cause: options.cause }), retryable: true });
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The error classes of the sinks, for `instanceof` checks. */
export const sinkErrors = { SinkRejectedError, SinkUnavailableError } as const;
