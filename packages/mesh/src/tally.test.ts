import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Value } from '@probemesh/model';
import { Store } from '@probemesh/store';
import { partialOf } from './sender.js';
import { Tally } from './tally.js';

const W = 10_000;
const T0 = 1_700_000_000_000; // a window edge

t.test('tally — a window heard whole is the partial the store gives; others are left to the store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pm-tally-'));
  const store = Store.open({ path: dir });
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await store.append([{ indicator: 'power', device: 'a', ts: T0 + 5, datum: 7 }]); // before the tally: its window is the store's
  const tally = new Tally(store, new Set(['power', 'temp']), W, T0 + 6);
  t.teardown(() => tally.stop());
  const at = (w: number, device: string, datum: number | string, instance?: string): Value => ({ indicator: 'power', device, ts: T0 + w * W + 1 + (instance ? Number(instance) : 0), datum, ...(instance ? { instance } : {}), rule: 'r' });
  await store.append([at(1, 'a', 10.5, '1'), at(1, 'a', -3, '2'), at(1, 'b', 4), at(1, 'c', 'text')]);
  await store.append([at(2, 'a', 1), at(3, 'b', 2)]);
  await store.append([{ indicator: 'cpu', device: 'a', ts: T0 + W, datum: 99 }]); // not a listed indicator
  await store.append([at(3, 'b', 5)]); // replaces window 3's value of b: window 3 goes to the store
  for (const w of [1, 2, 4]) {
    const start = T0 + w * W;
    t.same(tally.partial('p', 'g', 'power', start), partialOf(store, 'p', 'g', 'power', start, start + W), `window ${w} as the store gives it`);
  }
  t.same(tally.partial('p', 'g', 'power', T0 + W), { probe: 'p', indicator: 'power', group: 'g', windowStart: T0 + W, windowEnd: T0 + 2 * W, count: 3, sum: 11.5, min: -3, max: 10.5, devices: 2 }, 'numbers only; devices that sent one');
  t.equal(tally.partial('p', 'g', 'power', T0), undefined, 'a window that began before the tally');
  t.equal(tally.partial('p', 'g', 'power', T0 + 3 * W), undefined, 'a window with a replaced value');
  tally.forget(T0 + 2 * W);
  t.equal(tally.partial('p', 'g', 'power', T0 + 2 * W), undefined, 'a window let go (sent) is left to the store');
  t.ok(tally.partial('p', 'g', 'power', T0 + 4 * W), 'a later one is still answered');
});

t.test('tally — keeps at most 360 windows; older ones are read from the store', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pm-tally-'));
  const store = Store.open({ path: dir });
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const tally = new Tally(store, new Set(['power']), W, T0 - 1);
  t.teardown(() => tally.stop());
  const values: Value[] = [];
  for (let w = 0; w < 400; w++) values.push({ indicator: 'power', ts: T0 + w * W, datum: w });
  await store.append(values);
  t.equal(tally.partial('p', '', 'power', T0 + 39 * W), undefined, 'the 40 oldest windows were let go');
  t.same(tally.partial('p', '', 'power', T0 + 40 * W), partialOf(store, 'p', '', 'power', T0 + 40 * W, T0 + 41 * W), 'the oldest kept');
  t.same(tally.partial('p', '', 'power', T0 + 399 * W), partialOf(store, 'p', '', 'power', T0 + 399 * W, T0 + 400 * W), 'the newest');
});
