import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { httpConnector } from '@probemesh/connector-http';
import { Probe } from '@probemesh/runtime';
import { streams, subjects } from '@probemesh/model';
import { startJsonDevice, startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { MeshNode } from './index.js';

/** A real probe reading a real local HTTP device whose temperature the test sets. */
async function probeWithDevice(t: Test, id: string) {
  const device = { temp: 20 };
  const dev = await startJsonDevice(() => ({ temp: device.temp }));
  t.teardown(() => dev.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start(
    { id, dataDir: dir.path, connectors: [httpConnector] },
    {
      devices: [{ id: 'room', address: '127.0.0.1', protocols: { http: { baseUrl: dev.url } } }],
      indicators: [{ id: 'temp', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.temp' } }],
      rules: [{ id: 'hot', indicators: ['temp'], targets: { devices: ['room'] }, period: '1h', decisions: [{ id: 'over', when: 'temp > 30', severity: 'critical', indicator: 'temp' }] }],
    },
  );
  t.teardown(() => probe.stop());
  return { probe, device };
}

t.test('mesh — an alert reaches a plain NATS subscriber once; queries reach another probe', async (t) => {
  const server = await startNats();
  t.teardown(() => server.remove());
  const a = await probeWithDevice(t, 'site-a');
  const b = await probeWithDevice(t, 'site-b');
  const nodeA = await MeshNode.start({ id: 'site-a', role: 'delegated', parent: 'top', nats: { servers: [server.url] }, heartbeatMs: 200 }, a.probe);
  t.teardown(() => nodeA.stop());
  const nodeB = await MeshNode.start({ id: 'site-b', role: 'coordinator', nats: { servers: [server.url] }, heartbeatMs: 200 }, b.probe);
  t.teardown(() => nodeB.stop());

  const operator = await connect({ servers: server.url });
  t.teardown(() => operator.close());
  const seen: string[] = [];
  const sub = operator.subscribe(subjects.alerts, { callback: (_e, m) => void seen.push(`${m.subject} ${(m.json() as { state: string }).state}`) });
  await operator.flush();

  for (const v of [25, 35, 36, 20]) {
    a.device.temp = v;
    await a.probe.tickNow('hot');
  }
  await waitUntil('two alert transitions', () => seen.length >= 2 && nodeA.published === 2, 10_000);
  // A plain subscriber gets what PM_ALERTS stored, once each: two stored, two received.
  const { jetstreamManager } = await import('@nats-io/jetstream');
  t.equal((await (await jetstreamManager(operator)).streams.info(streams.alerts)).state.messages, 2);
  sub.unsubscribe();
  t.same(seen, ['pm.alert.critical.site-a.hot firing', 'pm.alert.critical.site-a.hot resolved'], 'firing and resolved, once each, on the contract subject');

  const r = await nodeB.forward('site-a', { indicator: 'temp', mode: 'mean' });
  t.same(r, { mode: 'mean', value: 29, count: 4 }, 'site-b asked site-a over pm.query.site-a');
  await t.rejects(nodeB.forward('site-a', { indicator: 'temp', mode: 'mean', colour: 'red' } as never), { name: 'ValidationError' }, 'a bad query is refused by the probe that got it');
  await t.rejects(nodeB.forward('nobody', { mode: 'count' }, 1000), /no probe answers|timed out/, 'a gone probe is a clear error');

  await waitUntil('membership', () => nodeB.membership().length === 2, 5000);
  const [ma] = nodeB.membership();
  t.equal(ma?.probe, 'site-a');
  t.equal(ma?.parent, 'top');
  t.equal(ma?.rules[0]?.rule, 'hot');
});

t.test('mesh — alerts raised while NATS is down are delivered when it returns, none twice', async (t) => {
  const server = await startNats();
  t.teardown(() => server.remove());
  const a = await probeWithDevice(t, 'site-a');
  const node = await MeshNode.start({ id: 'site-a', role: 'delegated', nats: { servers: [server.url] } }, a.probe);
  t.teardown(() => node.stop());
  await server.stop();
  for (const v of [35, 20, 40]) {
    a.device.temp = v;
    await a.probe.tickNow('hot');
  }
  t.equal(a.probe.ruleStates()[0]?.errors, 0, 'the probe kept measuring');
  t.equal(node.pending, 3, 'the alerts wait in the outbox');
  const again = await server.restart();
  t.teardown(() => again.remove());
  await waitUntil('outbox drained', () => node.pending === 0, 20_000);
  const nc = await connect({ servers: again.url });
  t.teardown(() => nc.close());
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streams.alerts);
  t.equal(info.state.messages, 3, 'PM_ALERTS holds firing, resolved, firing: each once');
});

t.test('mesh — alerts still owed when a probe stops are delivered by its next run, once', async (t) => {
  const server = await startNats();
  t.teardown(() => server.remove());
  const a = await probeWithDevice(t, 'site-a');
  const first = await MeshNode.start({ id: 'site-a', role: 'delegated', nats: { servers: [server.url] }, store: a.probe.store }, a.probe);
  await server.stop();
  a.device.temp = 35;
  await a.probe.tickNow('hot');
  t.equal(first.pending, 1, 'the alert is owed');
  await first.stop(); // the probe goes away with the alert unsent
  const again = await server.restart();
  t.teardown(() => again.remove());
  const second = await MeshNode.start({ id: 'site-a', role: 'delegated', nats: { servers: [again.url] }, store: a.probe.store }, a.probe);
  t.teardown(() => second.stop());
  await waitUntil('owed alert delivered', () => second.published === 1, 15_000);
  const nc = await connect({ servers: again.url });
  t.teardown(() => nc.close());
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const info = await (await jetstreamManager(nc)).streams.info(streams.alerts);
  t.equal(info.state.messages, 1, 'PM_ALERTS holds the firing alert once');
  t.equal(second.pending, 0, 'nothing left owed');
});

t.test('mesh — stream limits come from the configuration of a probe that sets them; others leave them alone', async (t) => {
  const server = await startNats();
  t.teardown(() => server.remove());
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: server.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const limits = async () => Promise.all([streams.alerts, streams.partials].map(async (s) => ((c) => [c.max_age / 1e9, c.max_bytes])((await jsm.streams.info(s)).config)));

  const a = await probeWithDevice(t, 'edge-a');
  const na = await MeshNode.start({ id: 'edge-a', role: 'delegated', nats: { servers: [server.url] } }, a.probe);
  t.same(await limits(), [[604800, -1], [604800, -1]], 'created with 7 days and no size limit');
  await na.stop();
  const b = await probeWithDevice(t, 'edge-b');
  const nb = await MeshNode.start({ id: 'edge-b', role: 'coordinator', nats: { servers: [server.url] }, streams: { maxAgeMs: 3_600_000, maxBytes: 64 * 1024 ** 2 } }, b.probe);
  t.teardown(() => nb.stop());
  t.same(await limits(), [[3600, 67108864], [3600, 67108864]], 'a probe configured with limits sets them');
  const c = await probeWithDevice(t, 'edge-c');
  const nc2 = await MeshNode.start({ id: 'edge-c', role: 'delegated', nats: { servers: [server.url] } }, c.probe);
  t.teardown(() => nc2.stop());
  t.same(await limits(), [[3600, 67108864], [3600, 67108864]], 'a probe without limits leaves them as they are');
});
