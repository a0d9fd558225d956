import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import { ManualClock } from '@probemesh/core';
import { componentRules, subjects } from '@probemesh/model';
import { startNats, waitUntil, type NatsServer } from '@probemesh/testkit';
import { MergedWindows, MeshNode, type MeshOptions } from './index.js';
import { testProbe } from './probe.fixture.js';

// The children of a mesh node run on the injected clock: these tests move time by hand and wait
// (with a deadline) only for what real NATS does in between.

const T0 = 1_700_000_000_000;
const HB = 1000;

async function node(t: Test, nats: NatsServer, clock: ManualClock, id: string, extra: Partial<MeshOptions> = {}) {
  const merged = extra.merged;
  const probe = await testProbe(t, id, merged ? { merged } : {});
  const n = await MeshNode.start({ id, role: merged ? 'coordinator' : 'delegated', nats: { servers: [nats.url] }, clock, heartbeatMs: HB, store: probe.store, stopGraceMs: 0, ...extra }, probe);
  t.teardown(() => n.stop());
  return { node: n, probe };
}

async function subscriber(t: Test, nats: NatsServer, subject: string) {
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const got: Array<{ subject: string; data: Record<string, unknown> }> = [];
  nc.subscribe(subject, { callback: (_e, m) => void got.push({ subject: m.subject, data: m.json() }) });
  await nc.flush();
  return got;
}

t.test('mesh node — heartbeats, membership, levels and staleness follow the manual clock', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const clock = new ManualClock(T0);
  const beats = await subscriber(t, nats, subjects.heartbeats);
  const top = await node(t, nats, clock, 'top', { merged: new MergedWindows() });
  const mid = await node(t, nats, clock, 'mid', { parent: 'top', merged: new MergedWindows() });
  const leaf = await node(t, nats, clock, 'leaf', { parent: 'mid' });
  await waitUntil('one heartbeat each at start', () => beats.length === 3);
  t.same(beats.map((b) => b.data.ts), [T0, T0, T0], 'stamped by the injected clock');

  await clock.advance(HB);
  await waitUntil('top heard the second round', () => top.node.membership().every((m) => m.ts === T0 + HB) && top.node.membership().length === 3);
  t.same(
    top.node.membership().map((m) => [m.probe, m.parent, m.level, m.stale]),
    [
      ['leaf', 'mid', 2, false],
      ['mid', 'top', 1, false],
      ['top', undefined, 0, false],
    ],
    'levels from the parent chains: top 0, mid 1, leaf 2',
  );
  await waitUntil('the leaf heard the others', () => leaf.node.membership().length === 3);
  await clock.advance(HB);
  await waitUntil('the third round', () => beats.some((b) => b.data.probe === 'leaf' && b.data.ts === T0 + 2 * HB));
  t.equal(beats.find((b) => b.data.probe === 'leaf' && b.data.ts === T0 + 2 * HB)?.data.level, 2, 'the leaf announces its own level, learnt from the chain it heard');

  await leaf.node.stop();
  await clock.advance(2 * HB);
  await waitUntil('the others beat again', () => top.node.membership().find((m) => m.probe === 'mid')?.ts === T0 + 4 * HB);
  t.equal(top.node.membership().find((m) => m.probe === 'leaf')?.stale, false, 'two heartbeats missed: not stale yet');
  await clock.advance(HB + 1);
  t.equal(top.node.membership().find((m) => m.probe === 'leaf')?.stale, true, 'three missed: stale');
  t.equal(top.node.health().children.heartbeat?.status, 'running', 'the heartbeat child runs');
  t.equal(mid.node.health().link.status, 'connected');
});

t.test('dead-man — a child that misses its heartbeats raises mesh/stale once at a plain subscriber and in /mesh/alerts; it resolves when the child is back', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const clock = new ManualClock(T0);
  const alerts = await subscriber(t, nats, subjects.alerts);
  const coord = await node(t, nats, clock, 'hall', { merged: new MergedWindows(), children: ['pdu1', 'pdu2'] });
  const pdu1 = await node(t, nats, clock, 'pdu1', { parent: 'hall' });
  await node(t, nats, clock, 'pdu2', { parent: 'hall' });
  await waitUntil('both children heard', () => coord.node.membership().length === 3);

  await pdu1.node.stop();
  for (let i = 0; i < 4; i++) await clock.advance(HB); // the dead-man looks every heartbeat period
  await waitUntil('the stale alert published', () => alerts.length === 1 && coord.node.published === 1);
  t.match(alerts[0], { subject: subjects.alert('warning', 'hall', componentRules.mesh), data: { probe: 'hall', rule: componentRules.mesh, decision: 'stale', device: 'pdu1', state: 'firing' } });
  t.match(alerts[0]!.data.message, /pdu1 missed 3 heartbeats \(last heard /, 'says what happened');
  await waitUntil('listed by /mesh/alerts', () => coord.node.meshAlerts().length === 1);
  t.match(coord.node.meshAlerts(), [{ rule: 'mesh', decision: 'stale', device: 'pdu1', state: 'firing' }]);

  for (let i = 0; i < 3; i++) await clock.advance(HB);
  t.equal(coord.node.pending + coord.node.published, 1, 'still stale: raised once, not every period');

  await node(t, nats, clock, 'pdu1', { parent: 'hall' }); // back: it beats at start
  await waitUntil('heard again', () => coord.node.membership().find((m) => m.probe === 'pdu1')?.stale === false);
  await clock.advance(HB);
  await waitUntil('resolved', () => alerts.length === 2);
  t.match(alerts[1], { subject: subjects.alert('warning', 'hall', componentRules.mesh), data: { device: 'pdu1', state: 'resolved', message: 'probe pdu1 is back' } });
  await waitUntil('resolved in /mesh/alerts', () => coord.node.meshAlerts()[0]?.state === 'resolved');
  t.equal(alerts.filter((a) => a.data.device === 'pdu2').length, 0, 'the child that kept beating raised nothing');
});
