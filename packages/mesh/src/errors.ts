import { ProbemeshError, errors } from '@probemesh/core';

/**
 * A mesh setting a person must fix: credentials the server refuses, a permission the probe's user
 * lacks, a stream that exists with a conflicting configuration, a TLS certificate that does not
 * verify. Retrying does not help; the message names the server, the user and what to change.
 */
export class MeshConfigError extends ProbemeshError {
  override name = 'MeshConfigError';
}

/** NATS or JetStream cannot be reached now (down, starting, no leader): the probe keeps measuring and retries. */
export class MeshUnavailableError extends ProbemeshError {
  override name = 'MeshUnavailableError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** Another probe of the mesh did not answer a forwarded query: gone, or no probe has that id. */
export class ProbeUnreachableError extends ProbemeshError {
  override name = 'ProbeUnreachableError';
  constructor(
    readonly probe: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, retryable: true });
  }
}

/**
 * A child of the mesh node crashed past its restart limit and stays stopped, so the node no longer
 * runs whole: whoever runs the node restarts it (`runProbe` stops it and starts it again, with back-off).
 */
export class MeshChildFailedError extends ProbemeshError {
  override name = 'MeshChildFailedError';
  constructor(
    readonly child: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { ...options, retryable: true });
  }
}

/** The mesh's error classes, for `instanceof` checks. */
export const meshErrors = { MeshConfigError, MeshUnavailableError, ProbeUnreachableError, MeshChildFailedError } as const;

/**
 * An error a probe answered a forwarded query with, as the class it had there (matched by name
 * among probemesh's errors), so the asking side maps it the same way (a bad query stays a 400).
 */
export function reviveError(e: { name: string; message: string; issues?: unknown }): ProbemeshError {
  const known: Record<string, abstract new (...args: never[]) => ProbemeshError> = { ...errors, ...meshErrors };
  const cls = Object.hasOwn(known, e.name) ? known[e.name]! : ProbemeshError;
  const err = Object.setPrototypeOf(new ProbemeshError(e.message), cls.prototype) as ProbemeshError & { issues?: unknown };
  err.name = cls === ProbemeshError ? 'ProbemeshError' : e.name;
  if (e.issues !== undefined) err.issues = e.issues;
  return err;
}
