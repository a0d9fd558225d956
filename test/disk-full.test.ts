import t from 'tap';
import { join } from 'node:path';
import { StoreUnavailableError } from '@probemesh/core';
import { Store } from '@probemesh/store';
import { tempDir } from '@probemesh/testkit';
import { diskFullScenario, fillUp, mountTmpfs } from './disk-full.js';

t.test('disk full — rules are marked store-unavailable and alert once, the probe keeps answering, writes resume when space returns, nothing committed is lost', { skip: process.getuid?.() !== 0 && 'mounting a tmpfs needs root' }, async (t) => {
  const r = await diskFullScenario((fn) => t.teardown(fn));
  t.same(
    r.held.map((s) => [s.rule, s.status]),
    [
      ['bulk', 'store-unavailable'],
      ['steady', 'store-unavailable'],
    ],
    'both storing rules are marked',
  );
  t.match(r.held[0]?.lastError, /its values are held: the store could not commit/, 'the rule state says why');
  for (const rule of ['bulk', 'steady']) {
    t.ok(r.metrics.includes(`probemesh_rule_up{probe="diskfull",rule="${rule}"} 0`), `/metrics shows ${rule} down (${r.metrics.join('; ')})`);
    t.ok(r.metrics.includes(`probemesh_rule_status{probe="diskfull",rule="${rule}",status="store-unavailable"} 1`), `/metrics says why: ${rule} is store-unavailable`);
  }
  t.ok(r.steadyTicks[1] > r.steadyTicks[0], `rules keep ticking while the disk is full (${r.steadyTicks.join(' → ')})`);
  t.ok(r.healthMs.every((ms) => ms < 5_000), `/health answers while the disk is full (${r.healthMs.map(Math.round).join(', ')} ms)`);
  t.same(
    r.alerts.map((a) => [a.decision, a.state, a.severity]),
    [
      ['unavailable', 'firing', 'critical'],
      ['unavailable', 'resolved', 'critical'],
    ],
    'the store alert fired once and resolved once',
  );
  t.same(r.after, r.before, `every value committed before the disk filled is still there (${JSON.stringify(r.before)})`);
  t.ok(r.alive, 'the probe process never exited');
});

t.test('disk full — a commit that finds no space is a StoreUnavailableError that writes nothing; the same store writes again once space returns', { skip: process.getuid?.() !== 0 && 'mounting a tmpfs needs root' }, async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  await mountTmpfs((fn) => t.teardown(fn), dir.path, 8 * 1024 * 1024);
  const store = Store.open({ path: join(dir.path, 'db') });
  t.teardown(() => store.close());
  const batch = (i: number) => Array.from({ length: 1000 }, (_, k) => ({ indicator: 'x', device: `d${k % 10}`, ts: 1_700_000_000_000 + i * 1000 + k, datum: i + k / 1000 }));
  for (let i = 0; i < 3; i++) await store.append(batch(i));
  const free = await fillUp(dir.path);
  let i = 3;
  let failure: unknown;
  for (; i < 1000 && !failure; i++) await store.append(batch(i)).catch((err: unknown) => (failure = err));
  t.type(failure, StoreUnavailableError, 'the store says it cannot commit');
  t.ok((failure as StoreUnavailableError).retryable, 'and that a retry may succeed');
  t.match((failure as Error).message, /the store could not commit 1000 values: .+ \(nothing of it was written; what was committed before is intact\)/, 'the message says what failed and what it means');
  const committed = i - 1;
  t.same(store.query({ indicator: 'x', mode: 'count' }), { mode: 'count', count: committed * 1000 }, 'every committed batch is whole, nothing of the failed one');
  t.same(store.window({ indicator: 'x' }, 0, Date.now()).count, committed * 1000, 'roll-ups agree');
  await free();
  await store.append(batch(i));
  t.same(store.query({ indicator: 'x', mode: 'count' }), { mode: 'count', count: (committed + 1) * 1000 }, 'writes resume');
});
