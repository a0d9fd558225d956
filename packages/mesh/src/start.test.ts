import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { streams, subjects } from '@probemesh/model';
import { freeTcpPort, startNats, waitUntil } from '@probemesh/testkit';
import { MergedWindows, MeshConfigError, MeshNode, natsAuthorization } from './index.js';
import { testProbe } from './probe.fixture.js';

const quiet = () => undefined;

const probe = (t: Test, id: string) => testProbe(t, id, { alerting: true });

t.test('start — a wrong password stops the probe with a message naming the server, the user and what to fix', async (t) => {
  const nats = await startNats({ config: natsAuthorization([{ user: 'edge1', password: 'right' }], { user: 'ops', password: 'ops' }) });
  t.teardown(() => nats.remove());
  const p = await probe(t, 'edge1');
  const started = MeshNode.start({ id: 'edge1', role: 'delegated', nats: { servers: [nats.url], user: 'edge1', pass: 'wrong' }, log: quiet }, p);
  await t.rejects(started, MeshConfigError);
  await started.catch((err: Error) => {
    t.match(err.message, `NATS at ${nats.url} refused user 'edge1' of probe 'edge1' (Authorization Violation)`);
    t.match(err.message, /check the credentials in the probe's nats section/);
  });
});

t.test('start — a probe that cannot reach NATS keeps measuring and storing, says so, and delivers what it owes once NATS is there', async (t) => {
  const port = await freeTcpPort();
  const url = `nats://127.0.0.1:${port}`;
  const p = await probe(t, 'edge2');
  const logs: string[] = [];
  const node = await MeshNode.start({ id: 'edge2', role: 'delegated', nats: { servers: [url] }, store: p.store, log: (_l, m) => void logs.push(m) }, p);
  t.teardown(() => node.stop());
  t.equal(node.health().link.status, 'connecting', 'started while NATS is away');
  t.match(node.health().link.lastError, `NATS at ${url} is unreachable`);
  t.match(logs.join('\n'), /unreachable .*measuring and storing locally, retrying/, 'the log says what happens');
  await p.tickNow('hot');
  t.same(p.query({ indicator: 'temp_f', mode: 'count' }), { mode: 'count', count: 1 }, 'it measured and stored');
  t.equal(node.pending, 1, 'the alert waits in the outbox');

  const nats = await startNats({ port });
  t.teardown(() => nats.remove());
  await waitUntil('delivered once NATS is there', () => node.published === 1, 30_000);
  t.equal(node.health().link.status, 'connected');
  const nc = await connect({ servers: url });
  t.teardown(() => nc.close());
  const info = await (await jetstreamManager(nc)).streams.info(streams.alerts);
  t.equal(info.state.messages, 1, 'PM_ALERTS set up by the late probe, holding the alert once');
});

t.test('start — a stream that already captures the mesh subjects stops the probe with what to remove', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await (await jetstreamManager(nc)).streams.add({ name: 'EVERYTHING', subjects: [subjects.partials] });
  const p = await probe(t, 'edge3');
  const started = MeshNode.start({ id: 'edge3', role: 'delegated', nats: { servers: [nats.url] }, log: quiet }, p);
  await t.rejects(started, MeshConfigError);
  await started.catch((err: Error) => t.match(err.message, `NATS at 127.0.0.1:${nats.port}: stream EVERYTHING already captures pm.partial.>, which the mesh's stream PM_PARTIALS needs: remove that stream or its subjects`));
});

t.test('start — a PM_ALERTS of an earlier version (capturing pm.alert.> itself) stops the probe with how to make it again', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await (await jetstreamManager(nc)).streams.add({ name: 'PM_ALERTS', subjects: ['pm.alert.>'], duplicate_window: 120e9 });
  const p = await probe(t, 'edge5');
  const started = MeshNode.start({ id: 'edge5', role: 'delegated', nats: { servers: [nats.url] }, log: quiet }, p);
  await t.rejects(started, MeshConfigError);
  await started.catch((err: Error) =>
    t.match(err.message, `stream PM_ALERTS exists with subjects ["pm.alert.>"] and limits retention (as an earlier probemesh made it: its alerts are already at the coordinators); the mesh needs ["pm.in.alert.>"] republished to pm.alert.> with limits retention: delete it (nats stream rm PM_ALERTS)`),
  );
});

t.test('start — 30 probes started at once against a fresh server, five rounds: none stops, each one’s alert is stored once', async (t) => {
  const ids = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`);
  const probes = await Promise.all(ids.map((id) => probe(t, id)));
  for (let round = 1; round <= 5; round++) {
    const port = await freeTcpPort();
    const url = `nats://127.0.0.1:${port}`;
    // The server starts together with the probes: some find it not listening yet, or JetStream not ready.
    const [nats, ...nodes] = await Promise.all([
      startNats({ port }),
      ...ids.map((id, i) =>
        MeshNode.start(
          {
            id,
            role: i < 5 ? 'coordinator' : 'delegated',
            nats: { servers: [url] },
            store: probes[i]!.store,
            log: quiet,
            ...(i < 5 ? { merged: new MergedWindows() } : { partials: { indicators: ['temp'], windowMs: 1000 } }),
          },
          probes[i]!,
        ),
      ),
    ]);
    try {
      await Promise.all(probes.map((p) => p.tickNow('hot')));
      await waitUntil(`round ${round}: every alert delivered`, () => nodes.every((n) => n.published + n.pending >= 1 && n.pending === 0), 60_000);
      const failed = nodes.flatMap((n, i) => Object.entries(n.health().children).filter(([, s]) => s?.status === 'failed').map(([c]) => `${ids[i]}/${c}`));
      t.same(failed, [], `round ${round}: no child failed`);
      const nc = await connect({ servers: url });
      const info = await (await jetstreamManager(nc)).streams.info(streams.alerts, { subjects_filter: subjects.alertsIn });
      await nc.close();
      t.equal(Object.keys(info.state.subjects ?? {}).length, 30, `round ${round}: an alert from each of the 30 probes`);
      t.equal(info.state.messages, 30, `round ${round}: each stored once`);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await nats.remove();
    }
    // The next round is a fresh server: the alerts fire again from new probes' point of view.
    await Promise.all(probes.map(async (p) => (await p.setStatic('temp', 20), await p.tickNow('hot'), await p.setStatic('temp', 41))));
  }
});
