// npm run bench -- mesh [--quick]
// Alert latency from a threshold crossing at a probe to a plain NATS subscriber, and partial
// aggregates a coordinator merges per second, each against bare NATS in the same run; a delegate
// process cut off from NATS for 500 windows (backlog windows delivered per second afterwards, its
// RSS growth over the outage); how long after a window ends the coordinator has its complete
// figure; then `probemesh up` with 20,000 simulated sensors over the five delegates at 10 s (the agents
// in processes of their own, their CPU reported apart):
// values stored per second (against the rate offered), tick lag, RSS per probe process.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { MergedWindows, MeshNode, meshConnector } from '@probemesh/mesh';
import { msgIds, streams, subjects, type PartialAggregate } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { freeTcpPort, spawnLogged, startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { SERVERS, cli, serverTables, up, upsTables } from '@probemesh/demo';
import { startAgents } from './load/agents.js';
import { probePid } from './load/proc.js';

const quick = process.argv.includes('--quick');
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'mesh', ...o }));
const progress = (s: string) => process.stderr.write(`mesh bench: ${s}\n`);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

const nats = await startNats();
const dirs = [await tempDir(), await tempDir()];
try {
  const nc = await connect({ servers: nats.url });
  // --- alert latency ---------------------------------------------------------------------
  const probe = await Probe.start({ id: 'delegate', dataDir: dirs[0]!.path, connectors: [] });
  await probe.put('indicators', { id: 't', kind: 'static', value: 0 });
  await probe.put('rules', { id: 'r', indicators: ['t'], period: '1h', decisions: [{ id: 'hot', when: 't > 30', severity: 'critical' }] });
  const node = await MeshNode.start({ id: 'delegate', role: 'delegated', nats: { servers: [nats.url] }, store: probe.store }, probe);
  let arrived: (() => void) | undefined;
  nc.subscribe(subjects.alerts, { callback: () => arrived?.() });
  nc.subscribe('bare.echo', { callback: () => arrived?.() });
  await nc.flush();
  const n = quick ? 100 : 400;
  const mesh: number[] = [];
  const bare: number[] = [];
  progress(`${n} alert transitions through a probe, and ${n} bare publishes`);
  for (let i = 0; i < n; i++) {
    await probe.setStatic('t', i % 2 === 0 ? 31 : 29); // crosses the threshold up, then down
    const got = new Promise<void>((r) => (arrived = r));
    const t0 = performance.now(); // from the tick that decides: setting the value is the stimulus, not the alert's path
    await probe.tickNow('r');
    await got;
    mesh.push(performance.now() - t0);
    const got2 = new Promise<void>((r) => (arrived = r));
    const t1 = performance.now();
    nc.publish('bare.echo', enc({ i }));
    await got2;
    bare.push(performance.now() - t1);
  }
  for (const [name, p] of [
    ['alert_latency_p50_ms', 0.5],
    ['alert_latency_p99_ms', 0.99],
  ] as const) {
    const v = pct(mesh, p);
    const b = pct(bare, p);
    emit({ metric: name, value: +v.toFixed(3), unit: 'ms', baseline: +b.toFixed(3), ratio: +(v / b).toFixed(1), samples: n, path: 'tick → decision → outbox commit in the store → JetStream publish (acked) → subscriber', baseline_is: 'bare NATS publish → subscriber' });
  }
  await node.stop();
  await probe.stop();

  // --- partials merged per second --------------------------------------------------------
  const m = quick ? 5_000 : 20_000;
  progress(`${m} partial aggregates into ${streams.partials}`);
  const js = jetstream(nc);
  const W = 10_000;
  const first = Math.floor(Date.now() / W) * W - 100 * W; // recent windows: a coordinator drops partials older than its horizon (7 days)
  const pubs: Promise<unknown>[] = [];
  for (let i = 0; i < m; i++) {
    const start = first + Math.floor(i / 2000) * W;
    const p: PartialAggregate = { probe: `net${i % 5}`, indicator: `sensor${Math.floor(i / 5) % 400}`, group: '', windowStart: start, windowEnd: start + W, count: 10, sum: 100 + (i % 100), min: 1, max: 20, devices: 10 }; // a sum 10 values in 1..20 can make (others are refused)
    pubs.push(js.publish(subjects.partial(p.probe, p.indicator), enc(p), { msgID: msgIds.partial(p) }));
    if (pubs.length >= 500) await Promise.all(pubs.splice(0));
  }
  await Promise.all(pubs);
  // Baseline: a bare durable consumer reading and acking the same messages.
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(streams.partials, { durable_name: 'bare', ack_policy: AckPolicy.Explicit });
  const bareConsumer = await (await js.consumers.get(streams.partials, 'bare')).consume({ max_messages: 256 });
  let t0 = performance.now();
  let seen = 0;
  for await (const msg of bareConsumer) {
    msg.json();
    msg.ack();
    if (++seen >= m) break;
  }
  const bareS = (performance.now() - t0) / 1000;
  await bareConsumer.close();
  const coord = await Probe.start({ id: 'coord', dataDir: dirs[1]!.path, connectors: [] });
  const merged = new MergedWindows();
  merged.attach(coord.store);
  t0 = performance.now();
  const coordNode = await MeshNode.start({ id: 'coord', role: 'coordinator', nats: { servers: [nats.url] }, store: coord.store, merged }, coord);
  const deadline = Date.now() + 120_000;
  while (coordNode.merges < m && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const meshS = (performance.now() - t0) / 1000;
  const merges = coordNode.merges;
  emit({ metric: 'partials_merged_per_s', value: Math.round(merges / meshS), unit: 'partials/s', baseline: Math.round(m / bareS), ratio: +(merges / meshS / (m / bareS)).toFixed(3), partials: m, merged: merges, note: 'each merge is saved in the store before its ack', baseline_is: 'bare durable JetStream consumer, parse + ack' });
  await coordNode.stop();
  await coord.stop();
  await nc.close();
} finally {
  await nats.remove();
  for (const d of dirs) await d.remove();
}

// --- a delegate process away from NATS for 500 windows ------------------------------------------
{
  const W = 20;
  const OUTAGE = 500;
  const dir = await tempDir();
  let nats = await startNats();
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const merged = new MergedWindows();
    const coord = await Probe.start({ id: 'coord', dataDir: join(dir.path, 'coord'), connectors: [] });
    stops.push(() => coord.stop());
    merged.attach(coord.store);
    const coordNode = await MeshNode.start({ id: 'coord', role: 'coordinator', nats: { servers: [nats.url] }, store: coord.store, merged, children: ['edge'], heartbeatMs: 1000 }, coord);
    stops.unshift(() => coordNode.stop());
    const config = {
      id: 'edge',
      role: 'delegated',
      parent: 'coord',
      dataDir: join(dir.path, 'edge'),
      http: { host: '127.0.0.1', port: await freeTcpPort() },
      nats: { servers: [nats.url] },
      mesh: { partials: { indicators: ['load'], window: `${W}ms` } },
      indicators: [
        { id: 'racks', kind: 'static', value: 12 },
        { id: 'load', kind: 'calculated', formula: 'racks * 2' },
      ],
      rules: [{ id: 'r', indicators: ['racks', 'load'], period: '10ms' }],
    };
    await writeFile(join(dir.path, 'edge.json'), JSON.stringify(config));
    const edge = spawnLogged(process.execPath, [cli, 'probe', '--config', join(dir.path, 'edge.json')]);
    stops.unshift(() => edge.stop(5000));
    const rssMiB = async () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${probePid(edge.child.pid!)}/status`, 'utf8'))![1]) / 1024;
    await waitUntil('the delegate sends windows', () => merged.list({ indicator: 'load' }).filter((w) => w.count > 0).length >= 20, 60_000, edge);
    progress(`the delegate's RSS over ${OUTAGE} windows with NATS there, then with NATS away`);
    const rssConnected = await rssMiB();
    await new Promise((r) => setTimeout(r, OUTAGE * W + 2 * W));
    const growthConnected = (await rssMiB()) - rssConnected;
    const rssStart = await rssMiB();
    const downAt = Date.now();
    await nats.stop();
    await new Promise((r) => setTimeout(r, OUTAGE * W + 2 * W));
    const rssEnd = await rssMiB();
    const upAt = Date.now();
    nats = await nats.restart();
    const owed: number[] = [];
    for (let s = Math.floor(downAt / W) * W; s + W <= upAt - W; s += W) owed.push(s);
    await waitUntil('every window of the outage merged', () => owed.every((s) => merged.get('load', s)?.sources.includes('edge/')), 120_000, edge);
    const seconds = (Date.now() - upAt) / 1000;
    emit({ metric: 'outage_backlog_windows_per_s', value: Math.round(owed.length / seconds), unit: 'windows/s', windows: owed.length, seconds: +seconds.toFixed(2), window_ms: W, what: 'from NATS back to every window of the outage merged at the coordinator (the delegate paces a backlog at 200 windows/s)' });
    emit({ metric: 'rss_growth_mib_outage', value: +(rssEnd - rssStart).toFixed(1), unit: 'MiB', baseline: +growthConnected.toFixed(1), start: +rssStart.toFixed(1), end: +rssEnd.toFixed(1), what: `delegate process RSS over an outage of ${OUTAGE} windows`, baseline_is: 'its RSS growth over as long with NATS there' });
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await nats.remove();
    await dir.remove();
  }
}

