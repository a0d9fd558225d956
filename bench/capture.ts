// npm run bench -- capture [--quick]
// The pcap connector against `tcpdump -w /dev/null` (the libpcap ceiling) on the same traffic in the
// same run: a sender loops UDP frames at increasing rates from inside a network namespace this bench
// creates, through a veth pair, to the side both capture on, up to as fast as the sender goes, to find
// where each starts losing. The sender is capture-sender.c (AF_PACKET, sendmmsg, a thread per core,
// ~1.4M pps into a capture on 2 cores), compiled here with cc; tcpreplay (~300k pps) if that fails. Frames go to a MAC nobody has, so the host neither answers nor forwards them: no
// traffic leaves the pair. Needs root, tcpdump, cc or tcpreplay. One JSON object per line on stdout;
// progress on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type ReadRequest } from '@probemesh/core';
import { pcapConnector, type PcapParams } from '@probemesh/connector-pcap';
import { pcapFile, udpFrame } from '@probemesh/testkit';

const quick = process.argv.includes('--quick');
const BENCH = 'capture';
const BUFFER_MB = 64; // ring of each capture, probe and tcpdump alike (the goal: ≤ 128 MB)
const SNAPLEN = 128;
const SECONDS = quick ? 1.5 : 3; // traffic per step
const ONE_GBPS_1500 = Math.ceil(1e9 / (1500 * 8));
type Rate = number | 'max';
/** Rates per frame size for the fast sender, up past where the capture loses; tcpreplay's top out near 300k. */
const FAST_STEPS: Record<number, Rate[]> = quick
  ? { 64: [100_000, 400_000, 800_000, 1_200_000, 'max'], 1500: [ONE_GBPS_1500, 400_000, 800_000, 'max'] }
  : { 64: [50_000, 100_000, 200_000, 400_000, 600_000, 800_000, 1_000_000, 1_200_000, 1_500_000, 'max'], 1500: [ONE_GBPS_1500, 200_000, 400_000, 600_000, 800_000, 1_000_000, 'max'] };
const SLOW_STEPS: Record<number, Rate[]> = quick
  ? { 64: [100_000, 300_000, 'max'], 1500: [ONE_GBPS_1500, 'max'] }
  : { 64: [50_000, 100_000, 200_000, 300_000, 400_000, 'max'], 1500: [ONE_GBPS_1500, 200_000, 'max'] };
/** A paced step counts as reached when the link carried at least this share of its rate. */
const REACHED = 0.97;
const CORES = availableParallelism();
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

