import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import type { Value } from '@probemesh/model';
import { Store, StoreError } from './index.js';

const T0 = 1_700_000_000_000;

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pm-mark-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const v = (ts: number, datum: number, incomplete?: true): Value => ({ indicator: 'it_power', rule: 'site', ts: T0 + ts, datum, ...(incomplete ? { incomplete } : {}) });
const records = (store: Store) => (store.query({ indicator: 'it_power' }) as { records: Value[] }).records.map((r) => [r.ts - T0, r.datum, r.incomplete ?? false]);

t.test('store — the incomplete mark is kept with the value, returned by records, latest, max and min, and gone when a complete value replaces it; figures are unaffected', async (t) => {
  const path = await tempDir(t);
  let store = Store.open({ path });
  t.teardown(() => store.close());
  await store.append([v(0, 3000, true), v(10_000, 12_000), v(20_000, 9000, true)]);
  t.same(records(store), [
    [0, 3000, true],
    [10_000, 12_000, false],
    [20_000, 9000, true],
  ]);
  t.same(store.latest({ indicator: 'it_power' }), v(20_000, 9000, true), 'latest carries it');
  t.same(store.query({ indicator: 'it_power', mode: 'min' }), { mode: 'min', record: v(0, 3000, true) }, 'the min record carries it');
  t.same(store.query({ indicator: 'it_power', mode: 'max' }), { mode: 'max', record: v(10_000, 12_000) }, 'the max record has none');
  t.same(store.query({ indicator: 'it_power', mode: 'mean' }), { mode: 'mean', value: 8000, count: 3 }, 'figures as without marks');

  // The late window comes: the complete figure replaces the incomplete one under the same time.
  await store.append([v(0, 12_000)]);
  t.same(records(store).slice(0, 1), [[0, 12_000, false]], 'one value at that time, without the mark');
  t.same(store.query({ indicator: 'it_power', mode: 'mean' }), { mode: 'mean', value: 11_000, count: 3 }, 'roll-ups exact after the replacement');

  await store.close();
  store = Store.open({ path });
  t.same(records(store), [
    [0, 12_000, false],
    [10_000, 12_000, false],
    [20_000, 9000, true],
  ], 'kept across a reopen');
});

t.test('store — a value without the mark is stored as before marks existed (the bare datum), so stores written before read the same; a bad mark is refused', async (t) => {
  const path = await tempDir(t);
  const store = Store.open({ path });
  await store.append([v(0, 42), v(1000, 7, true), { indicator: 'note', ts: T0, datum: 'text' }]);
  await t.rejects(store.append([v(2000, 1), { ...v(3000, 1), incomplete: 'yes' } as unknown as Value]), StoreError, 'incomplete is true or absent');
  await t.rejects(store.append([{ ...v(3000, 1), incomplete: 'yes' } as unknown as Value]), { message: "indicator 'it_power': incomplete is true or absent, not yes; nothing of this batch was stored" });
  t.same(store.query({ indicator: 'it_power', mode: 'count' }), { mode: 'count', count: 2 }, 'nothing of the refused batches');
  await store.close();
  const raw = open({ path, maxDbs: 8 });
  t.teardown(() => raw.close());
  t.same([...raw.openDB({ name: 'values' }).getRange()].map((e) => e.value), [42, [7, 1], 'text'], 'bare datums (in key order: series, time), the marked one with its flags');
});
