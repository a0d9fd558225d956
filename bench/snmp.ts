// npm run bench -- snmp [--quick]
// The snmp connector against a bare net-snmp session and Prometheus' snmp_exporter, all reading the
// same local snmpd (testkit). One JSON object per line on stdout; progress on stderr.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { open } from 'lmdb';
import snmp from 'net-snmp';
import type { ConnectorSession, ReadRequest, Reading } from '@probemesh/core';
import { systemClock } from '@probemesh/core';
import type { Device, Value } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { snmpConnector } from '@probemesh/connector-snmp';
import { freeTcpPort, startSnmpd, tempDir, waitUntil } from '@probemesh/testkit';

const quick = process.argv.includes('--quick');
const BENCH = 'snmp';
const SCALAR = '1.3.6.1.4.1.99999.1.0';
const TABLES = [
  { name: 'ifTable', oid: '1.3.6.1.2.1.2.2' },
  { name: 'hrSWInstalledTable', oid: '1.3.6.1.2.1.25.6.3' },
] as const;
const MAX_REPETITIONS = 25;
const POLLS = quick ? 1500 : 15000;
const TABLE_SECONDS = quick ? 2.5 : 10;
const EXPORTER_SECONDS = quick ? 4 : 15;

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: BENCH, ...o }));
const note = (m: string) => console.error(`[bench snmp] ${m}`);
const round = (x: number, d = 4) => Number(x.toPrecision(d));
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/** The store, when @probemesh/store is built: Store.open({ path }) and append(values). */
interface StoreLike {
  append(values: Value[]): Promise<void>;
  close?(): Promise<void> | void;
}
async function openStore(path: string): Promise<StoreLike | undefined> {
  try {
    const mod = (await import('@probemesh/store' as string)) as { Store?: { open(o: { path: string }): Promise<StoreLike> | StoreLike } };
    if (!mod.Store) return undefined;
    return await mod.Store.open({ path });
  } catch (err) {
    note(`@probemesh/store not usable (${(err as Error).message.split('\n')[0]}): measuring the connector alone`);
    return undefined;
  }
}

function stats(xs: number[]): { mean: number; p50: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: s[Math.floor(s.length / 2)]! };
}

