// npm run bench -- scale [--quick]
// 100,000 sensors at one site: the demo's five-network data center (NATS hub and leaf node of
// deploy/nats, five delegated probes, the site coordinator, each its own process) with 814
// temperature sensors on each of its 123 servers, every 10 s, for 3 minutes (--quick: 1). The
// simulated agents run in four processes of their own; their CPU is reported apart. Measured:
// values stored per second, tick lag, every window merged at the site, the coordinator's memory,
// and the CPU the probes spend per 1,000 values end to end (acquire → store → partials → merge)
// against what an operator would run instead: Prometheus scraping the same agents through
// prometheus-snmp-exporter (Debian packages), the exporter's CPU as the baseline.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MergedWindow } from '@probemesh/model';
import { datacenterConfigs, natsConfigs, oids, server, serverTables, startHubAndLeaf, upsTables, LEAF_NETWORKS, NETWORKS, SERVERS, type MeshLayout } from '@probemesh/demo';
import { freeTcpPort, spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';
import { startAgents, type AgentFleet } from './load/agents.js';
import { getJson, launchProbe, stored, TickDurations, until, type ProbeProcess } from './load/probes.js';
import { cpuSeconds, memoryMiB, percentile } from './load/proc.js';

const quick = process.argv.includes('--quick');
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'scale', ...o }));
const progress = (s: string) => process.stderr.write(`scale bench: ${s}\n`);

const SENSORS_PER_SERVER = Math.ceil(100_000 / SERVERS); // 814 × 123 = 100,122
const SENSORS = SENSORS_PER_SERVER * SERVERS;
const PERIOD_MS = 10_000;
const ROUNDS = quick ? 6 : 18;
const AGENT_PROCESSES = 4;
const secret = () => randomBytes(12).toString('base64url');

const cleanups: Array<() => unknown> = [];
const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => progress(`cleanup: ${(e as Error).message}`));
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

/** Measures whole rounds from the middle of the next period on; resolves with [from, to). */
async function rounds(): Promise<[number, number]> {
  const from = Math.ceil(Date.now() / PERIOD_MS) * PERIOD_MS + PERIOD_MS / 2;
  await until(from);
  return [from, from + ROUNDS * PERIOD_MS];
}

