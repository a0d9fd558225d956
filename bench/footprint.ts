// npm run bench -- footprint [--quick]
// The paper's board: ONE delegated probe polling 20,000 sensors every 10 s (network 1 of the demo
// site, 25 servers × 800 temperature sensors, read with one walk each) inside a cgroup of 256 MiB
// and one core, for 10 minutes (--quick: 2). The simulated agents and nats-server run outside the
// cgroup, the agents in processes of their own. Needs root (the cgroup); without it, says why.
import { join } from 'node:path';
import { datacenterConfigs, serverTables, SERVERS, type MeshLayout } from '@probemesh/demo';
import { freeTcpPort, startNats, tempDir } from '@probemesh/testkit';
import { startAgents } from './load/agents.js';
import { launchProbe, stored, TickDurations, until, type ProbeProcess } from './load/probes.js';
import { cgroupUnavailable, cpuSeconds, createCgroup, memoryMiB, percentile } from './load/proc.js';

const quick = process.argv.includes('--quick');
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'footprint', ...o }));
const progress = (s: string) => process.stderr.write(`footprint bench: ${s}\n`);

const SERVERS_OF_NET1 = 25;
const SENSORS_PER_SERVER = 800;
const SENSORS = SERVERS_OF_NET1 * SENSORS_PER_SERVER;
const PERIOD_MS = 10_000;
const MEMORY_MIB = 256;
const minutes = quick ? 2 : 10;

const why = cgroupUnavailable();
if (why) {
  progress(`skipped: ${why}`);
  emit({ metric: 'sensors_20k_cgroup_values_per_s', skipped: why });
  process.exit(0);
}

const cleanups: Array<() => unknown> = [];
const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch((e: unknown) => progress(`cleanup: ${(e as Error).message}`));
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

try {
  const dir = await tempDir('probemesh-bench-footprint-');
  cleanups.push(() => dir.remove());
  const nats = await startNats();
  cleanups.push(() => nats.remove());
  progress(`${SERVERS_OF_NET1} simulated servers × ${SENSORS_PER_SERVER} sensors in 3 agent processes`);
  const agents = await startAgents(
    Array.from({ length: SERVERS_OF_NET1 }, (_, i) => serverTables(i + 1, SENSORS_PER_SERVER)),
    3,
  );
  cleanups.push(() => agents.stop());
  const layout: MeshLayout = {
    natsUrl: nats.url,
    leafUrl: nats.url,
    httpPorts: { net1: await freeTcpPort() },
    serverPorts: Array.from({ length: SERVERS }, (_, i) => agents.ports[i] ?? 0), // only network 1's servers run
    upsPort: 0,
    dataRoot: join(dir.path, 'data'),
    passwords: {},
    tokens: { read: 'bench-read-token-0000000', admin: 'bench-admin-token-000000' },
    period: '10s',
    sensorsPerServer: SENSORS_PER_SERVER,
  };
  const config = datacenterConfigs(layout).find((c) => c.id === 'net1')!;
  const cgroup = createCgroup(`probemesh-footprint-${process.pid}`, MEMORY_MIB * 2 ** 20, 1);
  cleanups.push(() => cgroup.remove());
  progress(`the delegated probe in cgroup v${cgroup.version} (memory ${MEMORY_MIB} MiB, one core), ${minutes} min measured`);
  const probe: ProbeProcess = await launchProbe(config, dir.path, cgroup);
  cleanups.push(() => probe.proc.stop(10_000));
  const token = layout.tokens.read;

  // Warm-up: one whole round stored.
  const ready = Date.now() + 120_000;
  while (Date.now() < ready && (await stored(probe, token, 'sensor_temp', 0, Date.now() + 1)) < SENSORS) await until(Date.now() + 1000);
  // Whole rounds, from the middle of one period to the middle of another.
  const from = Math.ceil(Date.now() / PERIOD_MS) * PERIOD_MS + PERIOD_MS / 2;
  const rounds = (minutes * 60_000) / PERIOD_MS;
  const to = from + rounds * PERIOD_MS;
  await until(from);
  const ticks = new TickDurations(token, 'servers');
  const cpu0 = cpuSeconds(probe.pid);
  const agentCpu0 = agents.cpuSeconds();
  let rssMax = 0;
  let ended: string | undefined;
  while (Date.now() < to && !(ended = probe.ended())) {
    await ticks.sample([probe], from).catch((e: unknown) => progress(`rule states: ${(e as Error).message}`));
    rssMax = Math.max(rssMax, memoryMiB(probe.pid)?.rss ?? 0);
    await until(Math.min(to, Date.now() + 2000));
  }
  const seconds = (Math.min(Date.now(), to) - from) / 1000;
  const peak = memoryMiB(probe.pid)?.peak ?? rssMax;
  const cpu = cpuSeconds(probe.pid) - cpu0;
  const oomKills = cgroup.oomKills();
  const lags = ticks.values;
  const expected = SENSORS * rounds;
  const got = ended ? NaN : await stored(probe, token, 'sensor_temp', from, to);
  const offered = SENSORS / (PERIOD_MS / 1000);
  const common = { sensors: SENSORS, minutes, cgroup: `v${cgroup.version}, ${MEMORY_MIB} MiB, 1 core`, ...(ended ? { probe_ended: ended } : {}) };
  emit({ metric: 'sensors_20k_cgroup_values_per_s', value: Math.round(got / seconds), unit: 'values/s', baseline: offered, ratio: +(got / seconds / offered).toFixed(3), baseline_is: 'values offered (sensors / 10 s)', probe_cpu_percent: +((100 * cpu) / seconds).toFixed(1), agents_cpu_percent: +((100 * (agents.cpuSeconds() - agentCpu0)) / seconds).toFixed(1), ...common });
  emit({ metric: 'sensors_20k_cgroup_lag_p99_ms', value: Math.round(percentile(lags, 0.99)), unit: 'ms', p50: Math.round(percentile(lags, 0.5)), max: Math.round(Math.max(...lags)), ticks: lags.length, what: 'tick start → every value of the round stored (rule tickMs)', ...common });
  emit({ metric: 'rss_peak_mib', value: Math.round(peak), unit: 'MiB', cgroup_peak_mib: Math.round(cgroup.peakMiB()), limit_mib: MEMORY_MIB, what: 'VmHWM of the probe process; the cgroup peak also counts its page cache', ...common });
  emit({ metric: 'oom_kills', value: oomKills, unit: 'kills', ...common });
  emit({ metric: 'dropped_values', value: ended ? expected : expected - got, unit: 'values', expected, stored: got, what: 'sensor values of the measured rounds not in the store', ...common });
} finally {
  await cleanup();
}
