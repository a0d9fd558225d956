import t, { type Test } from 'tap';
import { MergedWindows, MeshNode, meshConnector } from '@probemesh/mesh';
import { Probe } from '@probemesh/runtime';
import { startNats, tempDir, waitUntil, type NatsServer } from '@probemesh/testkit';
import { startProbeProcess } from './probe-process.js';

type Records = { records: Array<{ ts: number; datum: number }> };

/** A coordinator in this process: a probe whose `mesh` connector reads the windows its node merges. */
async function coordinator(t: Test, nats: NatsServer, id: string, children: string[], extra: Partial<Parameters<typeof MeshNode.start>[0]> = {}) {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const merged = new MergedWindows();
  const probe = await Probe.start({ id, dataDir: dir.path, connectors: [meshConnector(merged)] });
  t.teardown(() => probe.stop());
  merged.attach(probe.store);
  const node = await MeshNode.start({ id, role: 'coordinator', nats: { servers: [nats.url] }, store: probe.store, merged, children, heartbeatMs: 500, ...extra }, probe);
  t.teardown(() => node.stop());
  return { probe, merged, node };
}

t.test('mesh outage — NATS away for longer than 100 windows: afterwards the delegate process sends every window, each merged once; its memory stays flat', async (t) => {
  const W = 100;
  let nats = await startNats();
  t.teardown(() => nats.remove());
  const coord = await coordinator(t, nats, 'coord', ['edge']);
  const edge = await startProbeProcess(t.teardown, {
    id: 'edge',
    role: 'delegated',
    parent: 'coord',
    nats: { servers: [nats.url] },
    mesh: { partials: { indicators: ['load'], window: `${W}ms` } },
    indicators: [
      { id: 'racks', kind: 'static', value: 12 },
      { id: 'load', kind: 'calculated', formula: 'racks * 2' },
    ],
    rules: [{ id: 'r', indicators: ['racks', 'load'], period: '40ms' }],
  });
  const records = async (from: number, to: number) => (await edge.call('GET', `/query?indicator=load&from=${from}&to=${to}&limit=100000`)).body as Records;
  await waitUntil('windows merged before the outage', () => coord.merged.list({ indicator: 'load' }).filter((w) => w.count > 0).length >= 5, 30_000, edge.proc);
  const first = Math.min(...coord.merged.list({ indicator: 'load' }).filter((w) => w.count > 0).map((w) => w.windowStart));

  const rssStart = await edge.rssMiB();
  const downAt = Date.now();
  await nats.stop();
  // The outage lasts until the delegate has stored values in 150 windows since it began.
  await waitUntil('150 windows measured while NATS is away', async () => new Set((await records(downAt, Date.now())).records.map((r) => Math.floor(r.ts / W))).size >= 150, 120_000, edge.proc);
  const rssEnd = await edge.rssMiB();
  const upAt = Date.now();
  nats = await nats.restart();

  const last = Math.floor(upAt / W) * W - W;
  const windows: number[] = [];
  for (let s = first; s <= last; s += W) windows.push(s);
  await waitUntil(`all ${windows.length} windows merged`, () => windows.every((s) => coord.merged.get('load', s)?.sources.includes('edge/')), 120_000, edge.proc);
  const byWindow = new Map<number, { count: number; sum: number }>();
  for (const r of (await records(first, last + W)).records) {
    const b = byWindow.get(Math.floor(r.ts / W) * W) ?? { count: 0, sum: 0 };
    b.count++;
    b.sum += r.datum;
    byWindow.set(Math.floor(r.ts / W) * W, b);
  }
  const wrong = windows.filter((s) => {
    const m = coord.merged.get('load', s)!;
    const local = byWindow.get(s) ?? { count: 0, sum: 0 };
    return m.count !== local.count || m.sum !== local.sum || m.sources.length !== 1;
  });
  t.same(wrong, [], `${windows.length} windows (${windows.filter((s) => s > downAt && s < upAt).length} of them closed while NATS was away) merged once each, with the delegate's exact counts and sums`);
  t.ok(windows.filter((s) => s + W > downAt && s + W < upAt).length > 100, 'more than 100 windows closed during the outage');
  t.comment(`delegate RSS at the start of the outage ${rssStart.toFixed(1)} MiB, at its end ${rssEnd.toFixed(1)} MiB`);
  t.ok(rssEnd - rssStart < 32, `memory flat during the outage (RSS ${rssStart.toFixed(1)} → ${rssEnd.toFixed(1)} MiB)`);
});

