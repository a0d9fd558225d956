import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { ManualClock, systemClock, type Clock, type ConnectorSession, type ReadRequest, type Reading } from '@probemesh/core';
import { Probe } from '@probemesh/runtime';
import { connectorConformance, floodUdpSync, freeTcpPort, freeUdpPort, tempDir, waitUntil } from '@probemesh/testkit';
import { createSyslogConnector, syslogConnector, type SyslogConnectorOptions, type SyslogParams } from './index.js';

type Session = ConnectorSession<SyslogParams>;

/** Sends `lines` through util-linux logger, one message per line. */
function logger(args: string[], lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('logger', args, (err, _out, stderr) => (err ? reject(new Error(`logger ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
    child.stdin!.end(lines.join('\n') + '\n');
  });
}
const viaUdp = (port: number, ...more: string[]) => ['-d', '-n', '127.0.0.1', '-P', String(port), ...more];
const viaTcp = (port: number, ...more: string[]) => ['-T', '-n', '127.0.0.1', '-P', String(port), ...more];

/** Sends raw datagrams to a loopback port. */
async function sendUdp(port: number, messages: Array<string | Buffer>): Promise<void> {
  const s = createSocket('udp4');
  for (const m of messages) await new Promise<void>((r, j) => s.send(m, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.close(() => r()));
}

/** Writes `chunks` one by one over one TCP connection, then closes it. */
async function sendTcp(port: number, chunks: Array<string | Buffer>): Promise<void> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  for (const c of chunks) await new Promise<void>((r, j) => s.write(c, (e) => (e ? j(e) : r())));
  await new Promise<void>((r) => s.end(r));
}

async function start(t: Test, clock: Clock = systemClock, limits?: SyslogConnectorOptions): Promise<Session> {
  const logs: string[] = [];
  const s = (await (limits ? createSyslogConnector(limits) : syslogConnector).start({ clock, dataDir: '/tmp', log: (level, m) => logs.push(`${level} ${m}`) })) as Session;
  t.teardown(() => s.stop());
  return s;
}

/** Waits until the session has parsed or rejected `n` messages in all. */
const arrived = (s: Session, n: number) =>
  waitUntil(`${n} syslog messages`, () => s.stats!().messages! + s.stats!().rejects! >= n, 10_000).catch((err: Error) => {
    throw new Error(`${err.message}; stats: ${JSON.stringify(s.stats!())}`);
  });

const req = (indicator: string, params: SyslogParams): ReadRequest<SyslogParams> => ({ indicator, params });
const datum = (r: Reading | undefined) => (r?.ok ? (r.samples.length ? r.samples[0]!.datum : 'none') : `fail:${r?.kind}:${r?.error}`);

t.test('syslog — conformance', async (t) => {
  const port = await freeUdpPort();
  await connectorConformance(t, syslogConnector, {
    good: () => [req('all', { measure: 'count', port }), req('rate', { measure: 'rate_per_s', port }), req('bad', { measure: 'rejects', port })],
    badParams: [{}, { measure: 'bytes' }, { measure: 'count', port: 0 }, { measure: 'count', severity: 'loud' }, { measure: 'count', facility: [] }, { measure: 'count', colour: 'red' }, { measure: 'count', bind: 'localhost' }],
    stimulate: () => logger(viaUdp(port, '--rfc5424'), ['conformance']),
  });
});

t.test('syslog — logger over UDP and TCP (newline and octet-counted): exact counts per filter', async (t) => {
  const [u, tp] = [await freeUdpPort(), await freeTcpPort()];
  const s = await start(t);
  const me = hostname();
  const onUdp = (p: Omit<SyslogParams, 'port'>) => ({ port: u, ...p });
  const onTcp = (p: Omit<SyslogParams, 'port'>) => ({ port: tp, transport: 'tcp' as const, ...p });
  const requests = [
    req('u_all', onUdp({ measure: 'count' })),
    req('u_err', onUdp({ measure: 'count', severity: 'err' })),
    req('u_warning', onUdp({ measure: 'count', severity: 'warning' })),
    req('u_local3', onUdp({ measure: 'count', facility: 'local3' })),
    req('u_local03', onUdp({ measure: 'count', facility: ['local0', 'local3'] })),
    req('u_me', onUdp({ measure: 'count', host: me.toUpperCase() })),
    req('u_racks', onUdp({ measure: 'count', host: 'sw-rack*' })),
    req('u_ssh_failed', onUdp({ measure: 'count', app: 'sshd', pattern: 'failed password', ignoreCase: true })),
    req('u_5xx', onUdp({ measure: 'count', app: 'nginx', pattern: ' 5\\d\\d$' })),
    req('u_last', onUdp({ measure: 'last_message', app: 'nginx' })),
    req('u_rejects', onUdp({ measure: 'rejects' })),
    req('t_all', onTcp({ measure: 'count' })),
    req('t_crit', onTcp({ measure: 'count', severity: 'crit' })),
    req('t_auth', onTcp({ measure: 'count', facility: 'auth' })),
    req('t_ssh_failed', onTcp({ measure: 'count', app: 'sshd', pattern: 'Failed' })),
    req('t_raw', onTcp({ measure: 'count', host: 'raw-host', app: 'probe*' })),
    req('t_rejects', onTcp({ measure: 'rejects' })),
  ];
  await s.sync!(requests);
  t.equal(s.stats!().listeners, 2, 'one UDP and one TCP listener serve all 17 indicators');

  await logger(viaUdp(u, '--rfc5424', '-p', 'local3.err', '-t', 'nginx'), ['GET /a 500', 'GET /b 200', 'GET /c 503']);
  await logger(viaUdp(u, '--rfc3164', '-p', 'daemon.warning', '-t', 'sshd'), ['Failed password for root', 'Accepted key for bob']);
  await sendUdp(u, ['<134>1 2024-01-01T00:00:00Z sw-rack12-a lldpd 42 - - neighbor lost', '<131>Jan  5 10:00:00 sw-rack13-b ifmgr[7]: link down']);
  await logger(viaTcp(tp, '--rfc5424', '-p', 'local3.crit', '-t', 'nginx'), ['upstream timed out']);
  await logger(viaTcp(tp, '--rfc5424', '--octet-count', '-p', 'auth.info', '-t', 'sshd'), ['Failed password for admin', 'session opened']);
  await logger(viaTcp(tp, '--rfc3164', '-p', 'kern.emerg', '-t', 'kernel'), ['panic']);
  const raw = (n: number) => `<165>1 - raw-host probe-${n} - - - frame ${n}`;
  const framed = (m: string) => `${Buffer.byteLength(m)} ${m}`;
  const three = framed(raw(1)) + framed(raw(2)) + framed(raw(3));
  await sendTcp(tp, [three.slice(0, 5), three.slice(5, 40), three.slice(40)]); // frames split across writes
  await arrived(s, 14);

  const out = await s.read(requests, AbortSignal.timeout(5000));
  const got = Object.fromEntries(requests.map((r, i) => [r.indicator, datum(out[i])]));
  t.same(got, {
    u_all: 7,
    u_err: 4, // nginx err ×3, ifmgr err
    u_warning: 6, // + sshd warning ×2
    u_local3: 3,
    u_local03: 5,
    u_me: 5, // logger's messages carry this host's name; the switches' do not
    u_racks: 2,
    u_ssh_failed: 1,
    u_5xx: 2,
    u_last: 'GET /c 503',
    u_rejects: 0,
    t_all: 7,
    t_crit: 2, // nginx crit, kernel emerg
    t_auth: 2,
    t_ssh_failed: 1,
    t_raw: 3,
    t_rejects: 0,
  });
  t.match(s.stats!(), { messages: 14, rejects: 0, listeners: 2 });
});

t.test('syslog — malformed input is counted as rejects, changes no other count, and the listeners go on', async (t) => {
  const [u, tp] = [await freeUdpPort(), await freeTcpPort()];
  const s = await start(t);
  const requests = [
    req('u_count', { measure: 'count', port: u, maxMessageBytes: 480 }),
    req('u_rejects', { measure: 'rejects', port: u }),
    req('t_count', { measure: 'count', port: tp, transport: 'tcp', maxMessageBytes: 480 }),
    req('t_rejects', { measure: 'rejects', port: tp, transport: 'tcp' }),
  ];
  await s.sync!(requests);
  const ok = (n: number) => `<13>1 - host app - - - valid ${n}`;
  await sendUdp(u, [
    ok(1),
    Buffer.from([0xff, 0x00, 0x13, 0x37, 0x80, 0x0a]), // garbage bytes: pri
    '<192>beyond the largest PRI', // pri
    '<01>leading zero', // pri
    'no PRI at all', // pri
    '<13>1 2024-01-01T00:00:00Z host-only', // header
    `<13>${'x'.repeat(1000)}`, // oversize
    ok(2),
    `<13>${'y'.repeat(470)}`, // 474 bytes: fits
  ]);
  await sendTcp(tp, [
    ok(3) + '\n',
    'garbage line\n', // framing
    `2000 <13>${'z'.repeat(1996)}`, // counted, oversize: skipped exactly
    `${ok(4).length} ${ok(4)}`,
    `<13>${'w'.repeat(1000)}\n`, // line, oversize
    '<999>bad pri\n', // pri
    ok(5) + '\n',
  ]);
  await sendTcp(tp, ['30 <13>cut short']); // framing: the stream ends inside a counted frame
  await arrived(s, 3 + 6 + 3 + 4 + 1);
  const out = await s.read(requests, AbortSignal.timeout(5000));
  t.same(out.map(datum), [3, 6, 3, 5]);
  t.match(s.stats!(), { messages: 6, rejects: 11, rejects_pri: 5, rejects_header: 1, rejects_oversize: 3, rejects_framing: 2 });
  await logger(viaUdp(u, '--rfc3164'), ['still listening']);
  await logger(viaTcp(tp, '--rfc5424'), ['still listening']);
  await arrived(s, 19);
  t.same((await s.read(requests, AbortSignal.timeout(5000))).map(datum), [1, 0, 1, 0], 'each listener still counts after the garbage');
});

t.test('syslog — TCP: idle peers cannot lock out a sender (the quietest connection makes room), per-peer bound, idle timeout', async (t) => {
  const port = await freeTcpPort();
  const s = await start(t, systemClock, { maxConnections: 64, maxPerPeer: 48, idleTimeoutMs: 60_000 });
  const count = req('count', { measure: 'count', port, transport: 'tcp' });
  await s.sync!([count]);
  const socks: Socket[] = [];
  t.teardown(() => socks.forEach((c) => c.destroy()));
  const open = async (localAddress = '127.0.0.1') => {
    const c = connect({ port, host: '127.0.0.1', localAddress });
    c.on('error', () => undefined);
    socks.push(c);
    await new Promise<void>((r, j) => c.once('connect', r).once('error', j));
    return c;
  };
  // 100 idle connections from one peer and 30 from another: more than either bound.
  for (let i = 0; i < 100; i++) await open();
  for (let i = 0; i < 30; i++) await open('127.0.0.2');
  await waitUntil('the listener holds its bounds', () => s.stats!().tcp_evicted! >= 130 - 64);
  t.match(s.stats!(), { tcp_connections: 64, tcp_refused: 0 }, 'never more than maxConnections open');
  // A legitimate sender still gets through, on a fresh connection from the crowded address.
  await logger(viaTcp(port, '--rfc5424'), ['through the crowd']);
  await arrived(s, 1);
  t.same((await s.read([count], AbortSignal.timeout(5000))).map(datum), [1]);
  socks.splice(0).forEach((c) => c.destroy());
  await waitUntil('connections closed', () => s.stats!().tcp_connections === 0);
});

t.test('syslog — TCP: a connection quiet for idleTimeoutMs is closed and counted', async (t) => {
  const port = await freeTcpPort();
  const s = await start(t, systemClock, { idleTimeoutMs: 300 });
  await s.sync!([req('count', { measure: 'count', port, transport: 'tcp' })]);
  const c = connect(port, '127.0.0.1');
  c.on('error', () => undefined);
  t.teardown(() => c.destroy());
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  await new Promise<void>((r) => c.once('connect', r));
  c.write('<13>1 - host app - - - one\n');
  await closed;
  await waitUntil('the listener let go of it', () => s.stats!().tcp_connections === 0);
  t.match(s.stats!(), { tcp_idle_closed: 1, tcp_connections: 0, messages: 1 });
});

t.test('syslog — UDP datagrams the kernel drops while the probe is busy are reported as kernel_drops', async (t) => {
  const port = await freeUdpPort();
  const s = await start(t);
  const rs = [req('drops', { measure: 'kernel_drops', port }), req('count', { measure: 'count', port })];
  await s.sync!(rs);
  // A busy probe: this process's event loop is held while a child floods the port.
  const sent = floodUdpSync({ port, message: `<13>1 - h a - - - ${'x'.repeat(1000)}`, count: 5000 });
  await waitUntil('every datagram counted or dropped', () => s.stats!().messages! + s.stats!().kernel_drops! === sent);
  const [drops, count] = (await s.read(rs, AbortSignal.timeout(5000))).map(datum) as [number, number];
  t.ok(drops > 0, `${drops} of ${sent} datagrams dropped by the kernel`);
  t.equal(drops + count, sent, 'each datagram is either dropped by the kernel or counted');
  t.same((await s.read(rs, AbortSignal.timeout(5000))).map(datum), [0, 0], 'each read reports the drops since the previous one');
});

t.test('syslog — each read reports the window since that indicator read last; rate and last message', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const port = await freeUdpPort();
  const s = await start(t, clock);
  const count = req('count', { measure: 'count', port });
  const rate = req('rate', { measure: 'rate_per_s', port });
  const last = req('last', { measure: 'last_message', port, severity: 'warning' });
  await s.sync!([count, rate, last]);
  await logger(viaUdp(port, '--rfc5424', '-p', 'user.err'), ['one', 'two', 'three', 'four']);
  await logger(viaUdp(port, '--rfc5424', '-p', 'user.info'), ['five']);
  await arrived(s, 5);
  await clock.advance(10_000);
  t.same((await s.read([count, rate, last], AbortSignal.timeout(5000))).map(datum), [5, 0.5, 'four'], '5 messages in 10 s; the last at warning or above');
  t.same((await s.read([count], AbortSignal.timeout(5000))).map(datum), [0], 'count starts again after its read');
  await logger(viaUdp(port, '--rfc3164', '-p', 'user.info'), ['six', 'seven']);
  await arrived(s, 7);
  await clock.advance(10_000);
  t.same((await s.read([count, rate, last], AbortSignal.timeout(5000))).map(datum), [2, 0.2, 'none'], 'rate over its own 20 s window; no matching message: no sample');
});

t.test('syslog — sync shares, moves and closes listeners; a busy port or a bad pattern is a failed reading', async (t) => {
  const clock = new ManualClock(1_700_000_000_000);
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const s = await start(t, clock);
  const a = req('a', { measure: 'count', port: p1 });
  const b = req('b', { measure: 'count', port: p1, severity: 'err' });
  await s.sync!([a, b]);
  t.equal(s.stats!().listeners, 1, 'a and b share one listener');
  await logger(viaUdp(p1, '--rfc5424', '-p', 'user.err'), ['x']);
  await arrived(s, 1);
  t.same((await s.read([a, b], AbortSignal.timeout(5000))).map(datum), [1, 1]);

  const bMoved = req('b', { measure: 'count', port: p2, severity: 'err' });
  await s.sync!([a, bMoved]);
  t.equal(s.stats!().listeners, 2, 'b moved to its own port; a still listens');
  await logger(viaUdp(p2, '--rfc5424', '-p', 'user.err'), ['y']);
  await arrived(s, 2);
  t.same((await s.read([a, bMoved], AbortSignal.timeout(5000))).map(datum), [0, 1]);

  // A sync carries every active indicator: what it leaves out is let go.
  await s.sync!([bMoved]);
  t.equal(s.stats!().listeners, 1, 'a no longer synced: its listener closed; b keeps its own');
  await s.sync!([]);
  t.equal(s.stats!().listeners, 0, 'nothing synced: nothing listens');
  await sendUdp(p1, ['<13>nobody listens']); // the port is free again: nothing to count, nothing to crash

  const busy = createSocket('udp4');
  await new Promise<void>((r) => busy.bind(p1, '127.0.0.1', r));
  await s.sync!([a]);
  const failed = (await s.read([a], AbortSignal.timeout(5000)))[0]!;
  t.equal(failed.ok, false, 'a port in use is a failed reading');
  if (!failed.ok) t.match(failed, { kind: 'config', retryable: true, error: /EADDRINUSE/ });
  t.equal(s.stats!().listen_errors, 1);
  await new Promise<void>((r) => busy.close(() => r()));
  await s.sync!([a]);
  t.same((await s.read([a], AbortSignal.timeout(5000))).map(datum), [0], 'the next sync listens once the port is free');

  const bad = (await s.read([req('bad', { measure: 'count', port: p2, pattern: '(unclosed' })], AbortSignal.timeout(5000)))[0]!;
  t.match(bad, { ok: false, kind: 'config', retryable: false, error: 'pattern "(unclosed": invalid pattern: missing closing ) \'(unclosed\' at 1:1' }, 'a pattern that does not compile says what and where');
  const lookahead = (await s.read([req('ahead', { measure: 'count', port: p2, pattern: 'link (?!up)' })], AbortSignal.timeout(5000)))[0]!;
  t.match(lookahead, { ok: false, kind: 'config', error: /lookahead and lookbehind are not supported.* at 1:6$/ }, 'what the linear-time engine cannot do is refused with its position');
  const wrongBind = (await s.read([req('wb', { measure: 'count', port: p2, bind: '1.2.3' })], AbortSignal.timeout(5000)))[0]!;
  t.match(wrongBind, { ok: false, kind: 'config', error: /not an IP address/ });
});

t.test('syslog — a real probe counts failed logins and keeps the last one for its decision', async (t) => {
  const port = await freeUdpPort();
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const clock = new ManualClock(1_700_000_000_000);
  const source = { scheme: 'syslog', port, app: 'sshd', pattern: 'Failed password' };
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [syslogConnector], clock }, {
    indicators: [
      { id: 'ssh_failed', kind: 'atomic', source: { ...source, measure: 'count' } },
      { id: 'ssh_failed_last', kind: 'atomic', source: { ...source, measure: 'last_message' } },
    ],
    rules: [{ id: 'auth', period: '1h', indicators: ['ssh_failed', 'ssh_failed_last'], decisions: [{ id: 'brute_force', when: 'ssh_failed >= 3', severity: 'critical', indicator: 'ssh_failed' }] }],
  });
  t.teardown(() => probe.stop());
  const alerts: string[] = [];
  probe.onAlert((a) => alerts.push(`${a.state} ${a.value}`));
  await probe.tickNow('auth'); // opens the listener
  const session = (await probe.connectors.session('syslog')) as Session;
  await logger(viaUdp(port, '--rfc3164', '-p', 'auth.warning', '-t', 'sshd'), ['Failed password for root from 192.0.2.7', 'Failed password for root from 192.0.2.8', 'Accepted publickey for ops', 'Failed password for admin from 192.0.2.9']);
  await arrived(session, 4);
  await clock.advance(60_000); // not yet the hour: no scheduled tick, the next one is ours
  await probe.tickNow('auth');
  const last = (indicator: string) => {
    const r = probe.query({ indicator, last: 1, mode: 'records' });
    return r.mode === 'records' ? r.records[0]?.datum : undefined;
  };
  t.equal(last('ssh_failed'), 3);
  t.equal(last('ssh_failed_last'), 'Failed password for admin from 192.0.2.9');
  t.same(alerts, ['firing 3']);
  t.equal(probe.ruleStates()[0]?.errors, 0, probe.ruleStates()[0]?.lastError ?? 'no rule errors');
  t.match(probe.metrics().connectors, { syslog: { messages: 4, rejects: 0, listeners: 1 } });
});
