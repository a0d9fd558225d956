import t, { type Test } from 'tap';
import { join } from 'node:path';
import { StoreUnavailableError } from '@probemesh/core';
import { fillUp, mountTmpfs, tempDir } from '@probemesh/testkit';
import { Store } from './index.js';

/** What console.error writes to stderr from here on, taken instead of written (the filter sits in front of console.error). */
function stderr(t: Test): string[] {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  t.teardown(() => void (process.stderr.write = write));
  return written;
}

t.test('store — on a full disk lmdb-js’s own print of each failed commit is dropped: the store reports that error', { skip: process.getuid?.() !== 0 && 'mounting a tmpfs needs root' }, async (t) => {
  const printed = stderr(t);
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  await mountTmpfs((fn) => t.teardown(fn), dir.path, 8 * 1024 * 1024);
  const store = Store.open({ path: join(dir.path, 'db') });
  t.teardown(() => store.close());
  const batch = (i: number) => Array.from({ length: 1000 }, (_, k) => ({ indicator: 'x', device: `d${k % 10}`, ts: 1_700_000_000_000 + i * 1000 + k, datum: i + k / 1000 }));
  await store.append(batch(0));
  const free = await fillUp(dir.path);
  const failures: unknown[] = [];
  for (let i = 1; i < 1000 && failures.length < 3; i++) await store.append(batch(i)).catch((err: unknown) => failures.push(err));
  await free();
  await new Promise((r) => setImmediate(r)); // the turn a print is held for
  t.equal(failures.length, 3, 'three commits failed');
  t.ok(failures.every((e) => e instanceof StoreUnavailableError && e.cause instanceof Error), 'each reported, with lmdb-js’s error as its cause');
  t.same(printed, [], 'nothing printed for them');
  console.error('another problem');
  t.same(printed, ['another problem\n'], 'any other print goes through at once');
});

t.test('store — an error of lmdb-js’s write module that the store did not report is still printed', async (t) => {
  const printed = stderr(t);
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const store = Store.open({ path: join(dir.path, 'db') });
  t.teardown(() => store.close());
  // Made by hand: lmdb-js prints such an error only when a write fails, and a failure no commit
  // carries cannot be made to happen with a real disk.
  const err = Object.assign(new Error('Input/output error'), { code: 5 });
  err.stack = 'Error: Input/output error\n    at Function.<anonymous> (file:///x/node_modules/lmdb/write.js:516:7)';
  console.error(err);
  t.same(printed, [], 'held for a turn');
  await new Promise((r) => setImmediate(r));
  t.equal(printed.length, 1, 'then printed: nobody reported it');
  t.match(printed[0], /^Error: Input\/output error\n/);
});
