import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectorConformance, pcapFile, udpFrame } from '@probemesh/testkit';
import { systemClock, type ConnectorSession, type Reading, type ReadRequest } from '@probemesh/core';
import { fits } from '@probemesh/model';
import { createPcapConnector, pcapConnector, type PcapParams } from './index.js';

const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' }).toString();
const ctx = { clock: systemClock, dataDir: tmpdir(), log: () => undefined };
const HOST_MAC = '02:00:00:00:00:0a';
const PEER_MAC = '02:00:00:00:00:0b';
/** Replayed frames go to this MAC: the host drops them as for another host and never answers. */
const NOBODY_MAC = '02:00:00:00:00:99';

/**
 * A veth pair into a network namespace this test creates: `dev` (this side, where we capture)
 * and the peer inside `ns`. IPv6 is off and neighbours are static, so the only packets on the
 * link are the ones a test sends: counts can be checked exactly against the interface's own.
 */
interface Lab {
  ns: string;
  dev: string;
  host: string;
  peer: string;
  broadcast: string;
  /** rx + tx packets and bytes of `dev`, from the kernel. */
  link(): { packets: number; bytes: number };
  /** Runs a Node script inside the namespace; rejects if it fails. */
  inNs(code: string): Promise<void>;
}

let labs = 0;
function lab(t: Test): Lab {
  const id = `${process.pid % 100000}${labs++}`;
  const ns = `pmpcap${id}`;
  const dev = `pmpc${id}a`;
  const peerDev = `pmpc${id}b`;
  const net = `169.254.${100 + ((process.pid + labs) % 150)}`;
  const [host, peer, broadcast] = [`${net}.1`, `${net}.2`, `${net}.7`];
  sh(`ip netns add ${ns}`);
  t.teardown(() => sh(`ip netns del ${ns}; ip link del ${dev} 2>/dev/null || true`));
  sh(`ip link add ${dev} address ${HOST_MAC} type veth peer name ${peerDev} address ${PEER_MAC} && ip link set ${peerDev} netns ${ns}`);
  sh(`sysctl -qw net.ipv6.conf.${dev}.disable_ipv6=1 && ip addr add ${host}/29 brd + dev ${dev} && ip neigh replace ${peer} lladdr ${PEER_MAC} nud permanent dev ${dev}`);
  sh(
    `ip netns exec ${ns} sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && ip link set lo up && ip addr add ${peer}/29 brd + dev ${peerDev} && ip neigh replace ${host} lladdr ${HOST_MAC} nud permanent dev ${peerDev} && ip link set ${peerDev} up'`,
  );
  sh(`ip link set ${dev} up`);
  const stat = (n: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/${n}`, 'utf8'));
  return {
    ns,
    dev,
    host,
    peer,
    broadcast,
    link: () => ({ packets: stat('rx_packets') + stat('tx_packets'), bytes: stat('rx_bytes') + stat('tx_bytes') }),
    inNs: (code) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (b) => (err += b));
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sender in ${ns} failed: ${err}`))));
      }),
  };
}

/** A script that sends `n` UDP datagrams of `size` payload bytes from inside the namespace. */
function udpSender(from: string, to: string, port: number, n: number, size: number, setup = ''): string {
  return `const s = require('dgram').createSocket('udp4');
s.bind(0, '${from}', () => { ${setup}
  let i = 0;
  const next = () => { if (i++ >= ${n}) return s.close(); s.send(Buffer.alloc(${size}), ${port}, '${to}', (e) => { if (e) { console.error(e.message); process.exit(1); } next(); }); };
  next();
});`;
}

/** Waits until the link is quiet and the capture has seen every packet on it since `from`. */
async function settle(session: ConnectorSession, l: Lab, from: { packets: number }, seenFrom: number): Promise<{ packets: number; bytes: number }> {
  let last = l.link();
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const now = l.link();
    const seen = session.stats!().packets! - seenFrom;
    if (now.packets === last.packets && seen >= now.packets - from.packets) return now;
    last = now;
  }
  return last;
}