// --- how long after a window ends its complete figure is there -----------------------------------
{
  const W = 1000;
  const rounds = quick ? 10 : 30;
  const dir = await tempDir();
  const nats = await startNats();
  const stops: Array<() => Promise<unknown>> = [];
  let measuring = true;
  try {
    const merged = new MergedWindows();
    const site = await Probe.start({ id: 'site', dataDir: join(dir.path, 'site'), connectors: [meshConnector(merged)] });
    stops.push(() => site.stop());
    merged.attach(site.store);
    const siteNode = await MeshNode.start({ id: 'site', role: 'coordinator', nats: { servers: [nats.url] }, store: site.store, merged, children: ['net-a', 'net-b'], heartbeatMs: 1000 }, site);
    stops.unshift(() => siteNode.stop());
    const nets = await Promise.all(
      ['net-a', 'net-b'].map(async (id) => {
        const p = await Probe.start({ id, dataDir: join(dir.path, id), connectors: [] });
        stops.push(() => p.stop());
        const n = await MeshNode.start({ id, role: 'delegated', parent: 'site', nats: { servers: [nats.url] }, store: p.store, heartbeatMs: 1000, partials: { indicators: ['server_power'], windowMs: W } }, p);
        stops.unshift(() => n.stop());
        return p;
      }),
    );
    const loop = (async () => {
      while (measuring) {
        const ts = Date.now();
        await Promise.all(nets.map((p) => p.store.append(Array.from({ length: 10 }, (_, k) => ({ indicator: 'server_power', device: `srv${k}`, ts, datum: 750 })))));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    stops.push(async () => ((measuring = false), await loop));
    progress(`${rounds} windows of ${W} ms from two delegates: time from a window's end to its complete figure at the coordinator`);
    const completeAt = new Map<number, number>();
    const from = Math.ceil(Date.now() / W) * W + W;
    while (completeAt.size < rounds) {
      for (const w of merged.list({ indicator: 'server_power', limit: 5 })) if (w.windowStart >= from && w.state === 'complete' && !completeAt.has(w.windowStart)) completeAt.set(w.windowStart, Date.now() - w.windowEnd);
      await new Promise((r) => setTimeout(r, 5));
    }
    const waits = [...completeAt.values()];
    emit({ metric: 'complete_window_wait_ms', value: Math.round(pct(waits, 0.99)), unit: 'ms', p50: Math.round(pct(waits, 0.5)), windows: waits.length, window_ms: W, what: "a window's end to the coordinator's complete figure (two delegates; each computes a window 500 ms after it ends, min(2 s, window / 2), so late values are in)" });
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await nats.remove();
    await dir.remove();
  }
}

// --- 20,000 sensors over five delegates at 10 s ------------------------------------------------
const AGENT_PROCESSES = 2;
{
  const perServer = Math.ceil(20_000 / SERVERS); // 163 × 123 = 20,049 sensors
  const sensors = perServer * SERVERS;
  const rounds = quick ? 3 : 9;
  const dir = await tempDir();
  // The agents answer from processes of their own, as in the scale and footprint benches: testkit's
  // in-process agents spend ~0.7 s of one thread per round here, and the lag measured them.
  progress(`${SERVERS} simulated servers and a UPS in ${AGENT_PROCESSES} agent processes`);
  const agents = await startAgents([...Array.from({ length: SERVERS }, (_, i) => serverTables(i + 1, perServer)), upsTables()], AGENT_PROCESSES);
  progress(`probemesh up with ${sensors} sensors (${perServer} per server, 123 servers, five delegates), rules every 10 s; ${rounds} rounds measured`);
  const mesh = await up({ dir: dir.path, period: '10s', sensorsPerServer: perServer, statusMs: 0, say: () => undefined, agents: { serverPorts: agents.ports.slice(0, SERVERS), upsPort: agents.ports[SERVERS]! } }).catch(async (err: unknown) => {
    await agents.stop();
    throw err;
  });
  try {
    const get = async <T>(probe: string, path: string): Promise<T> => (await (await fetch(`${mesh.urls[probe]}${path}`, { headers: { authorization: `Bearer ${mesh.tokens.read}` } })).json()) as T;
    const nets = Object.keys(mesh.urls).filter((id) => id !== 'site');
    const count = async (from: number, to: number) => {
      let n = 0;
      for (const id of nets) n += (await get<{ count: number }>(id, `/query?indicator=sensor_temp&mode=count&from=${from}&to=${to}`)).count;
      return n;
    };
    // Warm-up: one full round everywhere.
    const ready = Date.now() + 60_000;
    while ((await count(0, Date.now() + 1)) < sensors && Date.now() < ready) await new Promise((r) => setTimeout(r, 1000));
    // Measure whole rounds: from the middle of one period to the middle of another.
    const from = Math.ceil(Date.now() / 10_000) * 10_000 + 5_000;
    await new Promise((r) => setTimeout(r, from - Date.now()));
    const agentCpu0 = agents.cpuSeconds();
    /** Each delegate's tick time, once per tick (states are read every 2.5 s). */
    const lagOf = new Map<string, number>();
    const rss: Record<string, number> = {};
    const until = from + rounds * 10_000;
    while (Date.now() < until) {
      for (const id of nets) {
        const states = await get<Array<{ rule: string; tickMs?: number; lastTick?: number }>>(id, '/rules/states');
        const s = states.find((r) => r.rule === 'servers');
        if (s?.tickMs !== undefined && s.lastTick !== undefined && s.lastTick >= from) lagOf.set(`${id} ${s.lastTick}`, s.tickMs);
      }
      for (const id of Object.keys(mesh.urls)) {
        const text = await (await fetch(`${mesh.urls[id]}/metrics`, { headers: { authorization: `Bearer ${mesh.tokens.read}` } })).text();
        const m = /probemesh_resident_memory_bytes(?:\{[^}]*\})? (\d+)/.exec(text);
        if (m) rss[id] = Math.max(rss[id] ?? 0, Number(m[1]) / 2 ** 20);
      }
      await new Promise((r) => setTimeout(r, 2500));
    }
    const to = until;
    await new Promise((r) => setTimeout(r, Math.max(0, to - Date.now())));
    const stored = await count(from, to);
    const seconds = (to - from) / 1000;
    const agentsCpu = { agents_cpu_percent: +((100 * (agents.cpuSeconds() - agentCpu0)) / seconds).toFixed(1), agent_processes: AGENT_PROCESSES };
    const lags = [...lagOf.values()];
    const offered = sensors / 10;
    emit({ metric: 'sensors_20k_values_per_s', value: Math.round(stored / seconds), unit: 'values/s', baseline: offered, ratio: +(stored / seconds / offered).toFixed(3), sensors, seconds: +seconds.toFixed(1), baseline_is: 'values offered (sensors / 10 s)', ...agentsCpu });
    emit({ metric: 'sensors_20k_lag_ms', value: Math.round(pct(lags, 0.99)), unit: 'ms', p50: Math.round(pct(lags, 0.5)), ticks: lags.length, what: 'tick start → every value of the delegate stored (rule tickMs), p99 over delegates and rounds', ...agentsCpu });
    const values = Object.values(rss);
    emit({ metric: 'rss_per_probe_mib', value: Math.round(Math.max(...values)), unit: 'MiB', mean: Math.round(values.reduce((a, b) => a + b, 0) / values.length), per_probe: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.round(v)])) });
  } finally {
    await mesh.stop();
    await agents.stop();
    await dir.remove();
  }
}
