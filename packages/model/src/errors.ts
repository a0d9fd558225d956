/** One thing wrong with an input: where (JSON pointer) and what. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * Base of every probemesh error: a `name` per failure kind (told apart with `instanceof`, never
 * by message text), the `cause` kept, and whether a retry may help.
 */
export class ProbemeshError extends Error {
  override name = 'ProbemeshError';
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/** Input that does not match its schema; `issues` say where and what. */
export class ValidationError extends ProbemeshError {
  override name = 'ValidationError';
  constructor(
    readonly what: string,
    readonly issues: Issue[],
    options: { cause?: unknown } = {},
  ) {
    super(`invalid ${what}: ${issues.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`, options);
  }
}