if (process.getuid?.() !== 0 || !has('tcpdump') || !(has('cc') || has('tcpreplay'))) {
  emit({ metric: 'lossless_pps', skipped: 'needs root, tcpdump, and cc or tcpreplay (deploy/bootstrap installs them)' });
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
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.on(signal, () => (cleanup(), process.exit(code)));
const stat = (n: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/${n}`, 'utf8'));
const linkPackets = () => stat('rx_packets') + stat('tx_packets');

const files: Record<number, string> = {};
/** The compiled fast sender, or undefined when tcpreplay sends. */
let sender: string | undefined;

/** The link, the frames (1000 from 100 sources, one in ten to port 80, looped by the sender) and the sender. */
function setUp(): void {
  sh(`ip netns add ${ns}`);
  sh(`ip link add ${dev} type veth peer name ${peer} && ip link set ${peer} netns ${ns}`);
  sh(`sysctl -qw net.ipv6.conf.${dev}.disable_ipv6=1 && ip link set ${dev} up`);
  sh(`ip netns exec ${ns} sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip link set ${peer} up'`);
  for (const size of [64, 1500]) {
    files[size] = join(dir, `udp${size}.pcap`);
    const frames = Array.from({ length: 1000 }, (_, i) => udpFrame({ size, src: `198.18.0.${(i % 100) + 1}`, dst: '198.18.1.1', dport: i % 10 === 0 ? 80 : 9 }));
    writeFileSync(files[size]!, pcapFile(frames));
  }
  const bin = join(dir, 'capture-sender');
  try {
    execFileSync('cc', ['-O2', '-pthread', '-o', bin, fileURLToPath(new URL('./capture-sender.c', import.meta.url))], { stdio: 'pipe' });
    sender = bin;
  } catch (e) {
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || String(e);
    if (!has('tcpreplay')) throw new Error(`cc capture-sender.c failed and there is no tcpreplay: ${why}`);
    note(`cc capture-sender.c failed, tcpreplay sends (to ~300k pps): ${why}`);
  }
}

/** Sends `size`-byte frames at `rate` pps (or as fast as the sender goes) for about `seconds`; how many and for how long. */
function send(size: number, rate: Rate, seconds: number): Promise<{ sent: number; seconds: number }> {
  const packets = Math.round((rate === 'max' ? (sender ? 4_000_000 : 500_000) : rate) * seconds);
  // A paced step the sender cannot reach stops after 1.25 × seconds; 'max' after `seconds` (the count only bounds it).
  // One thread goes to ~1.2M pps with a capture attached (the kernel's receive path runs on the sending core);
  // past that, a thread per core.
  const threads = rate === 'max' ? CORES : Math.min(CORES, Math.ceil(rate / 800_000));
  const pace = rate === 'max' ? ['--topspeed'] : [`--pps=${rate}`, `--pps-multi=${Math.max(1, Math.floor(rate / 50_000))}`];
  const cmd = sender
    ? [sender, peer, files[size]!, String(rate), String(packets), String(rate === 'max' ? seconds : seconds * 1.25), String(threads)]
    : ['tcpreplay', '-i', peer, '--preload-pcap', `--loop=${Math.ceil(packets / 1000)}`, ...pace, files[size]!];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], timeout: (seconds * 4 + 10) * 1000 });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('close', () => {
      const m = /sent (\d+) in ([\d.]+) seconds/.exec(out) ?? /Actual: (\d+) packets .* sent in ([\d.]+) seconds/.exec(out);
      if (!m) return reject(new Error(`${sender ? 'capture-sender' : 'tcpreplay'}: ${out.trim()}`));
      resolve({ sent: Number(m[1]), seconds: Number(m[2]) });
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
  /** Offered rate: the link's count over the sender's time. */
  pps: number;
}

/** The probe: a fresh session with a realistic set of indicators on the link (or only `total`), for one step. */
async function probeRun(size: number, rate: Rate, seconds = SECONDS, only = false): Promise<Run> {
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
    const sent = await send(size, rate, seconds);
    await quiet(seen);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = thread() - thread0;
    const out = await session.read(reqs, AbortSignal.timeout(5000));
    const v = (name: string) => {
      const r = out[reqs.findIndex((q) => q.indicator === name)];
      return r?.ok ? Number(r.samples[0]!.datum) : NaN;
    };
    const analysed = v('total');
    // One frame in ten goes to port 80 (each sender thread starts its loop at the first frame).
    if (!only && (v('ip') !== analysed || Math.abs(v('web') - analysed / 10) > CORES || v('tcp') !== 0)) note(`  counts disagree: ip ${v('ip')}, web ${v('web')}, tcp ${v('tcp')} of ${analysed}`);
    const offered = linkPackets() - link0;
    return { offered, captured: seen() - seen0, analysed, drops: v('kernel_drops'), cpuMs, processCpuMs: (cpu.user + cpu.system) / 1000, pps: offered / sent.seconds };
  } finally {
    await session.stop();
  }
}

/** tcpdump -w /dev/null with the same ring and snapshot length, for one step. */
async function tcpdumpRun(size: number, rate: Rate, seconds = SECONDS): Promise<Run> {
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
  const sent = await send(size, rate, seconds);
  await sleep(1200); // its last ring block retires after its 1 s timeout
  await quiet(() => Math.round(cpuNs() / 1e6));
  const cpuMs = (cpuNs() - cpu0) / 1e6;
  const offered = linkPackets() - link0;
  td.kill('SIGINT');
  await closed;
  const n = (re: RegExp) => Number(re.exec(err)?.[1] ?? NaN);
  const captured = n(/(\d+) packets captured/);
  return { offered, captured, analysed: captured, drops: n(/(\d+) packets dropped by kernel/), cpuMs, processCpuMs: cpuMs, pps: offered / sent.seconds };
}

