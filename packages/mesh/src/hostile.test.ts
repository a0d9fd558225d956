import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { subjects } from '@probemesh/model';
import { startNats, waitUntil } from '@probemesh/testkit';
import { MergedWindows, MeshNode, type MeshOptions } from './index.js';
import { testProbe } from './probe.fixture.js';

const W = 500;

t.test('hostile input — garbage, forged, impossible and oversized messages on the mesh subjects are dropped, counted and never merged; the real windows go on merging exactly', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const merged = new MergedWindows();
  const site = await testProbe(t, 'site');
  merged.attach(site.store);
  const logs: string[] = [];
  const common = { nats: { servers: [nats.url] }, heartbeatMs: 200 } satisfies Partial<MeshOptions>;
  const siteNode = await MeshNode.start({ id: 'site', role: 'coordinator', store: site.store, merged, children: ['net1'], log: (_l, m) => logs.push(m), ...common }, site);
  t.teardown(() => siteNode.stop());
  const net1 = await testProbe(t, 'net1');
  const net1Node = await MeshNode.start({ id: 'net1', role: 'delegated', parent: 'site', store: net1.store, partials: { indicators: ['server_power'], windowMs: W }, ...common }, net1);
  t.teardown(() => net1Node.stop());
  let measuring = true;
  const loop = (async () => {
    for (let i = 0; measuring; i++) {
      await net1.store.append([0, 1].map((k) => ({ indicator: 'server_power', device: `s${k}`, ts: Date.now(), datum: 100 + k + (i % 5) })));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  t.teardown(async () => {
    measuring = false;
    await loop;
  });
  /** Whether the merged window at `start` holds exactly what net1 stored there, from net1 alone. */
  const exact = (start: number) => {
    const m = merged.get('server_power', start);
    const local = net1.store.window({ indicator: 'server_power' }, start, start + W);
    return m !== undefined && m.state === 'complete' && m.windowEnd === start + W && m.count === local.count && m.sum === local.sum && m.sources.join() === 'net1/';
  };
  await waitUntil('a window of 2W length merged', () => merged.list({ indicator: 'server_power' }).some((w) => w.count > 0 && w.state === 'complete' && w.windowStart % (2 * W) === 0), 15_000);
  const real = merged.list({ indicator: 'server_power' }).find((w) => w.count > 0 && w.state === 'complete' && w.windowStart % (2 * W) === 0)!;

  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const subject = subjects.partial('net1', 'server_power');
  // Windows nothing else touches: an hour back, one per forged message.
  const hourAgo = Math.floor(Date.now() / W) * W - 3_600_000;
  const forged: number[] = [];
  const partial = (over: Record<string, unknown> = {}) => {
    const windowStart = hourAgo - forged.length * W;
    forged.push(windowStart);
    return { probe: 'net1', indicator: 'server_power', group: '', windowStart, windowEnd: windowStart + W, count: 2, sum: 300, min: 100, max: 200, devices: 2, ...over };
  };
  const text = (v: unknown) => JSON.stringify(v);
  const hostile: Array<[what: string, subject: string, payload: string]> = [
    ['cut-off JSON', subject, text(partial()).slice(0, 40)],
    ['a NaN sum (not JSON)', subject, text(partial()).replace('"sum":300', '"sum":NaN')],
    ['an infinite sum (1e999)', subject, text(partial()).replace('"sum":300', '"sum":1e999')],
    ['a count below 0', subject, text(partial({ count: -1 }))],
    ["another probe's id on net1's subject", subject, text(partial({ probe: 'net2' }))],
    ['a huge payload (900 KB)', subject, text({ ...partial(), pad: 'x'.repeat(900_000) })],
    ['a group of 900 KB', subject, text(partial({ group: 'g'.repeat(900_000) }))],
    ['min above max', subject, text(partial({ min: 300, max: 100 }))],
    ['no values but a sum', subject, text(partial({ count: 0, sum: 5, min: 0, max: 0, devices: 0 }))],
    ['a sum no two values in [100, 200] have', subject, text(partial({ sum: 5000 }))],
    ['more devices than values', subject, text(partial({ devices: 3 }))],
    ['a window that ends where it starts', subject, text(partial({ windowEnd: hourAgo - forged.length * W }))],
    ['a window off its grid', subject, text(partial({ windowStart: hourAgo + 7, windowEnd: hourAgo + 7 + W }))],
    ['a window older than the horizon', subject, text(partial({ windowStart: 0, windowEnd: W }))],
    // A window of twice the length at the start of one merged already: merging it would mix two window lengths.
    ['another window length', subject, text({ probe: 'net1', indicator: 'server_power', group: '', windowStart: real.windowStart, windowEnd: real.windowStart + 2 * W, count: 1, sum: 1e6, min: 1e6, max: 1e6, devices: 1, revision: 9 })],
  ];
  const heartbeats: Array<[string, string]> = [
    ['garbage', 'not json at all'],
    ["another probe's id on net1's subject", text({ probe: 'net2', role: 'delegated', level: 1, version: '0', ts: Date.now(), rules: [], load: { rssMiB: 1, valuesPerS: 0, series: 0 } })],
  ];
  const before = { ...siteNode.dropped };
  const floodAt = Date.now();
  for (const [, s, payload] of hostile) nc.publish(s, payload);
  for (const [, payload] of heartbeats) nc.publish(subjects.heartbeat('net1'), payload);
  await nc.flush();

  await waitUntil('every hostile partial dropped', () => siteNode.dropped.partials - before.partials >= hostile.length, 30_000);
  await waitUntil('both forged heartbeats dropped', () => siteNode.dropped.heartbeats - before.heartbeats >= heartbeats.length, 15_000);
  t.same(siteNode.dropped, { partials: before.partials + hostile.length, heartbeats: before.heartbeats + heartbeats.length }, `each counted once: ${hostile.map(([what]) => what).join('; ')}`);
  t.same(
    forged.filter((s) => merged.get('server_power', s) !== undefined),
    [],
    'none of them made a window',
  );
  t.ok(exact(real.windowStart), "the window the longer one aimed at still holds net1's figures alone");
  const said = logs.filter((l) => l.startsWith('dropped a message on'));
  t.equal(said.length, 1, `the first drop is logged with why, the flood is not (once a minute at most): ${said.join(' | ')}`);
  t.match(said[0], /^dropped a message on pm\.partial\.net1\.server_power: not a partial aggregate of the probe it names \(1 dropped so far\)$/);
  t.same(siteNode.membership().find((m) => m.probe === 'net2'), undefined, 'no probe net2 made up by a forged heartbeat');

  await waitUntil('windows after the flood merged', () => merged.list({ indicator: 'server_power' }).filter((w) => w.windowStart > floodAt && w.count > 0 && w.state === 'complete').length >= 3, 15_000);
  const after = merged.list({ indicator: 'server_power' }).filter((w) => w.windowStart > floodAt && w.count > 0 && w.state === 'complete');
  t.same(
    after.filter((w) => !exact(w.windowStart)).map((w) => w.windowStart),
    [],
    `${after.length} windows after the flood merged with net1's exact counts and sums`,
  );
  t.match(siteNode.health().children.merger, { status: 'running', restarts: 0 }, 'the merger never crashed');
});
