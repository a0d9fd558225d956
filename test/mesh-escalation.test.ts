import t, { type Test } from 'tap';
import { connect } from '@nats-io/transport-node';
import type { ProbemeshError } from '@probemesh/core';
import { MeshChildFailedError } from '@probemesh/mesh';
import { Alert, check, subjects, type RuleState } from '@probemesh/model';
import { runProbe } from '@probemesh/probe';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';

const TOKEN = 'escalation-read-token-0001';
/** Quick restarts, so a test sees several of them: the defaults wait seconds to minutes. */
const quick = { backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 }, withinMs: 60_000 };

/**
 * A probe in the mesh whose `heartbeat` child fails to start as long as `fault()` says so: no
 * real part can be made to crash a mesh child on demand, so the fault is injected through the
 * mesh node's test option `faultAt`. Its rule `r` keeps computing a value every 500 ms.
 */
async function faultyProbe(t: Test, fault: () => boolean, opts: { childRestarts: number; nodeRestarts: number; onFatal?: (err: ProbemeshError) => void }) {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  // What the mesh hears: the probe's alerts as PM_ALERTS republishes them, and its heartbeats.
  const published: Alert[] = [];
  nc.subscribe(subjects.alert('*', 'p', 'mesh'), { callback: (_err, m) => void published.push(check(Alert, m.json(), 'alert')) });
  const heard = { heartbeats: 0 };
  nc.subscribe(subjects.heartbeat('p'), { callback: () => void heard.heartbeats++ });
  await nc.flush();
  const logs: string[] = [];
  const probe = await runProbe(
    {
      id: 'p',
      dataDir: dir.path,
      tokens: [{ name: 'ro', role: 'read', token: TOKEN }],
      http: { port: 0 },
      nats: { servers: [nats.url] },
      indicators: [
        { id: 'racks', kind: 'static', value: 12 },
        { id: 'twice', kind: 'calculated', formula: 'racks * 2' },
      ],
      rules: [{ id: 'r', indicators: ['twice'], period: '500ms' }],
    },
    {
      log: (level, message) => logs.push(`${level} ${message}`),
      connectors: [],
      meshNode: { supervision: { ...quick, maxRestarts: opts.childRestarts }, faultAt: (child) => (child === 'heartbeat' && fault() ? new Error('injected: the heartbeat cannot start') : undefined) },
      meshRestarts: { ...quick, maxRestarts: opts.nodeRestarts },
      ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
    },
  );
  t.teardown(() => probe.stop());
  const get = async (path: string) => {
    const res = await fetch(`${probe.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const metric = async (name: string) => Number(new RegExp(`^${name}\\{probe="p"\\} (\\S+)$`, 'm').exec(await (await get('/metrics')).text())?.[1]);
  const ticks = async () => ((await (await get('/rules/states')).json()) as RuleState[]).find((s) => s.rule === 'r')?.ticks ?? 0;
  const alerts = async (query = '') => ((await (await get(`/alerts?rule=mesh${query}`)).json()) as Alert[]).filter((a) => a.decision === 'node');
  return { published, heard, logs, metric, ticks, alerts };
}

t.test('mesh supervision — a mesh child crashing past its limit fails the node, which is stopped and started again whole: mesh/node fires once and resolves once, both reach PM_ALERTS, /metrics counts the restart, heartbeats resume', async (t) => {
  // The heartbeat fails at its first three starts: past its limit of 2 restarts, in the first node.
  let faults = 3;
  const p = await faultyProbe(t, () => faults-- > 0, { childRestarts: 2, nodeRestarts: 3 });
  await waitUntil('the node restarted and running', async () => (await p.metric('probemesh_mesh_node_restarts_total')) === 1 && (await p.metric('probemesh_mesh_node_up')) === 1, 60_000);
  t.pass('/metrics: probemesh_mesh_node_restarts_total 1, probemesh_mesh_node_up 1');
  t.equal(p.logs.filter((l) => l.includes('the mesh node failed')).length, 1, 'the failure logged once');
  t.match(p.logs.find((l) => l.includes('the mesh node failed')), /^error \[mesh\] the mesh node failed \(mesh heartbeat failed: it crashed too often \(last: injected: the heartbeat cannot start\)\); stopping it and starting it again in \d+ ms$/, 'the log says which child and why');
  await waitUntil('both transitions published', () => p.published.length >= 2, 30_000);
  t.same(
    p.published.map((a) => [a.id, a.state, a.severity]),
    [
      ['p.mesh.node', 'firing', 'critical'],
      ['p.mesh.node', 'resolved', 'critical'],
    ],
    'mesh/node fired once and resolved once, each published once on pm.alert.> (raised while the node failed: owed, and delivered by the node that replaced it)',
  );
  t.match(p.published[0]!.message, /^the mesh node failed and is restarted: mesh heartbeat failed: it crashed too often/);
  t.same((await p.alerts()).map((a) => a.state), ['firing', 'resolved'], "the probe's own alert history");
  const beats = p.heard.heartbeats;
  await waitUntil('a heartbeat from the new node', () => p.heard.heartbeats > beats, 30_000);
  t.pass('the new node is heard');
  const before = await p.ticks();
  await waitUntil('the rule still ticking', async () => (await p.ticks()) > before, 30_000);
  t.pass('the probe measured throughout');
});

t.test('mesh supervision — a node that fails past the probe’s own limit escalates once to onFatal (probemesh probe: a clean stop and exit 70), stays stopped with mesh/node firing, and the probe goes on measuring', async (t) => {
  const fatal: ProbemeshError[] = [];
  // The heartbeat never starts, and one crash fails it: every node fails as it starts.
  const p = await faultyProbe(t, () => true, { childRestarts: 0, nodeRestarts: 2, onFatal: (err) => fatal.push(err) });
  await waitUntil('escalated', () => fatal.length > 0, 60_000);
  t.match(fatal[0]!.message, /^the mesh node failed past its restart limit \(last: mesh heartbeat failed: it crashed too often \(last: injected: the heartbeat cannot start\)\)$/, 'onFatal hears why');
  t.notOk(fatal[0] instanceof MeshChildFailedError, "the node's own failure, not its child's");
  t.equal(await p.metric('probemesh_mesh_node_up'), 0, '/metrics: the node is down');
  t.equal(await p.metric('probemesh_mesh_node_restarts_total'), 2, '/metrics: after two restarts');
  t.match(await p.alerts('&state=firing'), [{ id: 'p.mesh.node', severity: 'critical', state: 'firing' }], 'mesh/node fires');
  const before = await p.ticks();
  await waitUntil('the rule still ticking', async () => (await p.ticks()) > before, 30_000);
  t.equal(fatal.length, 1, 'escalated once');
});
