import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { Probe } from '@probemesh/runtime';
import { subjects } from '@probemesh/model';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { MeshNode, flash, natsAuthorization } from './index.js';

t.test('auth — a probe publishes under its own id; under another one it is refused', async (t) => {
  const nats = await startNats({
    config: natsAuthorization(
      [
        { user: 'p1', password: 'p1-secret' },
        { user: 'p2', password: 'p2-secret' },
      ],
      { user: 'ops', password: 'ops-secret' },
    ),
  });
  t.teardown(() => nats.remove());
  const ops = await connect({ servers: nats.url, user: 'ops', pass: 'ops-secret' });
  t.teardown(() => ops.close());
  const got: string[] = [];
  ops.subscribe(subjects.alerts, { callback: (_e, m) => void got.push(m.subject) });
  await ops.flush();

  // The probe's own mesh traffic works with its restricted user: streams, heartbeats, KV watch, alerts.
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [] });
  t.teardown(() => probe.stop());
  const node = await MeshNode.start({ id: 'p1', role: 'delegated', nats: { servers: [nats.url], user: 'p1', pass: 'p1-secret' } }, probe);
  t.teardown(() => node.stop());
  await flash(ops, { id: 'p1', indicators: [{ id: 'x', kind: 'static', value: 1 }] });
  await probe.put('indicators', { id: 't', kind: 'static', value: 31 });
  await probe.put('rules', { id: 'r', indicators: ['t'], period: '1h', decisions: [{ id: 'hot', when: 't > 30', severity: 'warning' }] });
  await probe.tickNow('r');
  await waitUntil('own alert delivered', () => got.includes(subjects.alert('warning', 'p1', 'r')), 10_000);
  t.pass('p1 publishes its alert on pm.alert.warning.p1.r');

  // The same user trying to speak as p2 is refused by the server.
  const impostor = await connect({ servers: nats.url, user: 'p1', pass: 'p1-secret' });
  t.teardown(() => impostor.close());
  const errors: string[] = [];
  void (async () => {
    for await (const s of impostor.status()) if (s.type === 'error') errors.push(s.error.message);
  })();
  impostor.publish(subjects.alert('critical', 'p2', 'r'), 'forged');
  impostor.publish(subjects.heartbeat('p2'), 'forged');
  await impostor.flush();
  await waitUntil('violations reported', () => errors.length >= 2, 5000);
  t.match(errors.join('\n'), /Permissions Violation for Publish to "?pm\.alert\.critical\.p2\.r/i);
  // What the server let through before its refusal reached us would arrive before a later message.
  ops.publish('pm.alert.marker', 'after');
  await waitUntil('the marker', () => got.includes('pm.alert.marker'), 5000);
  t.notOk(got.includes(subjects.alert('critical', 'p2', 'r')), 'nobody received the forged alert');
});
