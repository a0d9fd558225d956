import { ProbemeshError, ValidationError } from '@probemesh/model';

// The base and the schema error live in @probemesh/model (the lowest package, so every package can
// extend the base); they are re-exported here with the rest of the hierarchy.
export { ProbemeshError, ValidationError, type Issue } from '@probemesh/model';

/** Something named does not exist (an indicator, a device, a rule, a probe). */
export class NotFoundError extends ProbemeshError {
  override name = 'NotFoundError';
  constructor(
    readonly what: string,
    readonly id: string,
  ) {
    super(`${what} '${id}' does not exist`);
  }
}

/** A change conflicts with what exists (an id already taken, a dependent still in use). */
export class ConflictError extends ProbemeshError {
  override name = 'ConflictError';
}

/** Input is well formed but cannot be used (a formula over an unknown indicator, a wrong scheme). */
export class UnprocessableError extends ProbemeshError {
  override name = 'UnprocessableError';
}

/** A device or peer did not answer in time. */
export class TimeoutError extends ProbemeshError {
  override name = 'TimeoutError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** Something the store refuses: a value that is not a finite number or a text, a bad query, a closed store. */
export class StoreError extends ProbemeshError {
  override name = 'StoreError';
}

/** A numeric mode (max, min, mean, sum) over a range that holds text values. */
export class NotNumericError extends UnprocessableError {
  override name = 'NotNumericError';
  constructor(
    /** The indicators whose text values are in the range. */
    readonly indicators: string[],
    mode: string,
  ) {
    super(`${indicators.map((i) => `indicator '${i}'`).join(', ')} ${indicators.length > 1 ? 'hold' : 'holds'} text values in this range; ${mode} needs numbers (use mode records or count)`);
  }
}

/**
 * A write the store could not commit (disk full, map full, I/O error): nothing of it was written,
 * what was committed before is intact, and a retry succeeds once space returns.
 */
export class StoreUnavailableError extends ProbemeshError {
  override name = 'StoreUnavailableError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** Every error class of probemesh by name, for `instanceof` checks (e.g. mapping to HTTP statuses). */
export const errors = {
  ProbemeshError,
  ValidationError,
  NotFoundError,
  ConflictError,
  UnprocessableError,
  TimeoutError,
  StoreError,
  NotNumericError,
  StoreUnavailableError,
} as const;

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
