import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ProbemeshError, errors } from '@probemesh/core';
import type { Issue } from '@probemesh/model';

/** An error the API answers with its status; `code` is stable for clients. */
export class HttpError extends ProbemeshError {
  override name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Status and code of each failure kind of the probe, most specific first (matched with `instanceof`). */
const statuses: ReadonlyArray<[ErrorClass, ContentfulStatusCode, string]> = [
  [errors.ValidationError, 400, 'invalid'],
  [errors.NotFoundError, 404, 'not-found'],
  [errors.ConflictError, 409, 'conflict'],
  [errors.NotNumericError, 422, 'not-numeric'],
  [errors.UnprocessableError, 422, 'unprocessable'],
  [errors.StoreError, 400, 'invalid'],
  [errors.StoreUnavailableError, 503, 'store-unavailable'],
  [errors.TimeoutError, 504, 'timeout'],
];

/** The HTTP form of an error: its status, code, message and issues; `undefined` for a bug (500). */
export function httpErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  for (const [cls, status, code] of statuses) {
    if (err instanceof cls) return new HttpError(status, code, err.message, (err as { issues?: Issue[] }).issues, { cause: err });
  }
  return undefined;
}

/** The JSON error body: `{ error: { status, code, message, issues? } }`; never a stack trace. */
export function errorResponse(c: Context, err: unknown): Response {
  const e = httpErrorOf(err);
  if (e) return c.json({ error: { status: e.status, code: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) } }, e.status);
  console.error('probemesh api: internal error', err);
  return c.json({ error: { status: 500, code: 'internal', message: 'internal error; see the probe log' } }, 500);
}
