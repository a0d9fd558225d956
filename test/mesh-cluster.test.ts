import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Alert } from '@probemesh/model';
import { MergedWindows, MeshNode, meshConnector } from '@probemesh/mesh';
import { Probe } from '@probemesh/runtime';
import { startNatsCluster, tempDir, waitUntil } from '@probemesh/testkit';

// A site on a three-node NATS cluster (deploy/nats/cluster), its streams kept on every node: a
// node is killed with SIGKILL in the middle of a run and brought back. Nothing the probes owe may
// be lost or counted twice, and no figure may differ from a run without the fault.

const W = 1000;
const deployed = (i: number) => fileURLToPath(new URL(`../deploy/nats/cluster/n${i + 1}.conf`, import.meta.url));
type Records = { records: Array<{ ts: number; datum: number }> };

async function probe(t: Test, id: string, merged?: MergedWindows) {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const p = await Probe.start({ id, dataDir: dir.path, connectors: merged ? [meshConnector(merged)] : [] });
  t.teardown(() => p.stop());
  merged?.attach(p.store);
  return p;
}

/** The site (4 + 12 servers at 750 W: 12,000 W) on a cluster; `victim` picks the node to kill once the streams exist. */
async function faultRun(t: Test, victim: (leaders: { alerts: number; partials: number }) => number) {
  const cluster = await startNatsCluster({ include: deployed });
  t.teardown(() => cluster.remove());
  const nats = { servers: cluster.urls };

  const merged = new MergedWindows();
  const site = await probe(t, 'site', merged);
  await site.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await site.put('rules', { id: 'site', indicators: ['it_power'], period: '1s' });
  // A child is gone after 8 missed heartbeats (8 s), above a failover's reconnect (2–3 s seen), as
  // the defaults (3 × 5 s) are in production; and its windows stopped after 1 + 30 + 1 s, above a
  // stream leader's failover, which stops every child's partials for 12–20 s on two busy cores (as
  // the default grace of 3 windows does for windows of 10 s or more): the kill must not read as a
  // child gone.
  const siteNode = await MeshNode.start({ id: 'site', role: 'coordinator', nats, store: site.store, merged, children: ['net-a', 'net-b'], heartbeatMs: 1000, missedHeartbeats: 8, graceMs: 30_000 }, site);
  t.teardown(() => siteNode.stop());

  const nets = await Promise.all(
    (
      [
        ['net-a', 4],
        ['net-b', 12],
      ] as const
    ).map(async ([id, servers]) => {
      const p = await probe(t, id);
      await p.put('indicators', { id: 'temp', kind: 'static', value: 20 });
      await p.put('rules', { id: 'hot', indicators: ['temp'], period: '1h', decisions: [{ id: 'over', when: 'temp > 40', severity: 'warning' }] });
      const node = await MeshNode.start({ id, role: 'delegated', parent: 'site', nats, store: p.store, heartbeatMs: 1000, partials: { indicators: ['server_power'], windowMs: W } }, p);
      t.teardown(() => node.stop());
      const raised: Alert[] = [];
      p.onAlert((a) => void raised.push(a));
      return { id, p, node, servers, raised };
    }),
  );

  // The streams exist once the probes set them up; the victim is chosen from their leader.
  const ops = await connect({ servers: cluster.urls });
  t.teardown(() => ops.close());
  const jsm = await jetstreamManager(ops);
  const leaderOf = async (stream: string) => Number((await jsm.streams.info(stream)).cluster?.leader?.slice(1)) - 1;
  await waitUntil('the streams replicated three times, with leaders', async () => {
    const infos = await Promise.all(['PM_ALERTS', 'PM_PARTIALS'].map((s) => jsm.streams.info(s)));
    return infos.every((i) => i.config.num_replicas === 3 && i.cluster?.leader);
  }, 30_000);
  const killed = victim({ alerts: await leaderOf('PM_ALERTS'), partials: await leaderOf('PM_PARTIALS') });
  // A plain subscriber on a node that stays up (one that loses its server may miss what passes meanwhile).
  const sub = await connect({ servers: cluster.urls[[0, 1, 2].find((i) => i !== killed)!] });
  t.teardown(() => sub.close());
  const received: string[] = [];
  sub.subscribe('pm.alert.>', { callback: (_e, m) => void received.push(m.headers?.get('Nats-Msg-Id') ?? '') });
  await sub.flush();

  // Measuring (every 100 ms) and flapping an alert (every tick of the loop's 8th round) until told to stop.
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const ts = Date.now();
      await Promise.all(nets.map((n) => n.p.store.append(Array.from({ length: n.servers }, (_, k) => ({ indicator: 'server_power', device: `srv${k}`, ts, datum: 750 })))));
      if (i % 8 === 0)
        for (const n of nets) {
          await n.p.setStatic('temp', (i / 8) % 2 ? 45 : 20);
          await n.p.tickNow('hot');
        }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.teardown(async () => {
    running = false;
    await loop;
  });
  const stored = () => (site.query({ indicator: 'it_power', from: 0, limit: 100_000 }) as Records).records;
  const more = async (what: string, n: number) => {
    const after = Date.now();
    await waitUntil(what, () => stored().filter((r) => r.ts >= after).length >= n, 60_000);
  };
  await more('the site computes', 3);
  await cluster.kill(killed);
  await more(`the site computes with n${killed + 1} killed`, 5);
  await cluster.restart(killed);
  await more(`the site computes with n${killed + 1} back`, 5);
  running = false;
  await loop;

  const transitions = nets.flatMap((n) => n.raised).map((a) => `${a.id}.${a.state}.${a.ts}`);
  await waitUntil('every alert delivered', () => nets.every((n) => n.node.pending === 0) && received.length >= transitions.length, 60_000);
  t.ok(transitions.length >= 6, `${transitions.length} alert transitions raised across the fault`);
  t.same([...received].sort(), [...transitions].sort(), `the plain subscriber received each of them exactly once, and no dead-man alert: the children stayed alive (node n${killed + 1} killed)`);

  const records = stored();
  const first = records[0]!.ts;
  const last = records.at(-1)!.ts;
  const windows: number[] = [];
  for (let s = first; s <= last; s += W) windows.push(s);
  const wrongMerge = windows.filter((s) => {
    const m = merged.get('server_power', s);
    const local = nets.map((n) => n.p.store.window({ indicator: 'server_power' }, s, s + W));
    return !m || m.sources.length !== 2 || m.count !== local[0]!.count + local[1]!.count || m.sum !== local[0]!.sum + local[1]!.sum;
  });
  t.same(wrongMerge, [], `${windows.length} windows: every partial merged once, with the delegates' exact counts and sums`);
  t.same(
    records.filter((r) => r.datum !== 12_000),
    [],
    'every site total equals the fault-free one (12,000 W)',
  );
  t.equal(records.length, windows.length, 'one site total per window, none missing');
}

t.test('cluster — kill -9 the stream leader mid-run and bring it back: alerts once at a plain subscriber, partials merged once, site totals unchanged', async (t) => {
  await faultRun(t, (leaders) => leaders.alerts);
});

t.test('cluster — kill -9 a node that leads neither stream mid-run and bring it back: the same', async (t) => {
  await faultRun(t, (leaders) => [0, 1, 2].find((i) => i !== leaders.alerts && i !== leaders.partials)!);
});
