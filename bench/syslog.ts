// npm run bench -- syslog [--quick]
// Syslog messages parsed and counted by the syslog connector (one UDP listener, five indicators
// with filters), against a bare dgram socket that only counts, fed by the same sender in the same
// run. The sender is another process blasting a mix of RFC 3164/5424 lines over loopback, so this
// process's CPU time is the receiver's alone: the metric is messages per CPU-second of the receiver
// (steady on a shared machine), with the wall-clock rate alongside. The kernel drops what the
// receiver could not take.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { systemClock, type ConnectorSession } from '@probemesh/core';
import { parseSyslog, syslogConnector, type SyslogParams } from '@probemesh/connector-syslog';
import { freeUdpPort } from '@probemesh/testkit';

const quick = process.argv.includes('--quick');
const seconds = quick ? 2 : 5;
const rounds = quick ? 3 : 5;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'syslog', ...o }));
const progress = (s: string) => process.stderr.write(`syslog bench: ${s}\n`);

/** A realistic mix: switch, web server, ssh and kernel lines in both formats, 90–200 bytes. */
const lines = Array.from({ length: 64 }, (_, i) => {
  const n = i * 7919;
  switch (i % 4) {
    case 0:
      return `<${128 + (i % 8)}>1 2024-06-15T10:00:${String(i % 60).padStart(2, '0')}.${n % 1000}Z sw-rack${i % 16}-a ifmgr ${n % 9000} LINK [meta seq="${n}"] Interface ge-0/0/${i % 48} link ${i % 3 ? 'up' : 'down'}`;
    case 1:
      return `<${184 + (i % 8)}>Jun 15 10:00:${String(i % 60).padStart(2, '0')} web-${i % 8} nginx[${n % 30000}]: 10.0.${i % 255}.${n % 255} "GET /api/v1/items/${n} HTTP/1.1" ${i % 5 ? 200 : 503} ${n % 5000}`;
    case 2:
      return `<${32 + (i % 8)}>Jun 15 10:00:${String(i % 60).padStart(2, '0')} bastion sshd[${n % 30000}]: ${i % 3 ? 'Accepted publickey' : 'Failed password'} for user${i % 10} from 192.0.2.${i} port ${40000 + i} ssh2`;
    default:
      return `<${i % 8}>1 2024-06-15T10:00:00.000+02:00 node-${i} kernel - - - [${n % 100000}.${n % 1000000}] eth${i % 4}: NIC Link is ${i % 2 ? 'Up 10 Gbps' : 'Down'}`;
  }
});

const sender = `
const workerData = JSON.parse(process.argv[1]);
const parentPort = { postMessage: (m) => process.send(m) };
const dgram = require('node:dgram');
const msgs = workerData.lines.map((l) => Buffer.from(l));
const s = dgram.createSocket('udp4');
s.connect(workerData.port, '127.0.0.1', async () => {
  parentPort.postMessage({ type: 'start' });
  const end = Date.now() + workerData.ms;
  let sent = 0, i = 0;
  while (Date.now() < end) {
    // Bursts of 64 with their callbacks awaited: memory stays bounded, the kernel sees a steady stream.
    await new Promise((r) => { let left = 64; for (let k = 0; k < 64; k++) s.send(msgs[i++ & 63], () => { if (--left === 0) r(); }); });
    sent += 64;
  }
  parentPort.postMessage({ type: 'done', sent });
  s.close();
  process.disconnect();
});`;

interface Run {
  /** Messages per CPU-second of this process. */
  perCpu: number;
  /** Messages per wall-clock second. */
  rate: number;
  sent: number;
  got: number;
}

/** Blasts `port` from another process for `seconds`; returns what `received()` counted meanwhile. */
function blast(port: number, received: () => number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', sender, JSON.stringify({ port, ms: seconds * 1000, lines })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let t0 = 0;
    let c0 = 0;
    let cpu0 = process.cpuUsage();
    child.on('message', (m: { type: string; sent?: number }) => {
      if (m.type === 'start') [t0, c0, cpu0] = [performance.now(), received(), process.cpuUsage()];
      else {
        const got = received() - c0;
        const cpu = process.cpuUsage(cpu0);
        resolve({ perCpu: got / ((cpu.user + cpu.system) / 1e6), rate: got / ((performance.now() - t0) / 1000), sent: m.sent!, got });
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => code && reject(new Error(`sender exited with ${code}`)));
  });
}