const req = (indicator: string, params: Partial<PcapParams> & { interface: string }): ReadRequest<PcapParams> => ({
  indicator,
  params: { measure: 'packets', ...params },
});
const datum = (r: Reading | undefined) => (r?.ok ? r.samples[0]?.datum : `fail:${r?.kind}:${r?.error}`);

t.test('pcap — conformance on loopback', async (t) => {
  await connectorConformance(t, pcapConnector, {
    good: () => [req('lo_udp', { interface: 'lo', kind: 'udp' }), req('lo_pps', { interface: 'lo', measure: 'pps' }), req('lo_drops', { interface: 'lo', measure: 'kernel_drops' })],
    stimulate: async () => {
      const s = createSocket('udp4');
      for (let i = 0; i < 10; i++) await new Promise((r) => s.send('x', 9, '127.0.0.1', r));
      s.close();
    },
    badParams: [
      {},
      { interface: 'lo' },
      { interface: 'lo', measure: 'flows' },
      { interface: 'lo', measure: 'packets', kind: 'ftp' },
      { interface: 'lo', measure: 'packets', bufferMb: 129 },
      { interface: 'lo', measure: 'packets', snaplen: 10 },
      { interface: 'lo', measure: 'packets', port: 70000 },
      { interface: 'eth 0', measure: 'packets' },
      { interface: 'lo', measure: 'packets', colour: 'red' },
    ],
  });
});