try {
  const dir = await tempDir('probemesh-bench-scale-');
  cleanups.push(() => dir.remove());
  progress(`${SERVERS} simulated servers × ${SENSORS_PER_SERVER} sensors and a UPS in ${AGENT_PROCESSES} agent processes`);
  const agents: AgentFleet = await startAgents([...Array.from({ length: SERVERS }, (_, i) => serverTables(i + 1, SENSORS_PER_SERVER)), upsTables()], AGENT_PROCESSES);
  cleanups.push(() => agents.stop());
  const ids = [...Array.from({ length: NETWORKS }, (_, k) => `net${k + 1}`), 'site'];
  const passwords = Object.fromEntries(ids.map((id) => [id, secret()]));
  const onLeaf = (id: string) => LEAF_NETWORKS.some((k) => id === `net${k}`);
  const users = (which: string[]) => which.map((id) => ({ user: id, password: passwords[id]! }));
  const nats = await startHubAndLeaf({
    deployNats: await natsConfigs(),
    dir: dir.path,
    host: '127.0.0.1',
    hubPort: await freeTcpPort(),
    leafnodePort: await freeTcpPort(),
    leafPort: await freeTcpPort(),
    hubUsers: users(ids.filter((id) => !onLeaf(id))),
    leafUsers: users(ids.filter(onLeaf)),
    operator: { user: 'operator', password: secret() },
  });
  cleanups.push(() => nats.hub.stop(), () => nats.leaf.stop());
  const layout: MeshLayout = {
    natsUrl: nats.hub.url,
    leafUrl: nats.leaf.url,
    httpPorts: Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await freeTcpPort()] as const))),
    serverPorts: agents.ports.slice(0, SERVERS),
    upsPort: agents.ports[SERVERS]!,
    dataRoot: join(dir.path, 'data'),
    passwords,
    tokens: { read: secret(), admin: secret() },
    period: '10s',
    sensorsPerServer: SENSORS_PER_SERVER,
  };
  const token = layout.tokens.read;
  progress('five delegated probes and the site coordinator, each its own process');
  const probes: ProbeProcess[] = [];
  for (const config of datacenterConfigs(layout)) {
    const p = await launchProbe(config, join(dir.path, 'config'));
    cleanups.push(() => p.proc.stop(10_000));
    probes.push(p);
  }
  const delegates = probes.filter((p) => p.id !== 'site');
  const site = probes.find((p) => p.id === 'site')!;

  // Warm-up: a whole round stored at every delegate.
  const sensorsOf = (p: ProbeProcess) => Array.from({ length: SERVERS }, (_, i) => server(i + 1)).filter((s) => `net${s.network}` === p.id).length * SENSORS_PER_SERVER;
  const ready = Date.now() + 180_000;
  for (const p of delegates) while (Date.now() < ready && (await stored(p, token, 'sensor_temp', 0, Date.now() + 1)) < sensorsOf(p)) await until(Date.now() + 1000);
  progress(`${ROUNDS} rounds measured`);
  const [from, to] = await rounds();
  const ticks = new TickDurations(token, 'servers');
  const cpu0 = probes.map((p) => cpuSeconds(p.pid));
  const natsPids = [nats.hub.process.child.pid!, nats.leaf.process.child.pid!];
  const natsCpu0 = natsPids.map(cpuSeconds);
  const agentCpu0 = agents.cpuSeconds();
  while (Date.now() < to) {
    await ticks.sample(delegates, from).catch((e: unknown) => progress(`rule states: ${(e as Error).message}`));
    await until(Math.min(to, Date.now() + 2000));
  }
  const seconds = (to - from) / 1000;
  const probeCpu = probes.reduce((s, p, i) => s + cpuSeconds(p.pid) - cpu0[i]!, 0);
  const natsCpu = natsPids.reduce((s, pid, i) => s + cpuSeconds(pid) - natsCpu0[i]!, 0);
  const agentCpu = agents.cpuSeconds() - agentCpu0;
  let sensorValues = 0;
  let values = 0;
  for (const p of probes) {
    values += (await getJson<{ count: number }>(p, token, `/query?mode=count&from=${from}&to=${to}`)).count;
    if (p !== site) sensorValues += await stored(p, token, 'sensor_temp', from, to);
  }

  // Every window of the measured rounds merged at the site from all five networks.
  const starts = Array.from({ length: ROUNDS }, (_, i) => from + PERIOD_MS / 2 + i * PERIOD_MS);
  let windows: MergedWindow[] = [];
  const merged = () => starts.filter((s) => windows.some((w) => w.windowStart === s && w.state === 'complete' && w.sources.length === NETWORKS)).length;
  await waitUntil(
    'every measured window merged at the site',
    async () => {
      windows = await getJson<MergedWindow[]>(site, token, '/mesh/windows?indicator=sensor_temp&limit=1000');
      return merged() === ROUNDS;
    },
    120_000,
  ).catch((e: unknown) => progress((e as Error).message.split('\n')[0]!));
  const siteMem = memoryMiB(site.pid);
  const rss = Object.fromEntries(probes.map((p) => [p.id, Math.round(memoryMiB(p.pid)?.peak ?? NaN)]));
  const lags = ticks.values;
  const common = { sensors: SENSORS, rounds: ROUNDS, agents_cpu_percent: +((100 * agentCpu) / seconds).toFixed(1), agent_processes: AGENT_PROCESSES };
  emit({ metric: 'sensors_100k_values_per_s', value: Math.round(sensorValues / seconds), unit: 'values/s', baseline: SENSORS / (PERIOD_MS / 1000), ratio: +(sensorValues / seconds / (SENSORS / 10)).toFixed(3), baseline_is: 'values offered (sensors / 10 s)', target: 10_000, ...common });
  emit({ metric: 'sensors_100k_lag_p99_ms', value: Math.round(percentile(lags, 0.99)), unit: 'ms', p50: Math.round(percentile(lags, 0.5)), ticks: lags.length, target: 2000, what: 'tick start → every value of the delegate stored (rule tickMs), over the five delegates', ...common });
  emit({ metric: 'sensors_100k_windows_merged', value: merged(), unit: 'windows', baseline: ROUNDS, ratio: +(merged() / ROUNDS).toFixed(3), what: 'measured windows of sensor_temp complete at the site with all five networks in', ...common });
  emit({ metric: 'sensors_100k_coordinator_rss_mib', value: Math.round(siteMem?.rss ?? NaN), unit: 'MiB', peak: Math.round(siteMem?.peak ?? NaN), peak_per_probe: rss, ...common });

  // The same agents scraped by Prometheus through snmp_exporter, for as many rounds.
  const perK = (cpu: number, n: number) => +((cpu * 1000) / (n / 1000)).toFixed(2);
  const ours = { value: perK(probeCpu, values), values, probe_cpu_s: +probeCpu.toFixed(1), nats_cpu_ms_per_1k_values: perK(natsCpu, values) };
  for (const p of probes) await p.proc.stop(10_000);
  const exporterBin = '/usr/bin/prometheus-snmp-exporter';
  if (!existsSync(exporterBin) || !existsSync('/usr/bin/prometheus')) {
    emit({ metric: 'cpu_ms_per_1k_values', ...ours, unit: 'cpu-ms', skipped: 'baseline: prometheus-snmp-exporter and prometheus (Debian packages) are not installed' });
  } else {
    progress(`the same agents scraped by Prometheus through snmp_exporter, ${ROUNDS} rounds`);
    const exporterPort = await freeTcpPort();
    const promPort = await freeTcpPort();
    await mkdir(join(dir.path, 'prometheus'), { recursive: true });
    await writeFile(join(dir.path, 'snmp.yml'), exporterConfig(layout));
    await writeFile(join(dir.path, 'prometheus.yml'), prometheusConfig(layout, exporterPort));
    const exporter = spawnLogged(exporterBin, [`--config.file=${join(dir.path, 'snmp.yml')}`, `--web.listen-address=127.0.0.1:${exporterPort}`, '--log.level=warn']);
    cleanups.push(() => exporter.stop());
    await waitUntil('snmp_exporter', async () => (await fetch(`http://127.0.0.1:${exporterPort}/`)).ok, 30_000, exporter);
    const prom = spawnLogged('/usr/bin/prometheus', [`--config.file=${join(dir.path, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir.path, 'prometheus')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
    cleanups.push(() => prom.stop());
    await waitUntil('prometheus', async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).ok, 60_000, prom);
    const appended = async () => {
      const text = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
      return Number(/^prometheus_tsdb_head_samples_appended_total(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? NaN);
    };
    await until(Date.now() + 2 * PERIOD_MS); // every target scraped once
    const [bFrom, bTo] = await rounds();
    const [e0, p0, s0, a0] = [cpuSeconds(exporter.child.pid!), cpuSeconds(prom.child.pid!), await appended(), agents.cpuSeconds()];
    await until(bTo);
    const bSeconds = (bTo - bFrom) / 1000;
    const [eCpu, pCpu, samples] = [cpuSeconds(exporter.child.pid!) - e0, cpuSeconds(prom.child.pid!) - p0, (await appended()) - s0];
    const baseline = perK(eCpu, samples);
    emit({
      metric: 'cpu_ms_per_1k_values',
      ...ours,
      unit: 'cpu-ms',
      baseline,
      ratio: +(ours.value / baseline).toFixed(2),
      baseline_with_prometheus: perK(eCpu + pCpu, samples),
      baseline_values: samples,
      probe_is: 'CPU of the five delegates and the site coordinator (acquire, filter/transform, store, formulas, decisions, partials, merge) per 1,000 values they stored',
      baseline_is: 'CPU of prometheus-snmp-exporter per 1,000 samples Prometheus appended scraping the same agents every 10 s (baseline_with_prometheus adds Prometheus)',
      agents_cpu_percent_baseline: +((100 * (agents.cpuSeconds() - a0)) / bSeconds).toFixed(1),
      ...common,
    });
  }
} finally {
  await cleanup();
}

/** What an operator writes for snmp_exporter (0.21 format): one module walking the columns the delegates read. */
function exporterConfig(l: MeshLayout): string {
  const column = (oid: string) => oid.replace(/\.1$/, '');
  const metrics: Array<[string, string, string]> = [
    ['hrProcessorLoad', column(oids.cpuLoad), 'gauge'],
    ['ifInOctets', column(oids.inOctets), 'counter'],
    ['entPhySensorValue', column(oids.power), 'gauge'],
    ['lmTempSensorsValue', oids.sensorTable, 'gauge'],
  ];
  return [
    'servers:',
    '  version: 2',
    '  auth: { community: public }',
    `  max_repetitions: ${Math.min(1000, (l.sensorsPerServer ?? 0) + 1)}`,
    '  retries: 0',
    '  timeout: 5s',
    '  walk:',
    ...metrics.map(([, oid]) => `    - ${oid}`),
    '  metrics:',
    ...metrics.map(([name, oid, type]) => `    - { name: ${name}, oid: ${oid}, type: ${type}, indexes: [{ labelname: index, type: gauge }] }`),
    '',
  ].join('\n');
}

/** Prometheus scraping every server through the exporter every 10 s (the exporter's documented relabelling). */
function prometheusConfig(l: MeshLayout, exporterPort: number): string {
  return [
    'global: { scrape_interval: 10s, scrape_timeout: 9s }',
    'scrape_configs:',
    '  - job_name: snmp',
    '    metrics_path: /snmp',
    '    params: { module: [servers] }',
    `    static_configs: [{ targets: [${l.serverPorts.map((p) => `"127.0.0.1:${p}"`).join(', ')}] }]`,
    '    relabel_configs:',
    '      - { source_labels: [__address__], target_label: __param_target }',
    '      - { source_labels: [__param_target], target_label: instance }',
    `      - { target_label: __address__, replacement: "127.0.0.1:${exporterPort}" }`,
    '',
  ].join('\n');
}
