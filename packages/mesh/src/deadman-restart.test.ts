import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { ManualClock } from '@probemesh/core';
import { componentRules, subjects } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { startNats, tempDir, waitUntil, type NatsServer } from '@probemesh/testkit';
import { MergedWindows, MeshNode, meshConnector } from './index.js';

const T0 = 1_700_000_000_000;
const HB = 1000;

/** A probe on `dataDir` with its mesh node, on the manual clock; `stop()` stops both (a restart starts another on the same store). */
async function probeNode(nats: NatsServer, clock: ManualClock, id: string, dataDir: string, coordinator: boolean) {
  const merged = coordinator ? new MergedWindows() : undefined;
  const probe = await Probe.start({ id, dataDir, connectors: merged ? [meshConnector(merged)] : [], clock });
  merged?.attach(probe.store);
  const node = await MeshNode.start(
    { id, role: coordinator ? 'coordinator' : 'delegated', nats: { servers: [nats.url] }, clock, heartbeatMs: HB, store: probe.store, stopGraceMs: 0, ...(merged ? { merged, children: ['pdu1'] } : { parent: 'hall' }) },
    probe,
  );
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= node.stop().then(() => probe.stop()));
  return { probe, node, stop };
}

async function subscriber(t: Test, nats: NatsServer) {
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const got: Array<Record<string, unknown>> = [];
  nc.subscribe(subjects.alerts, { callback: (_e, m) => void got.push(m.json()) });
  await nc.flush();
  return got;
}

t.test('dead-man — across a restart of the coordinator on its store: a child still away is not alerted again; once back, its alert resolves once', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const clock = new ManualClock(T0);
  const alerts = await subscriber(t, nats);
  const dirs = { hall: await tempDir(), pdu1: await tempDir() };
  t.teardown(() => Promise.all(Object.values(dirs).map((d) => d.remove())));
  let hall = await probeNode(nats, clock, 'hall', dirs.hall.path, true);
  t.teardown(() => hall.stop());
  const pdu1 = await probeNode(nats, clock, 'pdu1', dirs.pdu1.path, false);
  await waitUntil('hall hears pdu1', () => hall.node.membership().some((m) => m.probe === 'pdu1'));

  await pdu1.stop();
  for (let i = 0; i < 4; i++) await clock.advance(HB);
  await waitUntil('the stale alert published', () => alerts.length === 1);
  t.match(alerts[0], { rule: componentRules.mesh, decision: 'stale', device: 'pdu1', state: 'firing' });
  await hall.stop();

  hall = await probeNode(nats, clock, 'hall', dirs.hall.path, true);
  for (let i = 0; i < 4; i++) await clock.advance(HB); // pdu1 is still away: the dead-man finds it stale again
  t.same(
    hall.probe.alerts().map((a) => `${a.state} ${a.rule}/${a.decision}@${a.device}`),
    ['firing mesh/stale@pdu1'],
    'the alert as it fired before the restart, not a second firing',
  );

  const back = await probeNode(nats, clock, 'pdu1', dirs.pdu1.path, false); // it beats at start
  t.teardown(() => back.stop());
  await waitUntil('hall hears pdu1 again', () => hall.node.membership().find((m) => m.probe === 'pdu1')?.stale === false);
  await clock.advance(HB);
  await waitUntil('the resolution published', () => alerts.length === 2);
  t.match(alerts[1], { rule: componentRules.mesh, device: 'pdu1', state: 'resolved', message: 'probe pdu1 is back' });
  await clock.advance(2 * HB);
  t.same(hall.probe.active(), [], 'nothing fires any more');
  t.equal(hall.probe.alerts({ state: 'resolved' }).length, 1, 'resolved once');
});