/** Whether the link carried the step's rate ('max' is whatever the sender reached). */
const reached = (r: Run, rate: Rate) => rate === 'max' || r.pps >= REACHED * rate;
/** The rate a step stands for: its own when reached, else (and for 'max') what the link carried. */
const stepPps = (r: Run, rate: Rate) => Math.round(rate === 'max' ? r.pps : Math.min(rate, r.pps));
const lost = (r: Run) => r.offered - r.analysed;

try {
  setUp();
  note(`veth ${dev} ⇄ ${peer} (namespace ${ns}); ring ${BUFFER_MB} MB, snaplen ${SNAPLEN}; ${SECONDS} s per step; sender ${sender ? 'capture-sender' : 'tcpreplay'}`);
  // Warm-up, not reported: code paths compiled, page cache and the link's first use behind us.
  await probeRun(64, 100_000, 0.5);
  await tcpdumpRun(64, 100_000, 0.5);
  for (const size of [64, 1500]) {
    const rows: Array<{ rate: Rate; probe: Run; tcpdump: Run }> = [];
    for (const [k, rate] of (sender ? FAST_STEPS : SLOW_STEPS)[size]!.entries()) {
      // Alternate who goes first: drift on a shared machine then favours neither.
      const probe = k % 2 === 0 ? await probeRun(size, rate) : undefined;
      const tcpdump = await tcpdumpRun(size, rate);
      const p = probe ?? (await probeRun(size, rate));
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
        sender_limited: !reached(p, rate) || !reached(tcpdump, rate),
      });
      rows.push({ rate, probe: p, tcpdump });
    }
    const lossless = (who: 'probe' | 'tcpdump') => Math.max(0, ...rows.filter((r) => lost(r[who]) === 0).map((r) => stepPps(r[who], r.rate)));
    const lossStarts = (who: 'probe' | 'tcpdump') => {
      const lossy = rows.filter((r) => lost(r[who]) !== 0).map((r) => stepPps(r[who], r.rate));
      return lossy.length ? Math.min(...lossy) : null;
    };
    const [lp, lt] = [lossless('probe'), lossless('tcpdump')];
    // A side that lost nothing kept up with the fastest the sender went: its limit lies beyond what it reached.
    const senderLimited = lossStarts('probe') === null || lossStarts('tcpdump') === null;
    emit({ metric: 'lossless_pps', frame: size, value: lp, baseline: lt, ratio: lt ? round(lp / lt, 3) : null, unit: 'pps', loss_starts_pps: lossStarts('probe'), baseline_loss_starts_pps: lossStarts('tcpdump'), sender_limited: senderLimited, ring_mb: BUFFER_MB });
    const at = rows.find((r) => r.rate === TARGET[size])!;
    const per100k = (r: Run) => (r.analysed ? (r.cpuMs / r.analysed) * 1e5 : NaN);
    const processPer100k = (r: Run) => (r.analysed ? (r.processCpuMs / r.analysed) * 1e5 : NaN);
    emit({ metric: 'cpu_ms_per_100k_packets', frame: size, rate: TARGET[size], value: round(per100k(at.probe)), baseline: round(per100k(at.tcpdump)), ratio: round(per100k(at.probe) / per100k(at.tcpdump), 3), unit: 'ms', process_value: round(processPer100k(at.probe)) });
    if (size === 64) {
      // What the per-packet filters cost: the same traffic with one counter instead of eight filters.
      const one = await probeRun(size, TARGET[size]!, SECONDS, true);
      emit({ metric: 'cpu_ms_per_100k_packets_one_filter', frame: size, rate: TARGET[size], value: round(per100k(one)), baseline: round(per100k(at.tcpdump)), ratio: round(per100k(one) / per100k(at.tcpdump), 3), unit: 'ms', process_value: round(processPer100k(one)), lost: lost(one) });
    }
    emit({ metric: 'lost_at_target', frame: size, rate: TARGET[size], value: lost(at.probe), baseline: lost(at.tcpdump), unit: 'packets', offered: at.probe.offered, ring_mb: BUFFER_MB });
  }
} finally {
  cleanup();
}
