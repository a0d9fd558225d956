import t from 'tap';
import { startNats, waitUntil } from '@probemesh/testkit';
import { MergedWindows, MeshNode, type MeshOptions } from './index.js';
import { testProbe } from './probe.fixture.js';

type Records = { records: Array<{ ts: number; datum: number; incomplete?: true }> };

t.test('never a wrong figure — a child that is gone: its windows are computed without it and marked incomplete, and so is the PUE over them; when it comes back with its backlog they are stored again under their own times, complete', async (t) => {
  const W = 500;
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const merged = new MergedWindows();
  const site = await testProbe(t, 'site', { merged });
  await site.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await site.put('indicators', { id: 'complete', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'complete' } });
  await site.put('indicators', { id: 'facility', kind: 'static', value: 1000 });
  await site.put('indicators', { id: 'pue', kind: 'calculated', formula: 'facility / it_power' });
  await site.put('rules', { id: 'site', indicators: ['it_power', 'complete', 'pue'], period: '1h' });
  const common = { nats: { servers: [nats.url] }, heartbeatMs: 200 } satisfies Partial<MeshOptions>;
  const siteNode = await MeshNode.start({ id: 'site', role: 'coordinator', store: site.store, merged, children: ['a', 'b'], ...common }, site);
  t.teardown(() => siteNode.stop());

  // a: 2 servers, b: 3 servers, 100 W each; their probes measure all along (b's link to the mesh goes away, not b).
  const probes = { a: await testProbe(t, 'a'), b: await testProbe(t, 'b') };
  const join = async (id: 'a' | 'b') => {
    const node = await MeshNode.start({ id, role: 'delegated', parent: 'site', store: probes[id].store, partials: { indicators: ['server_power'], windowMs: W }, ...common }, probes[id]);
    t.teardown(() => node.stop());
    return node;
  };
  await join('a');
  const b = await join('b');
  let measuring = true;
  const loop = (async () => {
    while (measuring) {
      const ts = Date.now();
      await probes.a.store.append([0, 1].map((k) => ({ indicator: 'server_power', device: `a${k}`, ts, datum: 100 })));
      await probes.b.store.append([0, 1, 2].map((k) => ({ indicator: 'server_power', device: `b${k}`, ts, datum: 100 })));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.teardown(async () => {
    measuring = false;
    await loop;
  });
  const at = (indicator: string, ts: number) => (site.query({ indicator, from: ts, to: ts + 1 }) as Records).records.map((r) => r.datum);
  const marked = (indicator: string, ts: number) => (site.query({ indicator, from: ts, to: ts + 1 }) as Records).records.map((r) => r.incomplete ?? false);

  await waitUntil('a complete window with values', () => merged.list({ indicator: 'server_power' }).some((w) => w.state === 'complete' && w.count > 0), 15_000);
  await b.stop();
  const goneAt = Date.now();
  await waitUntil('b counts as gone, and windows after it are computed without it', () => merged.list({ indicator: 'server_power' }).some((w) => w.windowStart > goneAt && w.state === 'incomplete' && w.count > 0), 15_000);
  t.equal(siteNode.membership().find((m) => m.probe === 'b')?.stale, true, 'gone by its heartbeats');
  const w = merged.list({ indicator: 'server_power' }).find((x) => x.windowStart > goneAt && x.state === 'incomplete' && x.count > 0)!;
  t.match(w, { sources: ['a/'], missing: ['b'], state: 'incomplete' }, 'the window says who is missing');
  await site.tickNow('site');
  t.same(at('it_power', w.windowStart), [200], "stored from a alone, under the window's start");
  t.same(at('complete', w.windowStart), [0], 'marked incomplete');
  t.same(marked('it_power', w.windowStart), [true], 'the value itself says so');
  t.same([at('pue', w.windowStart), marked('pue', w.windowStart)], [[5], [true]], 'a PUE from it (1000 / 200) is incomplete too');

  await join('b'); // back: it sends what it owes from its cursor
  await waitUntil('the window recomputed with b', () => merged.get('server_power', w.windowStart)?.state === 'complete', 15_000);
  await site.tickNow('site');
  t.same(at('it_power', w.windowStart), [500], 'stored again under the same time, now with b: one value, not two');
  t.same(at('complete', w.windowStart), [1], 'marked complete');
  t.same([marked('it_power', w.windowStart), at('pue', w.windowStart), marked('pue', w.windowStart)], [[false], [2], [false]], 'the PUE computed again under the same time (1000 / 500), without the mark');
  const totals = (site.query({ indicator: 'it_power', from: 0, limit: 10_000 }) as Records).records;
  t.equal(new Set(totals.map((r) => r.ts)).size, totals.length, 'never the same window twice');
  t.ok(
    totals.every((r) => r.ts % W === 0),
    "every figure under its window's start",
  );
});