t.test('pcap — counts every packet of UDP, broadcast, multicast and HTTP traffic exactly, per kind', async (t) => {
  const l = lab(t);
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, l.host, r));
  t.teardown(() => udp.close());
  const udpPort = udp.address().port;
  const http = createServer((_, res) => res.end('probemesh'));
  await new Promise<void>((r) => http.listen(0, l.host, r));
  t.teardown(() => http.close());
  const httpPort = (http.address() as { port: number }).port;

  const session = await pcapConnector.start(ctx);
  t.teardown(() => session.stop());
  const i = l.dev;
  const reqs = [
    req('total', { interface: i }),
    req('total_bytes', { interface: i, measure: 'bytes' }),
    req('ip', { interface: i, kind: 'ip' }),
    req('tcp', { interface: i, kind: 'tcp' }),
    req('udp', { interface: i, kind: 'udp' }),
    req('broadcast', { interface: i, kind: 'broadcast' }),
    req('multicast', { interface: i, kind: 'multicast' }),
    req('web', { interface: i, kind: 'port', port: httpPort }),
    req('udp_port', { interface: i, filter: `udp dst port ${udpPort}` }),
    req('talkers', { interface: i, kind: 'top_talkers' }),
    req('kernel_drops', { interface: i, measure: 'kernel_drops' }),
    req('process_drops', { interface: i, measure: 'process_drops' }),
  ];
  await session.sync!(reqs);
  const phase = async (name: string, send: () => Promise<void>) => {
    await session.read(reqs, AbortSignal.timeout(5000)); // opens a new window
    const from = l.link();
    const seenFrom = session.stats!().packets!;
    await send();
    const to = await settle(session, l, from, seenFrom);
    const out = await session.read(reqs, AbortSignal.timeout(5000));
    const v = Object.fromEntries(reqs.map((r, k) => [r.indicator, datum(out[k])]));
    const talkers = out[reqs.findIndex((r) => r.indicator === 'talkers')]!;
    t.comment(`${name}: ${JSON.stringify(v)}`);
    return { v, talkers: talkers.ok ? talkers.samples : [], link: { packets: to.packets - from.packets, bytes: to.bytes - from.bytes } };
  };

  const N = 200;
  const u = await phase('unicast udp', () => l.inNs(udpSender(l.peer, l.host, udpPort, N, 100)));
  t.equal(u.link.packets, N, 'the link carried exactly the datagrams sent');
  t.same(
    u.v,
    { total: N, total_bytes: N * 142, ip: N, tcp: 0, udp: N, broadcast: 0, multicast: 0, web: 0, udp_port: N, talkers: N, kernel_drops: 0, process_drops: 0 },
    'unicast UDP: every kind counted exactly (142-byte frames)',
  );
  t.same(u.talkers, [{ datum: N, instance: l.peer }], 'the one talker');

  const b = await phase('broadcast', () => l.inNs(udpSender(l.peer, l.broadcast, 9, 30, 50, 's.setBroadcast(true);')));
  t.match(b.v, { total: 30, total_bytes: 30 * 92, broadcast: 30, multicast: 0, udp: 30, ip: 30, tcp: 0 }, 'broadcast datagrams are broadcast, not multicast');

  const m = await phase('multicast', () => l.inNs(udpSender(l.peer, '239.255.77.1', 9, 20, 10, `s.setMulticastInterface('${l.peer}');`)));
  t.match(m.v, { total: 20, multicast: 20, broadcast: 0, udp: 20, tcp: 0 }, 'multicast datagrams are multicast, not broadcast');

  const requests = 5;
  const h = await phase(
    'http',
    () =>
      l.inNs(`const http = require('http'); let i = 0;
const next = () => { if (i++ >= ${requests}) return;
  http.get({ host: '${l.host}', port: ${httpPort}, path: '/', agent: false }, (res) => { res.resume(); res.on('end', next); })
    .on('error', (e) => { console.error(e.message); process.exit(1); }); };
next();`),
  );
  t.ok(h.link.packets >= requests * 7, `${requests} HTTP requests took ${h.link.packets} TCP segments`);
  t.match(
    h.v,
    { total: h.link.packets, total_bytes: h.link.bytes, ip: h.link.packets, tcp: h.link.packets, web: h.link.packets, udp: 0, udp_port: 0, broadcast: 0 },
    'HTTP: every segment on the link counted as tcp and web, bytes as the interface counts them',
  );
  t.same(
    h.talkers.map((s) => s.instance).sort(),
    [l.host, l.peer].sort(),
    'both ends talk',
  );
  t.equal(
    h.talkers.reduce((a, s) => a + Number(s.datum), 0),
    h.link.packets,
    'talkers add up to the traffic',
  );

  const quiet = await phase('quiet', async () => undefined);
  t.match(quiet.v, { total: 0, tcp: 0, udp: 0 }, 'a window without traffic counts nothing');
  t.same(quiet.talkers, [], 'and has no talkers');

  const st = session.stats!();
  t.match(st, { captures: 1, filters: 9, kernel_drops: 0, process_drops: 0 }, 'one capture serves every filter on the interface (total and total_bytes share one)');
});

t.test('pcap — rates over the window between readings', async (t) => {
  const l = lab(t);
  const session = await pcapConnector.start(ctx);
  t.teardown(() => session.stop());
  const reqs = [req('n', { interface: l.dev }), req('b', { interface: l.dev, measure: 'bytes' }), req('pps', { interface: l.dev, measure: 'pps' }), req('bps', { interface: l.dev, measure: 'bps' })];
  await session.read(reqs, AbortSignal.timeout(5000));
  const t0 = Date.now();
  const from = l.link();
  const seenFrom = session.stats!().packets!;
  await l.inNs(udpSender(l.peer, l.broadcast, 9, 50, 58, 's.setBroadcast(true);'));
  await settle(session, l, from, seenFrom);
  const out = (await session.read(reqs, AbortSignal.timeout(5000))).map(datum) as number[];
  const secs = (Date.now() - t0) / 1000;
  t.same(out.slice(0, 2), [50, 5000], '50 frames of 100 bytes');
  // The window is at least as long as the sending and no longer than the wall time around it.
  t.ok(out[2]! > 0 && out[2]! >= 50 / (secs + 0.1), `pps ${out[2]} over a window of at most ${secs} s`);
  t.equal(Math.round((out[3]! / out[2]!) * 1e6) / 1e6, 800, 'bps / pps is 8 × the frame size');
});

