// npm run bench -- capture [--quick]
// The pcap connector against `tcpdump -w /dev/null` (the libpcap ceiling) on the same traffic in the
// same run: tcpreplay sends UDP frames at increasing rates from inside a network namespace this
// bench creates, through a veth pair, to the side both capture on. Frames go to a MAC nobody has,
// so the host neither answers nor forwards them: no traffic leaves the pair. Needs root, tcpdump,
// tcpreplay. One JSON object per line on stdout; progress on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type ReadRequest } from '@probemesh/core';
import { pcapConnector, pcapFile, udpFrame, type PcapParams } from '@probemesh/connector-pcap';

const quick = process.argv.includes('--quick');
const BENCH = 'capture';
const BUFFER_MB = 64; // ring of each capture, probe and tcpdump alike (the goal: ≤ 128 MB)
const SNAPLEN = 128;
const SECONDS = quick ? 1.5 : 3; // traffic per step
const ONE_GBPS_1500 = Math.ceil(1e9 / (1500 * 8));
const STEPS: Record<number, Array<number | 'max'>> = quick
  ? { 64: [100_000, 300_000, 'max'], 1500: [ONE_GBPS_1500, 'max'] }
  : { 64: [50_000, 100_000, 200_000, 300_000, 400_000, 'max'], 1500: [ONE_GBPS_1500, 200_000, 'max'] };
const TARGET: Record<number, number> = { 64: 100_000, 1500: ONE_GBPS_1500 };

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: BENCH, ...o }));
const note = (m: string) => console.error(`[bench capture] ${m}`);
const round = (x: number, d = 4) => Number(x.toPrecision(d));
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' }).toString();
const has = (bin: string) => {
  try {
    sh(`command -v ${bin}`);
    return true;
  } catch {
    return false;
  }
};

if (process.getuid?.() !== 0 || !has('tcpreplay') || !has('tcpdump')) {
  emit({ metric: 'lossless_pps', skipped: 'needs root, tcpreplay and tcpdump (deploy/bootstrap installs them)' });
  process.exit(0);
}

