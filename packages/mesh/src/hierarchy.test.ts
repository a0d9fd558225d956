import t, { type Test } from 'tap';
import { Probe } from '@probemesh/runtime';
import { subjects } from '@probemesh/model';
import { startNats, waitUntil, type NatsServer } from '@probemesh/testkit';
import { MergedWindows, MeshNode } from './index.js';
import { testProbe } from './probe.fixture.js';

const W = 1000;

const probe = async (t: Test, id: string, merged?: MergedWindows) => ({ p: await testProbe(t, id, merged ? { merged } : {}) });

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

  // dc is itself a delegate: it relays its it_power windows (read from its merged windows) to the top.
  await waitUntil('dc merged at the top', () => topMerged.get('it_power', F)?.count === 1, 15_000);
  const up = topMerged.get('it_power', F)!;
  t.same([up.count, up.sum, up.sources], [1, 600, ['dc/']], 'the top merged what dc computed for that window');

  // Restart the coordinator: the consumer resumes, the saved merges stop anything counting twice.
  await midNode.stop();
  const again = new MergedWindows();
  again.attach(mid.p.store);
  const before = midNode.merges;
  midNode = await MeshNode.start({ id: 'dc', role: 'coordinator', nats: { servers: [nats.url] }, store: mid.p.store, merged: again, children: ['net1', 'net2'] }, mid.p);
  t.teardown(() => midNode.stop());
  await waitUntil('the restarted consumer merges new windows', () => midNode.merges >= 4, 15_000);
  const after = again.get('server_power', F)!;
  t.same([after.count, after.sum, after.sources.length], [3, 600, 2], 'same totals after a restart: nothing lost, nothing twice');
  t.ok(before > 0, 'the first run merged');
});