t.test('pcap — top talkers from a bounded table; sources that find it full are process drops', async (t) => {
  const l = lab(t);
  const dir = mkdtempSync(join(tmpdir(), 'probemesh-pcap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 40 sources; source k sends k+1 frames, round-robin, so the first 16 sources seen fill the table.
  const frames = [];
  for (let round = 0; round < 40; round++)
    for (let k = round; k < 40; k++) frames.push(udpFrame({ size: 60, src: `192.0.2.${k + 1}`, dst: l.host, dstMac: NOBODY_MAC, srcMac: PEER_MAC }));
  t.equal(frames.length, 820);
  const file = join(dir, 'talkers.pcap');
  writeFileSync(file, pcapFile(frames));
  const session = await pcapConnector.start(ctx);
  t.teardown(() => session.stop());
  const reqs = [
    req('talkers', { interface: l.dev, kind: 'top_talkers', maxHosts: 16, top: 5 }),
    req('talker_bytes', { interface: l.dev, kind: 'top_talkers', measure: 'bytes', top: 2 }),
    req('drops', { interface: l.dev, measure: 'process_drops' }),
  ];
  await session.read(reqs, AbortSignal.timeout(5000));
  const from = l.link();
  const seenFrom = session.stats!().packets!;
  sh(`ip netns exec ${l.ns} tcpreplay -q -i pmpc${l.dev.slice(4, -1)}b --pps=20000 ${file}`);
  const to = await settle(session, l, from, seenFrom);
  t.equal(to.packets - from.packets, 820, 'the link carried the replay and nothing else');
  const [talkers, bytes, drops] = await session.read(reqs, AbortSignal.timeout(5000));
  const rows = (r: Reading | undefined) => (r?.ok ? r.samples.map((s) => [s.instance, s.datum]) : r?.error);
  t.same(
    rows(talkers),
    [['192.0.2.16', 16], ['192.0.2.15', 15], ['192.0.2.14', 14], ['192.0.2.13', 13], ['192.0.2.12', 12], ['other', 820 - 16 - 15 - 14 - 13 - 12]],
    'the five busiest of the 16 sources tracked, the rest as other',
  );
  t.same(rows(bytes), [['192.0.2.40', 40 * 60], ['192.0.2.39', 39 * 60], ['other', (820 - 40 - 39) * 60]], 'ranked by bytes with a large table');
  t.equal(datum(drops), 820 - (16 * 17) / 2, 'packets of the 24 sources that found the table full');
});

t.test('pcap — kernel drops: every packet on the link is either counted or a kernel drop', async (t) => {
  const l = lab(t);
  const dir = mkdtempSync(join(tmpdir(), 'probemesh-pcap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'burst.pcap');
  writeFileSync(file, pcapFile(Array.from({ length: 2000 }, () => udpFrame({ size: 1500, src: l.peer, dst: l.host, dstMac: NOBODY_MAC, srcMac: PEER_MAC }))));
  const session = await pcapConnector.start(ctx);
  t.teardown(() => session.stop());
  // A 1 MB ring holding whole 1500-byte frames fills quickly under a burst.
  const reqs = [req('n', { interface: l.dev, bufferMb: 1, snaplen: 2048 }), req('kd', { interface: l.dev, bufferMb: 1, snaplen: 2048, measure: 'kernel_drops' })];
  await session.read(reqs, AbortSignal.timeout(5000));
  const from = l.link();
  sh(`ip netns exec ${l.ns} tcpreplay -q -i pmpc${l.dev.slice(4, -1)}b --topspeed --loop=5 --preload-pcap ${file}`);
  await sleep(500);
  const to = l.link();
  const [n, kd] = (await session.read(reqs, AbortSignal.timeout(5000))).map(datum) as number[];
  t.comment(`${to.packets - from.packets} packets on the link: ${n} counted, ${kd} dropped by the kernel`);
  t.equal(to.packets - from.packets, 10_000, 'the link carried the burst and nothing else');
  t.equal(n! + kd!, to.packets - from.packets, 'counted + kernel drops = packets on the link');
});

t.test('pcap — errors: unknown interface, bad filter, an interface that goes away', async (t) => {
  const session = await pcapConnector.start(ctx);
  t.teardown(() => session.stop());
  // A veth pair of our own (no traffic on it) that is deleted while captured.
  const dummy = `pmpcg${process.pid % 100000}`;
  sh(`ip link add ${dummy} type veth peer name ${dummy}p && ip link set ${dummy} up && ip link set ${dummy}p up`);
  t.teardown(() => sh(`ip link del ${dummy} 2>/dev/null || true`));
  const reqs = [req('nope', { interface: 'nosuch0' }), req('bad', { interface: 'lo', filter: 'tcp prot 80' }), req('good', { interface: 'lo', kind: 'tcp' }), req('gone', { interface: dummy })];
  const out = await session.read(reqs, AbortSignal.timeout(5000));
  t.match(out[0], { ok: false, kind: 'not-found', error: "pcap: no such interface 'nosuch0'" }, 'an unknown interface says so');
  t.match(out[1], { ok: false, kind: 'config', error: /bad BPF filter "tcp prot 80" on lo: .*syntax error/ }, 'a bad filter is named');
  t.match(out[2], { ok: true }, 'a good filter on the same interface still reads');
  t.match(out[3], { ok: true }, 'the veth reads');
  sh(`ip link del ${dummy}`);
  await sleep(300);
  const after = await session.read(reqs, AbortSignal.timeout(5000));
  t.match(after[3], { ok: false, error: new RegExp(`capture on '${dummy}' stopped|no such interface`) }, `a vanished interface fails: ${datum(after[3])}`);
  t.match(after[2], { ok: true }, 'and spoils nothing else');
  const again = await session.read(reqs, AbortSignal.timeout(5000));
  t.match(again[3], { ok: false, kind: 'not-found' }, 'then it is an unknown interface');

  const small = createPcapConnector({ maxBufferMb: 16 });
  t.notOk(fits(small.params, { interface: 'lo', measure: 'packets', bufferMb: 32 }), 'bufferMb above the configured maximum is refused');
  t.ok(fits(small.params, { interface: 'lo', measure: 'packets', bufferMb: 16 }), 'up to it is fine');
  const aborted = new AbortController();
  aborted.abort(new Error('tick timeout'));
  t.match(await session.read([reqs[2]!], aborted.signal), [{ ok: false, kind: 'timeout' }], 'an aborted tick reads nothing');
});

t.test('pcap — a filter no rule uses any more is closed', async (t) => {
  let now = 1_000_000;
  const clock = { ...systemClock, now: () => now };
  const session = await createPcapConnector({ idleMs: 60_000 }).start({ ...ctx, clock });
  t.teardown(() => session.stop());
  await session.sync!([req('a', { interface: 'lo' }), req('b', { interface: 'lo', kind: 'udp' })]);
  t.match(session.stats!(), { captures: 1, filters: 2 });
  now += 30_000;
  await session.sync!([req('a', { interface: 'lo' })]);
  now += 40_000;
  await session.sync!([req('a', { interface: 'lo' })]);
  t.match(session.stats!(), { captures: 1, filters: 1 }, 'the udp filter, unused for 70 s, is gone');
  now += 200_000;
  await session.sync!([]);
  t.match(session.stats!(), { captures: 0, filters: 0 }, 'and the capture with its last filter');
});
