import t from 'tap';
import { abortable, whenAborted } from './index.js';

t.test('abortable — settles as the work does, or with the signal’s reason as soon as it aborts', async (t) => {
  const signal = new AbortController().signal;
  t.equal(await abortable(Promise.resolve(42), signal), 42, 'the work’s value');
  const failed = new Error('the work failed');
  t.equal(await abortable(Promise.reject(failed), signal).catch((e: unknown) => e), failed, 'the work’s error');

  const pending = new Promise<number>(() => undefined); // work that never ends, such as a request to a hung server
  const during = new AbortController();
  const result = abortable(pending, during.signal).catch((e: unknown) => e);
  during.abort(new Error('stopping'));
  t.equal(await result, during.signal.reason, 'aborted while the work runs: its reason');

  const late = Promise.reject(new Error('failed after the abort'));
  const before = new AbortController();
  before.abort(new Error('stopped before'));
  t.equal(await abortable(late, before.signal).catch((e: unknown) => e), before.signal.reason, 'aborted before: its reason; the work’s own failure is dropped, not left unhandled');
});

t.test('whenAborted — runs once at the abort, at once when the signal already aborted, never after its remover', async (t) => {
  const runs: string[] = [];
  const later = new AbortController();
  whenAborted(later.signal, () => runs.push('later'));
  const removed = new AbortController();
  whenAborted(removed.signal, () => runs.push('removed'))();
  const before = new AbortController();
  before.abort();
  whenAborted(before.signal, () => runs.push('already')); // a listener alone would never fire here
  t.same(runs, ['already'], 'an aborted signal runs it at once');
  later.abort();
  later.abort();
  removed.abort();
  t.same(runs, ['already', 'later'], 'once at the abort; not after its remover');
});