t.test('never a wrong figure — NATS stopped for 10 s while two delegates measure, eight rounds: every site total stored is the complete one, each window once under its own time', async (t) => {
  const W = 1000;
  let nats = await startNats();
  t.teardown(() => nats.remove());
  const site = await coordinator(t, nats, 'site', ['net-a', 'net-b']);
  await site.probe.put('indicators', { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } });
  await site.probe.put('indicators', { id: 'complete', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'complete' } });
  await site.probe.put('rules', { id: 'site', indicators: ['it_power', 'complete'], period: '1s' });

  // net-a has 4 servers, net-b 12, each drawing 750 W: the site draws 12,000 W, a subset 3,000 or 9,000.
  const delegates = await Promise.all(
    (
      [
        ['net-a', 4],
        ['net-b', 12],
      ] as const
    ).map(async ([id, servers]) => {
      const dir = await tempDir();
      t.teardown(() => dir.remove());
      const probe = await Probe.start({ id, dataDir: dir.path, connectors: [] });
      t.teardown(() => probe.stop());
      const node = await MeshNode.start({ id, role: 'delegated', parent: 'site', nats: { servers: [nats.url] }, store: probe.store, heartbeatMs: 500, partials: { indicators: ['server_power'], windowMs: W } }, probe);
      t.teardown(() => node.stop());
      return { probe, servers };
    }),
  );
  let measuring = true;
  const measure = (async () => {
    while (measuring) {
      const ts = Date.now();
      await Promise.all(delegates.map((d) => d.probe.store.append(Array.from({ length: d.servers }, (_, i) => ({ indicator: 'server_power', device: `srv${i}`, ts, datum: 750 })))));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.teardown(async () => {
    measuring = false;
    await measure;
  });

  const stored = () => (site.probe.query({ indicator: 'it_power', from: 0, limit: 100_000 }) as Records).records;
  await waitUntil('the site computes', () => stored().length >= 3, 30_000);
  for (let round = 1; round <= 8; round++) {
    await nats.stop();
    const downAt = Date.now();
    await waitUntil('10 s of outage measured', () => delegates.every((d) => (d.probe.query({ indicator: 'server_power', from: downAt + 10_000, mode: 'count' }) as { count: number }).count > 0), 30_000);
    const upAt = Date.now();
    nats = await nats.restart();
    await waitUntil(`round ${round}: the windows of the outage and two after it stored`, () => stored().some((r) => r.ts >= upAt + 2 * W), 60_000);
  }
  measuring = false;
  await measure;

  const records = stored();
  const wrong = records.filter((r) => r.datum !== 12_000);
  t.same(wrong, [], `${records.length} site totals stored across eight outages: none computed from a subset`);
  t.equal(new Set(records.map((r) => r.ts)).size, records.length, 'each window stored once');
  t.ok(
    records.every((r) => r.ts % W === 0),
    'under the windows’ own start times',
  );
  const marks = (site.probe.query({ indicator: 'complete', from: 0, limit: 100_000 }) as Records).records;
  t.ok(marks.length >= records.length && marks.every((r) => r.datum === 1), 'every window marked complete');
  const span = (records.at(-1)!.ts - records[0]!.ts) / W + 1;
  t.equal(records.length, span, `no window missing between the first and the last (${span})`);
});
