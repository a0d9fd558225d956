import t from 'tap';
import type { Value } from '@probemesh/model';
import { freeTcpPort, startForwarders, startJsonDevice, startNats, waitUntil, type Forwarders } from '@probemesh/testkit';
import { startProbeProcess, type ProbeProcess } from './probe-process.js';

// The site PUE at a coordinator process, from two delegate processes, over a NATS outage and over
// a delegate whose link to NATS is cut (it goes on measuring) and comes back. net-a has 4 servers,
// net-b 12, drawing 750–780 W each, and the facility meter 18,000–18,600 W, both changing from one
// window to the next: a PUE stored under another window's time, or from net-a alone, is a wrong
// figure. Each figure is judged against what the delegates stored in its window and the meter
// reading the site stored at its start.

const W = 1000;
const step = () => Math.floor(Date.now() / W);

t.setTimeout(480_000);

t.test('site PUE — one per window under its start, never from a subset unless marked incomplete, computed again under the same time when the late window comes: over a NATS outage and a delegate cut off and back (probe processes, a real nats-server)', async (t) => {
  let nats = await startNats();
  t.teardown(() => nats.remove());
  const servers = await startJsonDevice(() => ({ watts: 750 + (step() % 4) * 10 }));
  t.teardown(() => servers.stop());
  const meter = await startJsonDevice(() => ({ watts: 18_000 + (step() % 7) * 100 }));
  t.teardown(() => meter.stop());

  // net-b reaches NATS through a forwarder the test cuts: a link that goes away while the probe measures.
  const linkPort = await freeTcpPort();
  const link = () => startForwarders({ routes: [{ listen: { host: '127.0.0.1', port: linkPort }, target: { host: '127.0.0.1', port: nats.port } }] });
  let netbLink: Forwarders | undefined = await link();
  t.teardown(() => netbLink?.stop());

  const site = await startProbeProcess(t.teardown, {
    id: 'site',
    role: 'coordinator',
    nats: { servers: [nats.url] },
    mesh: { children: ['net-a', 'net-b'], grace: '10s' },
    devices: [{ id: 'meter', address: '127.0.0.1', protocols: { http: { baseUrl: meter.url } } }],
    indicators: [
      { id: 'facility_power', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.watts' } },
      { id: 'it_power', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } },
      { id: 'pue', kind: 'calculated', formula: 'facility_power@meter / it_power' },
    ],
    rules: [
      { id: 'meter', period: '1s', indicators: ['facility_power'], targets: { devices: ['meter'] } },
      { id: 'site', period: '1s', indicators: ['it_power', 'pue'] },
    ],
  });
  const delegate = (id: string, n: number, url: string): Promise<ProbeProcess> =>
    startProbeProcess(t.teardown, {
      id,
      role: 'delegated',
      parent: 'site',
      nats: { servers: [url] },
      mesh: { partials: { indicators: ['server_power'], window: `${W}ms` } },
      devices: Array.from({ length: n }, (_, i) => ({ id: `${id}-srv${i}`, address: '127.0.0.1', tags: { role: 'server' }, protocols: { http: { baseUrl: servers.url } } })),
      indicators: [{ id: 'server_power', kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.watts' } }],
      rules: [{ id: 'servers', period: '1s', indicators: ['server_power'], targets: { tags: { role: 'server' } } }],
    });
  const netA = await delegate('net-a', 4, nats.url);
  const netB = await delegate('net-b', 12, `nats://127.0.0.1:${linkPort}`);

  const stored = async (indicator: string) => ((await site.call('GET', `/query?indicator=${indicator}&rule=site&limit=100000`)).body as { records: Value[] }).records;
  /** The IT power of a window as the delegates stored it (each server read once in it). */
  const itPower = async (ts: number, of = [netA, netB]) => {
    let sum = 0;
    for (const d of of) sum += ((await d.call('GET', `/query?indicator=server_power&from=${ts}&to=${ts + W}&mode=sum`)).body as { value: number | null }).value ?? 0;
    return sum;
  };
  /** The PUE of a window: the site's meter reading at its start over its IT power. */
  const truePue = async (ts: number, of = [netA, netB]) => {
    const meterAt = ((await site.call('GET', `/query?indicator=facility_power&to=${ts + 1}&last=1`)).body as { records: Value[] }).records[0]?.datum as number;
    return meterAt / (await itPower(ts, of));
  };
  // Every PUE the site stores at any time of the run, as it was stored then.
  const seen = new Map<string, Value>();
  let watching = true;
  const watch = (async () => {
    while (watching) {
      for (const r of await stored('pue')) seen.set(`${r.ts} ${r.datum} ${r.incomplete ?? false}`, r);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  t.teardown(async () => {
    watching = false;
    await watch;
  });
  const pueSince = async (ts: number) => (await stored('pue')).filter((r) => r.ts >= ts);

  await waitUntil('the site computes its PUE', async () => (await pueSince(0)).length >= 3, 90_000, site.proc);

  // NATS goes away while everyone measures, for 8 windows, then comes back.
  await nats.stop();
  const downAt = Date.now();
  await waitUntil('8 windows measured while NATS is away', async () => ((await netA.call('GET', `/query?indicator=server_power&from=${downAt + 8 * W}&mode=count`)).body as { count: number }).count > 0, 60_000, netA.proc);
  nats = await nats.restart();
  const upAt = Date.now();
  await waitUntil('the windows of the outage and two after it complete at the site', async () => (await pueSince(upAt + 2 * W)).some((r) => !r.incomplete), 120_000, site.proc);

  // net-b's link is cut (it goes on measuring): its windows are computed without it, marked incomplete.
  await netbLink.stop();
  netbLink = undefined;
  const cutAt = Date.now();
  await waitUntil('windows computed without net-b, marked', async () => (await pueSince(cutAt)).filter((r) => r.incomplete).length >= 3, 120_000, site.proc);
  const subset = (await pueSince(cutAt)).filter((r) => r.incomplete);
  const notFromA: Value[] = [];
  for (const r of subset) if (r.datum !== (await truePue(r.ts, [netA]))) notFromA.push(r);
  t.same(notFromA, [], `while net-b is away: ${subset.length} PUEs from net-a alone (about 6), each marked incomplete`);
  netbLink = await link();
  const backAt = Date.now();
  await waitUntil('net-b back: every window since the cut complete', async () => {
    const since = await pueSince(cutAt);
    return since.some((r) => r.ts >= backAt + 2 * W) && since.every((r) => !r.incomplete);
  }, 120_000, site.proc);
  watching = false;
  await watch;

  const pue = await stored('pue');
  const it = await stored('it_power');
  const exact = new Map<number, { it: number; pue: number }>();
  for (const r of [...pue, ...it, ...seen.values()]) if (!exact.has(r.ts)) exact.set(r.ts, { it: await itPower(r.ts), pue: await truePue(r.ts) });
  const unmarked = [...seen.values()].filter((r) => !r.incomplete && r.datum !== exact.get(r.ts)!.pue);
  t.same(unmarked, [], `never a PUE from a subset without the mark: ${seen.size} figures stored during the run, each the exact one or marked incomplete`);
  const marked = [...seen.values()].filter((r) => r.incomplete);
  t.ok(marked.length >= 3, `${marked.length} windows stored incomplete while net-b was away`);
  t.same(
    pue.filter((r) => r.incomplete || r.datum !== exact.get(r.ts)!.pue),
    [],
    `every one of the ${pue.length} PUEs stored is the exact complete one now, those stored incomplete computed again under their own time`,
  );
  t.same(it.filter((r) => r.incomplete || r.datum !== exact.get(r.ts)!.it), [], 'so is every IT power');
  t.ok(new Set(pue.map((r) => r.datum)).size > 3, 'the figures changed from window to window (a figure under another window would show)');
  t.equal(new Set(pue.map((r) => r.ts)).size, pue.length, 'one PUE per window');
  t.ok(
    pue.every((r) => r.ts % W === 0),
    "each under its window's start",
  );
  const span = (pue.at(-1)!.ts - pue[0]!.ts) / W + 1;
  t.equal(pue.length, span, `no window missing from the first to the last (${span}), the outage's ${Math.round((upAt - downAt) / W)} and the cut's among them`);
});
