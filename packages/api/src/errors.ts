import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Issue } from '@probemesh/model';

/** An error the API answers with its status; `code` is stable for clients. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

/** Status and code for each error class of the probe (by name, so no package owns the mapping twice). */
const byName: Record<string, [ContentfulStatusCode, string]> = {
  ValidationError: [400, 'invalid'],
  NotFoundError: [404, 'not-found'],
  ConflictError: [409, 'conflict'],
  UnprocessableError: [422, 'unprocessable'],
  NotNumericError: [422, 'not-numeric'],
  StoreError: [400, 'invalid'],
  TimeoutError: [504, 'timeout'],
};

/** The JSON error body: `{ error: { status, code, message, issues? } }`; never a stack trace. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof HttpError) return c.json({ error: { status: err.status, code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) } }, err.status);
  const e = err as { name?: string; message?: string; issues?: Issue[] };
  const mapped = e?.name ? byName[e.name] : undefined;
  if (mapped) {
    const [status, code] = mapped;
    return c.json({ error: { status, code, message: e.message ?? code, ...(e.issues ? { issues: e.issues } : {}) } }, status);
  }
  console.error('probemesh api: internal error', err);
  return c.json({ error: { status: 500, code: 'internal', message: 'internal error; see the probe log' } }, 500);
}