t.test('mesh — an alert at the bottom reaches a subscriber and both coordinators once; a query goes two levels down; NATS restarts while delegates measure', async (t) => {
  let nats = await startNats();
  t.teardown(() => nats.remove());
  const net1 = await probe(t, 'net1');
  const dcMerged = new MergedWindows();
  const dc = await probe(t, 'dc', dcMerged);
  const topMerged = new MergedWindows();
  const top = await probe(t, 'top', topMerged);
  const topNode = await join(t, nats, 'top', top.p, { merged: topMerged, children: ['dc'] });
  const dcNode = await join(t, nats, 'dc', dc.p, { parent: 'top', merged: dcMerged, children: ['net1'] });
  await join(t, nats, 'net1', net1.p, { parent: 'dc', partials: { indicators: ['server_power'], windowMs: W, graceMs: 200 } });
  // A probe of another branch: its alerts reach the top's book but not dc's subtree view.
  const other = await probe(t, 'lab');
  await join(t, nats, 'lab', other.p, { parent: 'top' });

  const { connect } = await import('@nats-io/transport-node');
  const sub = await connect({ servers: nats.url });
  const seen: string[] = [];
  sub.subscribe(subjects.alerts, { callback: (_e, m) => void seen.push(m.subject) });
  await sub.flush();

  await net1.p.put('indicators', { id: 'inlet_temp', kind: 'static', value: 45 });
  await net1.p.put('rules', { id: 'thermal', indicators: ['inlet_temp'], period: '1h', decisions: [{ id: 'hot', when: 'inlet_temp > 40', severity: 'critical' }] });
  await net1.p.tickNow('thermal');
  await waitUntil('alert at the top', () => topNode.meshAlerts().length === 1 && dcNode.meshAlerts().length === 1 && seen.length === 1, 15_000);
  await net1.p.tickNow('thermal'); // still holding: no new transition, nothing more to publish
  t.equal(net1.p.alerts().length, 1, 'one transition at the bottom');
  t.same(seen, [subjects.alert('critical', 'net1', 'thermal')], 'the plain subscriber got it once');
  t.match(topNode.meshAlerts(), [{ probe: 'net1', rule: 'thermal', decision: 'hot', state: 'firing', severity: 'critical' }], 'the top coordinator holds it');
  t.equal(topNode.alertsReceived, 1, 'received once at the top');
  t.equal(dcNode.alertsReceived, 1, 'received once at dc');
  await other.p.put('indicators', { id: 'door_open', kind: 'static', value: 1 });
  await other.p.put('rules', { id: 'door', indicators: ['door_open'], period: '1h', decisions: [{ id: 'open', when: 'door_open == 1', severity: 'warning' }] });
  await other.p.tickNow('door');
  await waitUntil('lab alert at the top', () => topNode.meshAlerts().length === 2, 15_000);
  t.same(topNode.meshAlerts().map((a) => a.probe).sort(), ['lab', 'net1'], 'the top sees both branches (net1 → dc → top, lab → top)');
  t.same(dcNode.meshAlerts().map((a) => a.probe), ['net1'], "dc lists only its subtree's alerts");
  t.same(dcNode.meshAlerts({ scope: 'mesh' }).map((a) => a.probe).sort(), ['lab', 'net1'], 'scope mesh: every probe');
  await sub.close();

  // Two levels down, over NATS request/reply.
  t.same(await topNode.forward('net1', { indicator: 'inlet_temp', last: 1 }), { mode: 'records', records: [{ indicator: 'inlet_temp', ts: (net1.p.query({ indicator: 'inlet_temp', last: 1 }) as { records: Array<{ ts: number }> }).records[0]!.ts, datum: 45 }] }, 'top queried net1 through the mesh');

  // net1 measures every 50 ms; NATS goes away for about three windows and comes back.
  let measuring = true;
  const firstWindow = Math.floor(Date.now() / W) * W + W;
  const loop = (async () => {
    for (let i = 0; measuring && i < 400; i++) {
      await net1.p.store.append([{ indicator: 'server_power', device: 's1', ts: Date.now(), datum: 100 + (i % 7) }]);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const windowsSince = (from: number) => new Set((net1.p.query({ indicator: 'server_power', from }) as { records: Array<{ ts: number }> }).records.map((r) => Math.floor(r.ts / W))).size;
  await waitUntil('a window merged before the outage', () => dcMerged.list({ indicator: 'server_power' }).some((w) => w.windowStart >= firstWindow && w.count > 0), 15_000);
  await nats.stop();
  const downAt = Date.now();
  await waitUntil('three windows measured while NATS is away', () => windowsSince(downAt) >= 4, 15_000);
  const upAt = Date.now();
  nats = await nats.restart();
  await waitUntil('two windows measured since', () => windowsSince(upAt) >= 3, 15_000);
  measuring = false;
  await loop;
  const lastWindow = Math.floor(Date.now() / W) * W - W; // the last window that had samples and is closed (after grace)
  const windows: number[] = [];
  for (let s = firstWindow; s < lastWindow; s += W) windows.push(s);
  await waitUntil('every window merged at dc', () => windows.every((s) => dcMerged.get('server_power', s) !== undefined), 30_000);
  for (const s of windows) {
    const local = net1.p.store.window({ indicator: 'server_power' }, s, s + W);
    const m = dcMerged.get('server_power', s)!;
    if (local.count !== m.count || local.sum !== m.sum) t.fail(`window ${s}: net1 has ${local.count}/${local.sum}, dc merged ${m.count}/${m.sum}`);
  }
  t.pass(`${windows.length} windows across the NATS restart merged at dc with net1's exact counts and sums: none lost, none twice`);
  t.ok(windows.filter((s) => s + W > downAt && s + W < upAt).length >= 2, 'windows that closed while NATS was away are among them');
});

t.test('mesh — a coordinator that joins late shows what fired before it came', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const d = await probe(t, 'pdu7');
  const pdu7 = await join(t, nats, 'pdu7', d.p, { parent: 'hall' });
  await d.p.put('indicators', { id: 'amps', kind: 'static', value: 31 });
  await d.p.put('rules', { id: 'load', indicators: ['amps'], period: '1h', decisions: [{ id: 'over', when: 'amps > 30', severity: 'critical' }] });
  await d.p.tickNow('load');
  const hallMerged = new MergedWindows();
  const hall = await probe(t, 'hall', hallMerged);
  await waitUntil('the alert is in PM_ALERTS before the coordinator exists', () => pdu7.published === 1, 15_000);
  const hallNode = await join(t, nats, 'hall', hall.p, { merged: hallMerged });
  await waitUntil('the earlier alert listed', () => hallNode.meshAlerts({ scope: 'mesh' }).length === 1, 15_000);
  t.match(hallNode.meshAlerts({ scope: 'mesh' }), [{ probe: 'pdu7', decision: 'over', state: 'firing' }], 'listed as firing');
});