// snmpd logs every request to stdout otherwise, and testkit keeps that output: CPU in this process.
const agent = await startSnmpd({ overrides: [{ oid: SCALAR, type: 'integer', value: 42 }], extra: 'dontLogTCPWrappersConnects yes' });
const dir = await tempDir('probemesh-bench-snmp-');
const cleanups: Array<() => Promise<unknown> | unknown> = [() => agent.stop(), () => dir.remove()];
try {
  const store = await openStore(join(dir.path, 'store'));
  if (store?.close) cleanups.unshift(() => store.close!());
  const device: Device = { id: 'agent', address: '127.0.0.1', protocols: { snmp: { version: '2c', community: 'public', port: agent.port, maxRepetitions: MAX_REPETITIONS } } };
  const req = (params: Record<string, unknown>): ReadRequest => ({ indicator: 'bench', device, params, deviceParams: device.protocols!.snmp });
  const session: ConnectorSession = await snmpConnector.start({ clock: systemClock, dataDir: dir.path, log: () => undefined });
  cleanups.unshift(() => session.stop());
  const bare = snmp.createSession('127.0.0.1', 'public', { port: agent.port, version: snmp.Version2c, retries: 1, timeout: 2000 });
  bare.on('error', () => undefined);
  cleanups.unshift(() => bare.close());
  // One signal for the run, as the probe gives one per tick to all its reads (AbortSignal.timeout
  // per read would cost ~40 µs of timers each, more than the connector itself).
  const tick = new AbortController().signal;
  let ts = Date.now();
  const toValues = (r: Reading): Value[] => {
    if (!r.ok) throw new Error(`read failed: ${r.error}`);
    ts++;
    return r.samples.map((s) => ({ indicator: 'bench', device: 'agent', rule: 'bench', ts, datum: s.datum, ...(s.instance ? { instance: s.instance } : {}) }));
  };

  // --- poll_store_ms: one OID, request + durable store per poll, against a bare get + bare commit ---
  // Through the whole probe path: a rule actor's tick (acquire, filter, store, formulas, decisions).
  const probeDir = await tempDir('probemesh-bench-snmp-probe-');
  // Each tick in a millisecond of its own, as the baseline's keys are: polls here come faster than
  // one a millisecond, and a round stamped like the one before replaces its value (real rounds are seconds apart).
  let last = 0;
  const clock = { ...systemClock, now: () => (last = Math.max(Date.now(), last + 1)) };
  const probe = await Probe.start(
    { id: 'bench', dataDir: probeDir.path, connectors: [snmpConnector], clock },
    {
      devices: [device],
      indicators: [{ id: 'bench', kind: 'atomic', source: { scheme: 'snmp', oid: SCALAR } }],
      rules: [{ id: 'bench', indicators: ['bench'], targets: { devices: ['agent'] }, period: '1h' }],
    },
  );
  cleanups.unshift(() => probeDir.remove());
  cleanups.unshift(() => probe.stop());
  const probePoll = () => probe.tickNow('bench');
  // Baseline: what the tick cannot do without — a bare get, then a bare durable LMDB commit of the value.
  const raw = open({ path: join(dir.path, 'raw') });
  cleanups.unshift(() => raw.close());
  const barePoll = async () => {
    const datum = await new Promise<number>((resolve, reject) => bare.get([SCALAR], (err, vbs) => (err ? reject(err) : vbs[0]?.value === 42 ? resolve(42) : reject(new Error('bad value')))));
    await raw.put(['bench', 'agent', ++ts], datum);
    await raw.flushed;
  };
  for (let i = 0; i < 200; i++) {
    await probePoll();
    await barePoll();
  }
  const probeMs: number[] = [];
  const bareMs: number[] = [];
  note(`poll: ${POLLS} polls each, interleaved in blocks of 100`);
  for (let block = 0; block < POLLS / 100; block++) {
    for (const [fn, into] of [
      [probePoll, probeMs],
      [barePoll, bareMs],
    ] as const) {
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        await fn();
        into.push(performance.now() - t0);
      }
    }
  }
  const p = stats(probeMs);
  const b = stats(bareMs);
  emit({
    metric: 'poll_store_ms',
    value: round(p.mean),
    unit: 'ms',
    p50: round(p.p50),
    baseline: round(b.mean),
    baseline_p50: round(b.p50),
    ratio: round(p.mean / b.mean, 3),
    polls: POLLS,
    probe_is: 'a rule tick of a running probe: snmp GET, store (durable commit), decisions',
    baseline_is: 'net-snmp session.get of the same OID, then a raw lmdb put of the value awaited until flushed (one durable commit)',
  });

  // --- values_per_s / values_per_cpu_s: whole tables via the connector vs a bare subtree walk ---
  const connectorRates = new Map<string, { perCpuS: number; perRound: number }>();
  for (const table of TABLES) {
    const walkReq = req({ oid: table.oid, walk: true, maxRows: 100_000 });
    const probeWalk = async () => {
      const [r] = await session.read([walkReq], tick);
      const values = toValues(r!);
      if (store) await store.append(values);
      return values.length;
    };
    const connectorOnly = async () => {
      const [r] = await session.read([walkReq], tick);
      return r!.ok ? r!.samples.length : 0;
    };
    const bareWalk = () =>
      new Promise<number>((resolve, reject) => {
        let n = 0;
        bare.subtree(
          table.oid,
          MAX_REPETITIONS,
          (vbs) => {
            for (const vb of vbs) if (!snmp.isVarbindError(vb)) n++;
          },
          (err) => (err ? reject(err) : resolve(n)),
        );
      });
    const measure = async (fn: () => Promise<number>) => {
      await fn();
      (globalThis as { gc?: () => void }).gc?.();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let values = 0;
      let rounds = 0;
      while (performance.now() - t0 < TABLE_SECONDS * 1000) {
        values += await fn();
        rounds++;
      }
      const secs = (performance.now() - t0) / 1000;
      return { values, rounds, perS: values / secs, perCpuS: values / cpuSeconds(process.cpuUsage(cpu0)) };
    };
    note(`${table.name}: ${TABLE_SECONDS} s per side`);
    const probe = await measure(probeWalk);
    const base = await measure(bareWalk);
    const conn = store ? await measure(connectorOnly) : probe;
    connectorRates.set(table.name, { perCpuS: conn.perCpuS, perRound: conn.values / conn.rounds });
    const common = { table: table.name, rows_per_round: round(probe.values / probe.rounds, 6), rounds: probe.rounds, store: store ? 'lmdb' : 'absent (connector only)', baseline_is: `net-snmp subtree walk, maxRepetitions ${MAX_REPETITIONS}` };
    emit({ metric: 'values_per_s', value: round(probe.perS), unit: 'values/s', baseline: round(base.perS), ratio: round(probe.perS / base.perS, 3), ...common });
    emit({ metric: 'values_per_cpu_s', value: round(probe.perCpuS), unit: 'values/cpu-s', baseline: round(base.perCpuS), ratio: round(probe.perCpuS / base.perCpuS, 3), ...common });
  }

  // --- values_per_cpu_s against prometheus-snmp-exporter scraping the same tables ---------------
  const exporterBin = '/usr/bin/prometheus-snmp-exporter';
  if (!existsSync(exporterBin)) {
    emit({ metric: 'values_per_cpu_s', skipped: `${exporterBin} is not installed (Debian package prometheus-snmp-exporter)` });
  } else {
    const port = await freeTcpPort();
    const config = join(dir.path, 'snmp.yml');
    await writeFile(config, exporterConfig());
    const proc = spawn(exporterBin, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    cleanups.unshift(() => new Promise<void>((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGTERM')))));
    await waitUntil('snmp_exporter', async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, 10_000);
    const ticks = () => {
      const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    };
    const hz = 100; // USER_HZ on Linux
    for (const table of TABLES) {
      const url = `http://127.0.0.1:${port}/snmp?target=127.0.0.1:${agent.port}&module=${table.name}`;
      const scrape = async () => {
        const res = await fetch(url);
        const text = await res.text();
        if (!res.ok) throw new Error(`snmp_exporter: HTTP ${res.status}: ${text.slice(0, 200)} ${stderr}`);
        return text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('snmp_scrape_')).length;
      };
      await scrape();
      const c0 = ticks();
      const t0 = performance.now();
      let values = 0;
      let scrapes = 0;
      while (performance.now() - t0 < EXPORTER_SECONDS * 1000) {
        values += await scrape();
        scrapes++;
      }
      const cpu = (ticks() - c0) / hz;
      const exporterPerCpuS = values / Math.max(cpu, 1 / hz);
      const { perCpuS: probePerCpuS, perRound } = connectorRates.get(table.name)!;
      emit({
        metric: 'values_per_cpu_s',
        value: round(probePerCpuS),
        unit: 'values/cpu-s',
        baseline: round(exporterPerCpuS),
        ratio: round(probePerCpuS / exporterPerCpuS, 3),
        table: table.name,
        baseline_is: 'prometheus-snmp-exporter 0.21 scraping the same table (CPU from /proc/<pid>/stat)',
        exporter_values_per_scrape: round(values / scrapes, 6),
        exporter_scrapes: scrapes,
        exporter_cpu_s: round(cpu, 3),
        probe_is: 'connector walk without store',
        probe_values_per_round: round(perRound, 6),
      });
    }
  }
} finally {
  for (const c of cleanups) await Promise.resolve().then(c).catch((e: unknown) => note(`cleanup: ${(e as Error).message}`));
}

/** A minimal snmp_exporter (0.21 format) config: one module per table, a metric per column. */
function exporterConfig(): string {
  const idx = (label: string) => `      indexes:\n        - labelname: ${label}\n          type: gauge\n`;
  const metric = (name: string, oid: string, type: string, label: string) => `    - name: ${name}\n      oid: ${oid}\n      type: ${type}\n${idx(label)}`;
  const module = (name: string, walk: string, cols: Array<[string, number, string]>, label: string) =>
    `${name}:\n  version: 2\n  auth:\n    community: public\n  max_repetitions: ${MAX_REPETITIONS}\n  retries: 0\n  timeout: 10s\n  walk:\n    - ${walk}\n  metrics:\n` +
    cols.map(([n, c, type]) => metric(n, `${walk}.1.${c}`, type, label)).join('');
  const ifCols: Array<[string, number, string]> = [
    ['ifIndex', 1, 'gauge'], ['ifDescr', 2, 'DisplayString'], ['ifType', 3, 'gauge'], ['ifMtu', 4, 'gauge'], ['ifSpeed', 5, 'gauge'],
    ['ifPhysAddress', 6, 'PhysAddress48'], ['ifAdminStatus', 7, 'gauge'], ['ifOperStatus', 8, 'gauge'], ['ifLastChange', 9, 'gauge'],
    ['ifInOctets', 10, 'counter'], ['ifInUcastPkts', 11, 'counter'], ['ifInNUcastPkts', 12, 'counter'], ['ifInDiscards', 13, 'counter'],
    ['ifInErrors', 14, 'counter'], ['ifInUnknownProtos', 15, 'counter'], ['ifOutOctets', 16, 'counter'], ['ifOutUcastPkts', 17, 'counter'],
    ['ifOutNUcastPkts', 18, 'counter'], ['ifOutDiscards', 19, 'counter'], ['ifOutErrors', 20, 'counter'], ['ifOutQLen', 21, 'gauge'],
  ];
  const swCols: Array<[string, number, string]> = [
    ['hrSWInstalledIndex', 1, 'gauge'], ['hrSWInstalledName', 2, 'DisplayString'], ['hrSWInstalledType', 4, 'gauge'], ['hrSWInstalledDate', 5, 'OctetString'],
  ];
  return module('ifTable', TABLES[0].oid, ifCols, 'ifIndex') + module('hrSWInstalledTable', TABLES[1].oid, swCols, 'hrSWInstalledIndex');
}
