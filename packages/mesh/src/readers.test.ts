import t from 'tap';
import { MergedWindows } from './index.js';
import { testProbe } from './probe.fixture.js';

type Records = { records: Array<{ ts: number; datum: number; rule?: string }> };
const W = 10_000;
const T0 = Math.floor(Date.now() / W) * W - 10 * W;
const partial = (probe: string, windowStart: number, sum: number) => ({ probe, indicator: 'server_power', group: '', windowStart, windowEnd: windowStart + W, count: 1, sum, min: sum, max: sum, devices: 1 });

t.test('mesh connector — two rules reading the same merged indicator each get every window, once', async (t) => {
  const merged = new MergedWindows(1);
  const site = await testProbe(t, 'site', { merged });
  await site.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await site.put('rules', { id: 'energy', indicators: ['it_power'], period: '1h' });
  await site.put('rules', { id: 'report', indicators: ['it_power'], period: '1h' });
  await merged.mergeAll([partial('net1', T0, 600), partial('net1', T0 + W, 700)]);
  await site.tickNow('energy');
  await site.tickNow('report');
  await merged.mergeAll([partial('net1', T0 + 2 * W, 800)]);
  await site.tickNow('report');
  await site.tickNow('energy');
  await site.tickNow('energy'); // no new window: nothing stored
  const of = (rule: string) => (site.query({ indicator: 'it_power', rule, limit: 100 }) as Records).records.map((r) => [r.ts - T0, r.datum]);
  const every = [
    [0, 600],
    [W, 700],
    [2 * W, 800],
  ];
  t.same(of('energy'), every, 'the first rule stored every window under its own start');
  t.same(of('report'), every, 'so did the second: no rule takes windows from another');
});
