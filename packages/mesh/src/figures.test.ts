import t from 'tap';
import type { Value } from '@probemesh/model';
import { MergedWindows } from './index.js';
import { testProbe } from './probe.fixture.js';

const W = 10_000;
const T0 = Math.floor(Date.now() / W) * W - 20 * W;
const partial = (probe: string, windowStart: number, sum: number, revision?: number) => ({
  probe,
  indicator: 'server_power',
  group: '',
  windowStart,
  windowEnd: windowStart + W,
  count: 1,
  sum,
  min: sum,
  max: sum,
  devices: 1,
  ...(revision ? { revision } : {}),
});

t.test('formulas over merged windows — one PUE per window under its start, none at a tick without a new window, computed again under the same time when a late partial changes the window', async (t) => {
  const merged = new MergedWindows(2); // complete once net1 and net2 are in
  const site = await testProbe(t, 'site', { merged });
  await site.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  // The facility meter, as another rule (ups) stores its readings: the one at a window's start is the one that window's PUE takes.
  await site.put('indicators', { id: 'facility_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'facility', stat: 'total' } });
  await site.store.append([1800, 2000, 1900].map((datum, i) => ({ indicator: 'facility_power', device: 'ups', rule: 'ups', ts: T0 + i * W, datum })));
  await site.store.append([{ indicator: 'facility_power', device: 'ups', rule: 'ups', ts: T0 + W / 2, datum: 99_999 }]);
  await site.put('indicators', { id: 'pue', kind: 'calculated', formula: 'facility_power@ups / it_power' });
  await site.put('indicators', { id: 'dcie', kind: 'calculated', formula: '100 / pue' });
  await site.put('rules', { id: 'site', indicators: ['it_power', 'pue', 'dcie'], period: '1h' });
  const at = (indicator: string) => (site.query({ indicator, rule: 'site' }) as { records: Value[] }).records.map((r) => [r.ts - T0, r.datum, r.incomplete ?? false]);

  await merged.mergeAll([partial('net1', T0, 600), partial('net2', T0, 600), partial('net1', T0 + W, 500)]);
  await site.tickNow('site');
  t.same(at('pue'), [[0, 1.5, false]], 'the complete window: 1800 / 1200, under its start; the one still waiting for net2: nothing');
  await site.tickNow('site');
  await site.tickNow('site');
  t.same(at('pue'), [[0, 1.5, false]], 'ticks without a new window store nothing');

  await merged.mergeAll([partial('net2', T0 + W, 500)]);
  await site.tickNow('site');
  t.same(at('pue'), [[0, 1.5, false], [W, 2, false]], 'the next window once complete: 2000 / 1000');

  // A late revision from net1 changes the first window: its figures are computed again under its own time.
  await merged.mergeAll([partial('net1', T0, 900, 1)]);
  await site.tickNow('site');
  t.same(at('it_power'), [[0, 1500, false], [W, 1000, false]]);
  t.same(at('pue'), [[0, 1.2, false], [W, 2, false]], 'replaced under the same time: one PUE per window');
  t.same(at('dcie').map(([ts, d]) => [ts, Number(Number(d).toFixed(9))]), [[0, 83.333333333], [W, 50]], 'and what follows from it');
  t.equal(site.ruleStates().find((s) => s.rule === 'site')?.errors, 0, site.ruleStates().find((s) => s.rule === 'site')?.lastError ?? 'no errors');
});

t.test('relayed windows — one a coordinator computed without a child of its own is incomplete at the level above too, until a complete revision replaces it', async (t) => {
  const merged = new MergedWindows(1);
  const top = await testProbe(t, 'group', { merged });
  await top.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await top.put('indicators', { id: 'complete', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'complete' } });
  await top.put('rules', { id: 'top', indicators: ['it_power', 'complete'], period: '1h' });
  const at = (indicator: string) => (top.query({ indicator }) as { records: Value[] }).records.map((r) => [r.ts - T0, r.datum, r.incomplete ?? false]);

  await merged.mergeAll([{ ...partial('dc', T0, 600, 3), incomplete: true }]);
  t.equal(merged.get('server_power', T0)?.state, 'incomplete', 'GET /mesh/windows says so');
  await top.tickNow('top');
  t.same([at('it_power'), at('complete')], [[[0, 600, true]], [[0, 0, true]]], 'stored marked incomplete');
  await merged.mergeAll([partial('dc', T0, 900, 4)]); // dc's late child came in: dc relays the window again
  await top.tickNow('top');
  t.same([at('it_power'), at('complete')], [[[0, 900, false]], [[0, 1, false]]], 'replaced under the same time, complete');
});
