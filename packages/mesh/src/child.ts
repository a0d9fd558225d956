import type { ChildSpec } from '@probemesh/core';

/**
 * A supervised child whose work is one long loop. The loop gets an AbortSignal that `stop` aborts;
 * a throw, or an end nobody asked for, is a crash its supervisor restarts with back-off.
 */
export function loopChild(id: string, run: (signal: AbortSignal) => Promise<void>): ChildSpec {
  return {
    id,
    start(crash) {
      const controller = new AbortController();
      const { signal } = controller;
      const done = run(signal).then(
        () => {
          if (!signal.aborted) crash(new Error(`${id} ended unexpectedly`));
        },
        (err: unknown) => {
          if (!signal.aborted) crash(err);
        },
      );
      return {
        async stop() {
          controller.abort(new Error(`${id} stopped`));
          await done;
        },
      };
    },
  };
}

/** Callers waiting for something to happen: each `wait` ends at the next `wake`, or rejects when its signal aborts. */
export class Waiters {
  private readonly set = new Set<() => void>();

  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const done = () => {
        this.set.delete(done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.set.delete(done);
        reject(signal.reason);
      };
      this.set.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  wake(): void {
    for (const fn of [...this.set]) fn();
  }
}
