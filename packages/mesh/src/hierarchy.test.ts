import t, { type Test } from 'tap';
import { Probe } from '@probemesh/runtime';
import { startNats, tempDir, waitUntil, type NatsServer } from '@probemesh/testkit';
import { MergedWindows, MeshNode, meshConnector } from './index.js';

const W = 1000;

async function probe(t: Test, id: string, merged?: MergedWindows) {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const p = await Probe.start({ id, dataDir: dir.path, connectors: merged ? [meshConnector(merged)] : [] });
  t.teardown(() => p.stop());
  merged?.attach(p.store);
  return { p, dir };
}

async function join(t: Test, nats: NatsServer, id: string, p: Probe, extra: Partial<Parameters<typeof MeshNode.start>[0]>) {
  const node = await MeshNode.start({ id, role: extra.merged ? 'coordinator' : 'delegated', nats: { servers: [nats.url] }, store: p.store, ...extra }, p);
  t.teardown(() => node.stop());
  return node;
}

t.test('mesh — three levels merge count-weighted to the digit; a restarted coordinator counts nothing twice', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const d1 = await probe(t, 'net1');
  const d2 = await probe(t, 'net2');
  const midMerged = new MergedWindows();
  const mid = await probe(t, 'dc', midMerged);
  const topMerged = new MergedWindows();
  const top = await probe(t, 'group', topMerged);

  // The window the delegates will report: two ahead, so every sender is running before it closes.
  const F = Math.floor(Date.now() / W) * W + 2 * W;
  await d1.p.store.append([
    { indicator: 'server_power', device: 's1', ts: F + 10, datum: 100 },
    { indicator: 'server_power', device: 's2', ts: F + 20, datum: 200 },
  ]);
  await d2.p.store.append([{ indicator: 'server_power', device: 's3', ts: F + 30, datum: 300 }]);

  await join(t, nats, 'group', top.p, { merged: topMerged, children: ['dc'] });
  let midNode = await join(t, nats, 'dc', mid.p, { merged: midMerged, children: ['net1', 'net2'], partials: { indicators: ['it_power'], windowMs: W, graceMs: 200 } });
  await join(t, nats, 'net1', d1.p, { parent: 'dc', partials: { indicators: ['server_power'], windowMs: W, graceMs: 200 } });
  await join(t, nats, 'net2', d2.p, { parent: 'dc', partials: { indicators: ['server_power'], windowMs: W, graceMs: 200 } });

  await waitUntil('both delegates merged at dc', () => midMerged.get('server_power', F)?.sources.length === 2, 15_000);
  const w = midMerged.get('server_power', F)!;
  t.same([w.count, w.sum, w.min, w.max, w.devices, w.total], [3, 600, 100, 300, 3, 600]);
  t.equal(w.sum / w.count, 200, 'the mean is count-weighted (200), not a mean of means (225)');

  // dc's rule reads the merged window like any indicator and computes with it.
  await mid.p.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await mid.p.put('indicators', { id: 'it_mean', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'mean' } });
  await mid.p.put('indicators', { id: 'facility', kind: 'static', value: 900 });
  await mid.p.put('indicators', { id: 'pue', kind: 'calculated', formula: 'facility / it_power' });
  await mid.p.put('rules', { id: 'site', indicators: ['it_power', 'it_mean', 'pue'], period: '1h' });
  await mid.p.tickNow('site');
  const last = (p: Probe, indicator: string) => (p.query({ indicator, last: 1 }) as { records: Array<{ datum: number }> }).records[0]?.datum;
  t.equal(last(mid.p, 'it_power'), 600);
  t.equal(last(mid.p, 'it_mean'), 200);
  t.equal(last(mid.p, 'pue'), 1.5, 'site PUE at the coordinator');

  // dc is itself a delegate: its it_power windows reach the top.
  await waitUntil('dc merged at the top', () => topMerged.latest('it_power') !== undefined, 15_000);
  const up = topMerged.latest('it_power')!;
  t.same([up.count, up.sum, up.sources], [1, 600, ['dc/']], 'the top merged what dc computed');

  // Restart the coordinator: the consumer resumes, the saved merges stop anything counting twice.
  await midNode.stop();
  const again = new MergedWindows();
  again.attach(mid.p.store);
  midNode = await MeshNode.start({ id: 'dc', role: 'coordinator', nats: { servers: [nats.url] }, store: mid.p.store, merged: again, children: ['net1', 'net2'] }, mid.p);
  t.teardown(() => midNode.stop());
  await new Promise((r) => setTimeout(r, 1000));
  const after = again.get('server_power', F)!;
  t.same([after.count, after.sum, after.sources.length], [3, 600, 2], 'same totals after a restart: nothing lost, nothing twice');
  t.equal(midNode.merges, 0, 'nothing new was merged on restart');
});
