import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Probe } from '@probemesh/runtime';
import { subjects } from '@probemesh/model';
import { freeTcpPort, startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { MergedWindows, MeshNode, natsAuthorization } from './index.js';

t.test('leaf node — a site probe with a restricted user on a leaf server reaches a subscriber and a probe on the hub', async (t) => {
  const leafPort = await freeTcpPort();
  const hub = await startNats({ name: 'hub', jsDomain: 'hub', config: `leafnodes { listen: "127.0.0.1:${leafPort}" }` });
  t.teardown(() => hub.remove());
  // The site's leaf server has no JetStream of its own: its probes use the hub's (domain "hub"),
  // and its probe user may publish only under its own id, with the hub domain's JetStream API.
  const users = natsAuthorization([{ user: 'site1-probe', password: 's1' }], { user: 'ops', password: 'ops' }, 'hub');
  const leaf = await startNats({ name: 'site1', jetstream: false, config: `${users}\nleafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ] }` });
  t.teardown(() => leaf.remove());

  const dirs = await Promise.all([tempDir(), tempDir()]);
  t.teardown(() => Promise.all(dirs.map((d) => d.remove())));
  const site = await Probe.start({ id: 'site1-probe', dataDir: dirs[0]!.path, connectors: [] });
  t.teardown(() => site.stop());
  const central = await Probe.start({ id: 'central', dataDir: dirs[1]!.path, connectors: [] });
  t.teardown(() => central.stop());

  const ops = await connect({ servers: hub.url });
  t.teardown(() => ops.close());
  const got: string[] = [];
  ops.subscribe(subjects.alerts, { callback: (_e, m) => void got.push(m.subject) });
  await ops.flush();

  // The site probe measured in a window two ahead; its partial crosses the leaf link to the hub's coordinator.
  const W = 1000;
  const F = Math.floor(Date.now() / W) * W + 2 * W;
  await site.store.append([
    { indicator: 'rack_power', device: 'r1', ts: F + 100, datum: 1200 },
    { indicator: 'rack_power', device: 'r2', ts: F + 200, datum: 1800 },
  ]);
  const merged = new MergedWindows(1);
  merged.attach(central.store);

  // The site probe may join before the leaf links to the hub: its JetStream steps retry until it does.
  const siteNode = await MeshNode.start(
    { id: 'site1-probe', role: 'delegated', parent: 'central', nats: { servers: [leaf.url], jsDomain: 'hub', user: 'site1-probe', pass: 's1' }, heartbeatMs: 200, store: site.store, partials: { indicators: ['rack_power'], windowMs: W, graceMs: 200 } },
    site,
  );
  t.teardown(() => siteNode.stop());
  const centralNode = await MeshNode.start({ id: 'central', role: 'coordinator', nats: { servers: [hub.url] }, heartbeatMs: 200, store: central.store, merged, children: ['site1-probe'] }, central);
  t.teardown(() => centralNode.stop());

  await site.put('indicators', { id: 'temp', kind: 'static', value: 41 });
  await site.put('rules', { id: 'r', indicators: ['temp'], period: '1h', decisions: [{ id: 'hot', when: 'temp > 40', severity: 'critical' }] });
  await site.tickNow('r');
  await waitUntil('alert crossed the leaf link', () => got.includes(subjects.alert('critical', 'site1-probe', 'r')), 15_000);
  t.pass('the alert went site probe → leaf → hub (JetStream PM_ALERTS on the hub) → subscriber');
  const r = await centralNode.forward('site1-probe', { indicator: 'temp', mode: 'count' });
  t.same(r, { mode: 'count', count: 1 }, 'the hub probe queried the site probe across the leaf link');
  await waitUntil('membership across the link', () => centralNode.membership().some((m) => m.probe === 'site1-probe'), 10_000);
  t.pass('heartbeats cross the leaf link');
  await waitUntil('the site partial merged on the hub', () => merged.get('rack_power', F) !== undefined, 15_000);
  const w = merged.get('rack_power', F)!;
  t.same([w.count, w.sum, w.min, w.max, w.devices, w.total], [2, 3000, 1200, 1800, 2, 3000], "the hub's coordinator merged the site's window across the leaf link");
});