// --- the link: a veth pair into a namespace of our own -------------------------------------------
const id = process.pid % 100000;
const ns = `pmcap${id}`;
const dev = `pmcap${id}a`;
const peer = `pmcap${id}b`;
const dir = mkdtempSync(join(tmpdir(), 'probemesh-bench-capture-'));
const cleanup = () => {
  try {
    sh(`ip netns del ${ns} 2>/dev/null; ip link del ${dev} 2>/dev/null || true`);
  } catch {}
  rmSync(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => (cleanup(), process.exit(130)));
sh(`ip netns add ${ns}`);
sh(`ip link add ${dev} type veth peer name ${peer} && ip link set ${peer} netns ${ns}`);
sh(`sysctl -qw net.ipv6.conf.${dev}.disable_ipv6=1 && ip link set ${dev} up`);
sh(`ip netns exec ${ns} sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip link set ${peer} up'`);
const stat = (n: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/${n}`, 'utf8'));
const linkPackets = () => stat('rx_packets') + stat('tx_packets');

// 1000 frames from 100 sources, one in ten to port 80, looped by tcpreplay.
const files: Record<number, string> = {};
for (const size of [64, 1500]) {
  files[size] = join(dir, `udp${size}.pcap`);
  const frames = Array.from({ length: 1000 }, (_, i) => udpFrame({ size, src: `198.18.0.${(i % 100) + 1}`, dst: '198.18.1.1', dport: i % 10 === 0 ? 80 : 9 }));
  writeFileSync(files[size]!, pcapFile(frames));
}

/** Sends `packets` frames of `size` at `rate` pps (or as fast as tcpreplay can); the rate it reached. */
function replay(size: number, rate: number | 'max', packets: number): Promise<{ sent: number; pps: number }> {
  const pace = rate === 'max' ? ['--topspeed'] : [`--pps=${rate}`, `--pps-multi=${Math.max(1, Math.floor(rate / 50_000))}`];
  const args = ['netns', 'exec', ns, 'tcpreplay', '-i', peer, '--preload-pcap', `--loop=${Math.ceil(packets / 1000)}`, ...pace, files[size]!];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('close', () => {
      const m = /Actual: (\d+) packets .* sent in ([\d.]+) seconds/.exec(out);
      if (!m) return reject(new Error(`tcpreplay: ${out.trim()}`));
      resolve({ sent: Number(m[1]), pps: Number(m[1]) / Number(m[2]) });
    });
  });
}

/** Waits until `count` has stopped moving (the capture has caught up), bounded. */
async function quiet(count: () => number): Promise<void> {
  await sleep(150);
  let last = count();
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    const now = count();
    if (now === last) return;
    last = now;
  }
}

interface Run {
  offered: number;
  captured: number;
  analysed: number;
  drops: number;
  /** CPU of the capture path: the probe's capture thread, tcpdump's one thread. */
  cpuMs: number;
  /** CPU of the whole process (the probe's includes Node's idle event loop and this bench's polling). */
  processCpuMs: number;
  pps: number;
}

/** The probe: a fresh session with a realistic set of indicators on the link (or only `total`), for one step. */
async function probeRun(size: number, rate: number | 'max', packets: number, only = false): Promise<Run> {
  const session = await pcapConnector.start({ clock: systemClock, dataDir: dir, log: () => undefined });
  try {
    const p = { interface: dev, bufferMb: BUFFER_MB, snaplen: SNAPLEN };
    const all: ReadRequest<PcapParams>[] = [
      { indicator: 'total', params: { ...p, measure: 'packets' } },
      { indicator: 'bps', params: { ...p, measure: 'bps' } },
      { indicator: 'ip', params: { ...p, kind: 'ip', measure: 'packets' } },
      { indicator: 'udp', params: { ...p, kind: 'udp', measure: 'pps' } },
      { indicator: 'tcp', params: { ...p, kind: 'tcp', measure: 'packets' } },
      { indicator: 'broadcast', params: { ...p, kind: 'broadcast', measure: 'packets' } },
      { indicator: 'web', params: { ...p, kind: 'port', port: 80, measure: 'packets' } },
      { indicator: 'talkers', params: { ...p, kind: 'top_talkers', measure: 'bytes' } },
      { indicator: 'kernel_drops', params: { ...p, measure: 'kernel_drops' } },
    ];
    const reqs = only ? [all[0]!, all[8]!] : all;
    await session.sync!(reqs);
    await session.read(reqs, AbortSignal.timeout(5000));
    const seen = () => session.stats!().packets!;
    const thread = () => session.stats!().capture_cpu_ms!;
    const [link0, seen0, cpu0, thread0] = [linkPackets(), seen(), process.cpuUsage(), thread()];
    const sent = await replay(size, rate, packets);
    await quiet(seen);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = thread() - thread0;
    const out = await session.read(reqs, AbortSignal.timeout(5000));
    const v = (name: string) => {
      const r = out[reqs.findIndex((q) => q.indicator === name)];
      return r?.ok ? Number(r.samples[0]!.datum) : NaN;
    };
    const analysed = v('total');
    if (!only && (v('ip') !== analysed || v('web') !== Math.round(analysed / 10) || v('tcp') !== 0)) note(`  counts disagree: ip ${v('ip')}, web ${v('web')}, tcp ${v('tcp')} of ${analysed}`);
    return { offered: linkPackets() - link0, captured: seen() - seen0, analysed, drops: v('kernel_drops'), cpuMs, processCpuMs: (cpu.user + cpu.system) / 1000, pps: sent.pps };
  } finally {
    await session.stop();
  }
}

/** tcpdump -w /dev/null with the same ring and snapshot length, for one step. */
async function tcpdumpRun(size: number, rate: number | 'max', packets: number): Promise<Run> {
  const td = spawn('tcpdump', ['-i', dev, '-n', '-p', '-w', '/dev/null', '-s', String(SNAPLEN), '-B', String(BUFFER_MB * 1024)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const closed = new Promise<void>((r) => td.on('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    td.stderr.on('data', (b) => {
      err += b;
      if (err.includes('listening on')) resolve();
    });
    td.on('close', () => reject(new Error(`tcpdump: ${err.trim()}`)));
  });
  // CPU time on the nanosecond clock (tcpdump is one thread; /proc/<pid>/stat ticks are 10 ms).
  const cpuNs = () => Number(readFileSync(`/proc/${td.pid}/schedstat`, 'utf8').split(' ')[0]);
  const [link0, cpu0] = [linkPackets(), cpuNs()];
  const sent = await replay(size, rate, packets);
  await sleep(1200); // its last ring block retires after its 1 s timeout
  await quiet(() => Math.round(cpuNs() / 1e6));
  const cpuMs = (cpuNs() - cpu0) / 1e6;
  const offered = linkPackets() - link0;
  td.kill('SIGINT');
  await closed;
  const n = (re: RegExp) => Number(re.exec(err)?.[1] ?? NaN);
  const captured = n(/(\d+) packets captured/);
  return { offered, captured, analysed: captured, drops: n(/(\d+) packets dropped by kernel/), cpuMs, processCpuMs: cpuMs, pps: sent.pps };
}

try {
  note(`veth ${dev} ⇄ ${peer} (namespace ${ns}); ring ${BUFFER_MB} MB, snaplen ${SNAPLEN}; ${SECONDS} s per step`);
  // Warm-up, not reported: code paths compiled, page cache and the link's first use behind us.
  await probeRun(64, 100_000, 50_000);
  await tcpdumpRun(64, 100_000, 50_000);
  for (const size of [64, 1500]) {
    const rows: Array<{ rate: number | 'max'; probe: Run; tcpdump: Run }> = [];
    for (const [k, rate] of STEPS[size]!.entries()) {
      const packets = Math.round((rate === 'max' ? 500_000 : rate) * SECONDS);
      // Alternate who goes first: drift on a shared machine then favours neither.
      const probe = k % 2 === 0 ? await probeRun(size, rate, packets) : undefined;
      const tcpdump = await tcpdumpRun(size, rate, packets);
      const p = probe ?? (await probeRun(size, rate, packets));
      const lost = (r: Run) => r.offered - r.analysed;
      note(`${size} B @ ${rate}: probe ${p.analysed}/${p.offered} at ${Math.round(p.pps)} pps (kernel drops ${p.drops}, capture thread ${round(p.cpuMs, 3)} ms CPU, process ${round(p.processCpuMs, 3)} ms); tcpdump ${tcpdump.captured}/${tcpdump.offered} at ${Math.round(tcpdump.pps)} pps (drops ${tcpdump.drops}, ${round(tcpdump.cpuMs, 3)} ms CPU)`);
      emit({
        metric: 'lost_packets',
        frame: size,
        rate,
        value: lost(p),
        baseline: lost(tcpdump),
        unit: 'packets',
        probe: { offered: p.offered, captured: p.captured, analysed: p.analysed, kernel_drops: p.drops, offered_pps: Math.round(p.pps), cpu_ms: round(p.cpuMs), process_cpu_ms: round(p.processCpuMs) },
        tcpdump: { offered: tcpdump.offered, captured: tcpdump.captured, kernel_drops: tcpdump.drops, offered_pps: Math.round(tcpdump.pps), cpu_ms: round(tcpdump.cpuMs) },
      });
      rows.push({ rate, probe: p, tcpdump });
    }
    const lossless = (who: 'probe' | 'tcpdump') => Math.max(0, ...rows.filter((r) => r[who].offered === r[who].analysed).map((r) => Math.round(r[who].pps)));
    const lossStarts = (who: 'probe' | 'tcpdump') => {
      const lossy = rows.filter((r) => r[who].offered !== r[who].analysed).map((r) => Math.round(r[who].pps));
      return lossy.length ? Math.min(...lossy) : null;
    };
    const [lp, lt] = [lossless('probe'), lossless('tcpdump')];
    // Neither losing anything means both kept up with the fastest this machine's sender went.
    const senderLimited = lossStarts('probe') === null && lossStarts('tcpdump') === null;
    emit({ metric: 'lossless_pps', frame: size, value: lp, baseline: lt, ratio: lt ? round(lp / lt, 3) : null, unit: 'pps', loss_starts_pps: lossStarts('probe'), baseline_loss_starts_pps: lossStarts('tcpdump'), sender_limited: senderLimited, ring_mb: BUFFER_MB });
    const at = rows.find((r) => r.rate === TARGET[size])!;
    const per100k = (r: Run) => (r.analysed ? (r.cpuMs / r.analysed) * 1e5 : NaN);
    const processPer100k = (r: Run) => (r.analysed ? (r.processCpuMs / r.analysed) * 1e5 : NaN);
    emit({ metric: 'cpu_ms_per_100k_packets', frame: size, rate: TARGET[size], value: round(per100k(at.probe)), baseline: round(per100k(at.tcpdump)), ratio: round(per100k(at.probe) / per100k(at.tcpdump), 3), unit: 'ms', process_value: round(processPer100k(at.probe)) });
    if (size === 64) {
      // What the per-packet filters cost: the same traffic with one counter instead of eight filters.
      const one = await probeRun(size, TARGET[size]!, Math.round(TARGET[size]! * SECONDS), true);
      emit({ metric: 'cpu_ms_per_100k_packets_one_filter', frame: size, rate: TARGET[size], value: round(per100k(one)), baseline: round(per100k(at.tcpdump)), ratio: round(per100k(one) / per100k(at.tcpdump), 3), unit: 'ms', process_value: round(processPer100k(one)), lost: one.offered - one.analysed });
    }
    emit({ metric: 'lost_at_target', frame: size, rate: TARGET[size], value: at.probe.offered - at.probe.analysed, baseline: at.tcpdump.offered - at.tcpdump.analysed, unit: 'packets', offered: at.probe.offered, ring_mb: BUFFER_MB });
  }
} finally {
  cleanup();
}
