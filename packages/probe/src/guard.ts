import { Containment, messageOf, systemClock, type Clock } from '@probemesh/core';
import type { LogFn } from '@probemesh/runtime';

/** What escaped every handler, by kind, as `/metrics` counts it (`probemesh_uncaught_errors_total{kind}`). */
export const Escapes = {
  /** A rejected promise nobody awaited: the probe keeps running. */
  rejection: 'unhandled_rejection',
  /** A socket's error nobody listened for (ECONNRESET …): the probe keeps running. */
  network: 'uncaught_network_error',
  /** Any other exception thrown out of a callback: the probe stops cleanly and exits. */
  exception: 'uncaught_exception',
} as const;
export type Escape = (typeof Escapes)[keyof typeof Escapes];

/** The exit status after an uncaught exception or a `fatal` failure (EX_SOFTWARE): the service manager starts the probe again. */
export const EXIT_UNCAUGHT = 70;

/**
 * Error codes of a socket that failed with no listener for its errors. Node raises them from its
 * own event dispatch, with the socket already destroyed: no code of ours was cut off halfway.
 */
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * The process guard: records anything that escapes every handler — with its stack in the log
 * (once a minute per cause) and counted by kind for `/metrics` — and decides whether the probe
 * may go on.
 *
 * It goes on after an unhandled rejection: the failed promise chain has ended, and its code ran
 * to its `await`s, not cut off between two statements; and after a socket error nobody listened
 * for (see SOCKET_CODES). Stopping on those would let any device or client that resets a
 * connection stop the probe.
 *
 * It stops after any other uncaught exception: the exception cut some code off between two
 * statements, so what that code was changing (a map, a counter, a half-sent batch) may be half
 * changed, and nothing tells which. The probe is stopped cleanly (the store's commits finished,
 * connections closed, within `graceMs`) and exits with EXIT_UNCAUGHT, so systemd's
 * `Restart=on-failure` starts it again from a consistent store.
 */
export class ProcessGuard {
  /** Escapes so far, by kind. */
  readonly counts: Record<Escape, number> = { unhandled_rejection: 0, uncaught_network_error: 0, uncaught_exception: 0 };
  private stopProbe: () => Promise<void> = async () => undefined;
  private stopping = false;
  private readonly contained: Containment;
  private readonly onRejection = (reason: unknown) => this.escaped(Escapes.rejection, reason);
  private readonly onException = (err: unknown) => this.escaped(SOCKET_CODES.has((err as NodeJS.ErrnoException)?.code ?? '') ? Escapes.network : Escapes.exception, err);

  constructor(
    private readonly opts: {
      log: LogFn;
      clock?: Clock;
      /** How long a clean stop may take before the process exits anyway (default 10 s). */
      graceMs?: number;
      exit?: (code: number) => void;
    },
  ) {
    this.contained = new Containment(opts.clock ?? systemClock, opts.log, 'process guard');
  }

  /** Listens for what escapes (idempotent); returns a function that stops listening. */
  install(): () => void {
    process.off('unhandledRejection', this.onRejection).on('unhandledRejection', this.onRejection);
    process.off('uncaughtException', this.onException).on('uncaughtException', this.onException);
    return () => {
      process.off('unhandledRejection', this.onRejection);
      process.off('uncaughtException', this.onException);
    };
  }

  /** How to stop the probe cleanly after an uncaught exception (set once it runs). */
  stopWith(stop: () => Promise<void>): void {
    this.stopProbe = stop;
  }

  /**
   * A failure the probe cannot get past in this process (its mesh node failed past its restart
   * limit): logged, then the probe is stopped cleanly and exits with EXIT_UNCAUGHT, as after an
   * uncaught exception, so that systemd starts it again in a fresh process.
   */
  fatal(err: Error): void {
    this.stopAndExit('fatal failure', err);
  }

  private escaped(kind: Escape, err: unknown): void {
    this.counts[kind]++;
    if (kind !== Escapes.exception) return this.contained.record(err, kind.replace(/_/g, ' '));
    this.stopAndExit('uncaught exception', err instanceof Error ? err : new Error(String(err)));
  }

  /** Stops the probe cleanly (within `graceMs`) and exits with EXIT_UNCAUGHT; what comes while it stops is logged. */
  private stopAndExit(what: string, e: Error): void {
    const exit = this.opts.exit ?? ((code: number) => process.exit(code));
    if (this.stopping) return void this.opts.log('error', `process guard: another ${what} while stopping: ${e.name}: ${e.message}`, { stack: e.stack });
    this.stopping = true;
    this.opts.log('error', `process guard: ${what}, stopping cleanly and exiting with ${EXIT_UNCAUGHT} (systemd starts the probe again): ${e.name}: ${e.message}`, { stack: e.stack });
    const deadline = setTimeout(() => exit(EXIT_UNCAUGHT), this.opts.graceMs ?? 10_000);
    this.stopProbe()
      .catch((stopErr: unknown) => this.opts.log('error', `process guard: the clean stop failed: ${messageOf(stopErr)}`))
      .finally(() => {
        clearTimeout(deadline);
        exit(EXIT_UNCAUGHT);
      });
  }
}