const parseRate = () => {
  const n = quick ? 200_000 : 1_000_000;
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < n; i++) if (typeof parseSyslog(lines[i & 63]!, '10.0.0.1', 1_718_445_600_000) !== 'string') ok++;
  if (ok !== n) throw new Error(`the parser rejected ${n - ok} of the bench's own messages`);
  return n / ((performance.now() - t0) / 1000);
};

const port = await freeUdpPort();
const session = (await syslogConnector.start({ clock: systemClock, dataDir: '/tmp', log: () => undefined })) as ConnectorSession<SyslogParams>;
const requests = [
  { indicator: 'all', params: { port, measure: 'count' as const } },
  { indicator: 'errors', params: { port, measure: 'count' as const, severity: 'err' as const } },
  { indicator: 'local', params: { port, measure: 'count' as const, facility: ['local0', 'local7'] as Array<'local0' | 'local7'> } },
  { indicator: 'web_5xx', params: { port, measure: 'count' as const, app: 'nginx', pattern: '" 5\\d\\d ' } },
  { indicator: 'link_last', params: { port, measure: 'last_message' as const, host: 'sw-rack*', pattern: 'link down' } },
];
try {
  await session.sync!(requests);
  await session.read(requests, AbortSignal.timeout(5000)); // fresh windows
  const bare = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 }); // the connector's buffer size too
  let bareCount = 0;
  bare.on('message', () => bareCount++);
  const barePort = await freeUdpPort();
  await new Promise<void>((r) => bare.bind(barePort, '127.0.0.1', r));
  const conn: Run[] = [];
  const base: Run[] = [];
  let sent = 0;
  let got = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      progress(`round ${r + 1}/${rounds}: ${seconds} s into the connector, ${seconds} s into a bare socket`);
      const c = await blast(port, () => session.stats!().messages!);
      const b = await blast(barePort, () => bareCount);
      conn.push(c);
      base.push(b);
      sent += c.sent;
      got += c.got;
      progress(`connector ${Math.round(c.perCpu)}/cpu-s ${Math.round(c.rate)}/s (${c.got} of ${c.sent}); bare ${Math.round(b.perCpu)}/cpu-s ${Math.round(b.rate)}/s (${b.got} of ${b.sent})`);
    }
  } finally {
    await new Promise<void>((r) => bare.close(() => r()));
  }
  await new Promise((r) => setTimeout(r, 200)); // the last datagrams in the socket buffer
  const [all] = await session.read(requests, AbortSignal.timeout(5000));
  const counted = all?.ok ? Number(all.samples[0]!.datum) : NaN;
  if (counted !== session.stats!().messages) throw new Error(`the 'all' indicator counted ${counted}, the listener parsed ${session.stats!().messages}`);
  if (session.stats!().rejects !== 0) throw new Error(`${session.stats!().rejects} of the bench's own messages were rejected`);
  const median = (xs: Run[], k: keyof Run) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [v, bl] = [median(conn, 'perCpu'), median(base, 'perCpu')];
  // Each round's ratio is taken between runs next to each other in time; their median is steadier than a ratio of medians.
  const ratios = conn.map((c, i) => c.perCpu / base[i]!.perCpu).sort((a, b) => a - b);
  emit({
    metric: 'syslog_msgs_per_s',
    value: Math.round(v),
    unit: 'msg/cpu-s',
    baseline: Math.round(bl),
    ratio: +ratios[Math.floor(ratios.length / 2)]!.toFixed(3),
    ratios: ratios.map((r) => +r.toFixed(3)),
    indicators: requests.length,
    wall_msgs_per_s: Math.round(median(conn, 'rate')),
    baseline_wall_msgs_per_s: Math.round(median(base, 'rate')),
    delivered_pct: +((100 * got) / sent).toFixed(1),
    note: 'per CPU-second of the receiving process, UDP over loopback from a sender process; baseline: a bare dgram socket that only counts',
  });
  emit({ metric: 'syslog_parse_per_s', value: Math.round(parseRate()), unit: 'msg/s', note: 'parseSyslog alone on the same mix, one thread' });
} finally {
  await session.stop();
}
