/** Base of probemesh errors: a `name` per failure kind, a `cause`, and whether a retry may help. */
export class ProbemeshError extends Error {
  override name = 'ProbemeshError';
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

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

/** All error classes by name, for `instanceof` checks and mapping to HTTP statuses. */
export const errors = { ProbemeshError, NotFoundError, ConflictError, UnprocessableError, TimeoutError } as const;

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
