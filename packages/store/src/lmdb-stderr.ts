/**
 * lmdb-js prints each failed commit's error with `console.error` (`Error: Input/output error`, on
 * every attempt while a disk is full) just before it rejects the commit with that same error, which
 * the store reports as a StoreUnavailableError's cause and the runtime records. So such a print is
 * held for one turn of the event loop and dropped if the store reported its error meanwhile; any
 * other print, and one whose error nobody reported, goes to stderr as before.
 *
 * liblmdb's own C line (`Write error: No space left on device position …`) is written straight to
 * file descriptor 2: it cannot be told from other output without redirecting the process's stderr.
 */

/** Commit errors the store has reported (as a StoreUnavailableError's cause). */
const reported = new WeakSet<object>();
let installed = false;

/** Tells the print filter that the store reported `err`, so lmdb-js's own print of it is dropped. */
export function reportedCommitError(err: unknown): void {
  if (typeof err === 'object' && err !== null) reported.add(err);
}

/** An error lmdb-js made of a failed write's status (a numeric code, thrown in its write module). */
function fromLmdbWrite(err: unknown): err is Error {
  if (!(err instanceof Error) || typeof (err as { code?: unknown }).code !== 'number') return false;
  const frame = err.stack?.split('\n').find((l) => l.trimStart().startsWith('at '));
  return frame !== undefined && /[\\/]lmdb[\\/]write\.js:\d+/.test(frame);
}

/** Installs the filter on `console.error` (once per process). */
export function quietReportedCommitErrors(): void {
  if (installed) return;
  installed = true;
  const print = console.error;
  console.error = function (this: Console, ...args: unknown[]): void {
    const [err] = args;
    if (args.length !== 1 || !fromLmdbWrite(err)) return void print.apply(this, args);
    setImmediate(() => {
      if (!reported.has(err)) print.apply(this, args);
    });
  };
}
