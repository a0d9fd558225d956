import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { ConnectorSession, ReadRequest, Reading } from '@probemesh/core';
import { ManualClock, systemClock } from '@probemesh/core';
import { MibResolver } from '@probemesh/connector-snmp';
import { int, oid, PDU, readMessage, tlv, v2cMessage, type ReadMessage } from '@probemesh/connector-snmp/internal';
import { fits, type Alert } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { checkSample, connectorConformance, floodUdpSync, freeUdpPort, tempDir, waitUntil } from '@probemesh/testkit';
import { createTrapConnector, trapConnector, v1TrapOid, type TrapParams } from './index.js';

// The net-snmp tools keep state (engine boots, discovered engines) under a directory of our own.
const snmpHome = await tempDir('pm-trap-');
t.teardown(() => snmpHome.remove());
const toolEnv = { ...process.env, SNMP_PERSISTENT_DIR: snmpHome.path, SNMPCONFPATH: snmpHome.path, MIBS: '' };

/** Runs a net-snmp tool (snmptrap, snmpinform); resolves with its exit code and output. */
function tool(cmd: 'snmptrap' | 'snmpinform', args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, ['-Ln', ...args], { env: toolEnv, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}`.trim() }),
    );
  });
}

const LINK_DOWN = '1.3.6.1.6.3.1.1.5.3';
const LINK_UP = '1.3.6.1.6.3.1.1.5.4';
const IF_INDEX = '1.3.6.1.2.1.2.2.1.1';
const PEN = '1.3.6.1.4.1.99999';
const ENGINE = '8000B98380AABBCCDDEEFF0011';
const sha = { name: 'pmsha', level: 'authPriv', authProtocol: 'SHA', authKey: 'pmauthpass123', privProtocol: 'AES', privKey: 'pmprivpass123' } as const;
const sha256 = { name: 'pmsha256', level: 'authNoPriv', authProtocol: 'SHA-256', authKey: 'pmauthpass256' } as const;
const v3sha = ['-v3', '-u', sha.name, '-l', 'authPriv', '-a', 'SHA', '-A', sha.authKey, '-x', 'AES', '-X', sha.privKey];
const v3sha256 = ['-v3', '-u', sha256.name, '-l', 'authNoPriv', '-a', 'SHA-256', '-A', sha256.authKey];

const req = (indicator: string, params: TrapParams): ReadRequest<TrapParams> => ({ indicator, params });

async function session(t: Test, c = trapConnector): Promise<ConnectorSession<TrapParams>> {
  const s = (await c.start({ clock: systemClock, dataDir: snmpHome.path, log: () => undefined })) as ConnectorSession<TrapParams>;
  t.teardown(() => s.stop());
  return s;
}

const stat = (s: ConnectorSession, name: string) => s.stats?.()[name] ?? 0;
/** Waits until the session has taken in `n` notifications and rejects in all (UDP: the sender's exit does not mean we have it). */
const received = (s: ConnectorSession, n: number) =>
  waitUntil(`${n} notifications received`, () => stat(s, 'traps') + stat(s, 'informs') + stat(s, 'rejects') >= n);
const values = (rs: Reading[]) => rs.map((r) => (r.ok ? (r.samples.length ? r.samples[0]!.datum : 'none') : `fail:${r.kind}`));

/** Sends raw bytes to a loopback port. */
async function sendRaw(port: number, bytes: Buffer): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => s.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  s.close();
}

/** Whether a UDP port on loopback can be bound, i.e. nobody listens there. */
async function portFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

t.test('trap — conformance', async (t) => {
  const port = await freeUdpPort();
  await connectorConformance(t, trapConnector, {
    good: () => [req('traps', { measure: 'count', port }), req('last_oid', { measure: 'last_trap_oid', port })],
    stimulate: async (s) => {
      await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '', LINK_DOWN]);
      await received(s, 1);
    },
    badParams: [
      {},
      { measure: 'sum' },
      { measure: 'count', port: 0 },
      { measure: 'count', port: 70000 },
      { measure: 'count', colour: 'red' },
      { measure: 'count', address: 'localhost' },
      { measure: 'count', engineID: 'not-hex' },
      { measure: 'count', engineID: '0x80' },
      { measure: 'count', trapOid: 'not an oid!' },
      { measure: 'count', users: [{ name: 'u', level: 'authPriv', authKey: 'short' }] },
    ],
  });
  t.ok(fits(trapConnector.params, { measure: 'count', port: 162, address: '0.0.0.0', communities: [], users: [sha], engineID: `0x${ENGINE}`, trapOid: 'IF-MIB::linkDown', agent: '10.0.0.1', varbind: IF_INDEX }), 'accepts a full v3 listener and selection');
  t.ok(fits(trapConnector.params, { measure: 'count', address: '::1' }), 'accepts an IPv6 bind address');
  t.equal(trapConnector.perDevice, false, 'a listener, not a per-device reader');
});

t.test('trap — v1, v2c, informs and v3 traps become exact counts, values and trap OIDs', async (t) => {
  const port = await freeUdpPort();
  const to = `127.0.0.1:${port}`;
  const listen = { port, engineID: ENGINE, users: [sha, sha256] };
  const s = await session(t);
  const requests = [
    req('link_down', { ...listen, measure: 'count', trapOid: 'IF-MIB::linkDown' }),
    req('all', { ...listen, measure: 'count' }),
    req('enterprise_17', { ...listen, measure: 'count', trapOid: `${PEN}.0.17` }),
    req('from_agent9', { ...listen, measure: 'count', agent: '127.0.0.9' }),
    req('if_index', { ...listen, measure: 'last_value', varbind: IF_INDEX }),
    req('message', { ...listen, measure: 'last_value', varbind: `${PEN}.1` }),
    req('last_oid', { ...listen, measure: 'last_trap_oid' }),
    req('v3_only', { ...listen, communities: [], measure: 'count' }),
    req('rejects', { ...listen, measure: 'rejects' }),
  ];
  await s.sync!(requests);
  const before = values(await s.read(requests, AbortSignal.timeout(5000)));
  t.same(before, [0, 0, 0, 0, 'none', 'none', 'none', 0, 0], 'nothing before the first trap: zero counts, no values');

  // v1 linkDown (generic 2) from agent-addr 127.0.0.9, ifIndex.3 = 3
  t.equal((await tool('snmptrap', ['-v1', '-c', 'public', to, `${PEN}`, '127.0.0.9', '2', '0', '', `${IF_INDEX}.3`, 'i', '3'])).code, 0);
  // v1 enterprise-specific 17 with a string varbind
  t.equal((await tool('snmptrap', ['-v1', '-c', 'public', to, `${PEN}`, '127.0.0.2', '6', '17', '', `${PEN}.1.0`, 's', 'fan tray 2 failed'])).code, 0);
  // v2c linkDown, ifIndex.4 = 4, forwarded on behalf of 127.0.0.9 (snmpTrapAddress.0)
  t.equal((await tool('snmptrap', ['-v2c', '-c', 'public', to, '', LINK_DOWN, `${IF_INDEX}.4`, 'i', '4', '1.3.6.1.6.3.18.1.3.0', 'a', '127.0.0.9'])).code, 0);
  await received(s, 3);
  // v2c inform linkUp: acknowledged, so snmpinform exits 0
  const inform = await tool('snmpinform', ['-v2c', '-c', 'public', '-r', '0', '-t', '5', to, '', LINK_UP, `${IF_INDEX}.5`, 'i', '5']);
  t.equal(inform.code, 0, `the v2c inform is acknowledged ${inform.out}`);
  // v3 authPriv (SHA/AES) trap linkDown with the receiver's engine ID, ifIndex.7 = 7
  t.equal((await tool('snmptrap', [...v3sha, '-e', `0x${ENGINE}`, to, '', LINK_DOWN, `${IF_INDEX}.7`, 'i', '7'])).code, 0);
  await received(s, 5);
  // v3 authNoPriv (SHA-256) inform: engine discovery, then acknowledged
  const inform3 = await tool('snmpinform', [...v3sha256, '-r', '0', '-t', '5', to, '', `${PEN}.0.9`, `${PEN}.1.0`, 's', 'door open']);
  t.equal(inform3.code, 0, `the v3 inform is acknowledged ${inform3.out}`);
  await received(s, 6);

  t.same(
    values(await s.read(requests, AbortSignal.timeout(5000))),
    [3, 6, 1, 2, 7, 'door open', `${PEN}.0.9`, 2, 0],
    'link_down 3 (v1, v2c, v3); all 6; enterprise_17 1; from_agent9 2; newest ifIndex 7; newest message; last trap OID; v3 only 2; no rejects',
  );
  t.same(values(await s.read(requests, AbortSignal.timeout(5000))), [0, 0, 0, 0, 7, 'door open', `${PEN}.0.9`, 0, 0], 'counts restart at each read; last values stay');
  t.match(s.stats!(), { traps: 4, informs: 2, matched: 6, unmatched: 0, rejects: 0, listeners_open: 1, watches: requests.length }, 'one receiver serves every indicator on the port');
});

t.test('trap — v1 traps map to their RFC 3584 trap OIDs', async (t) => {
  t.equal(v1TrapOid('1.3.6.1.4.1.9', 0, 0), '1.3.6.1.6.3.1.1.5.1', 'coldStart');
  t.equal(v1TrapOid('1.3.6.1.4.1.9', 2, 0), LINK_DOWN, 'linkDown');
  t.equal(v1TrapOid('1.3.6.1.4.1.9', 5, 0), '1.3.6.1.6.3.1.1.5.6', 'egpNeighborLoss');
  t.equal(v1TrapOid('1.3.6.1.4.1.9', 6, 17), '1.3.6.1.4.1.9.0.17', 'enterpriseSpecific: enterprise.0.specific');
});

t.test('trap — unknown communities and users, bad keys and garbage are rejected and counted; the listener keeps running', async (t) => {
  const port = await freeUdpPort();
  const to = `127.0.0.1:${port}`;
  const listen = { port, engineID: ENGINE };
  const s = await session(t);
  const requests = [
    req('public_count', { ...listen, measure: 'count', users: [sha] }),
    req('ops_count', { ...listen, measure: 'count', communities: ['ops'] }),
    req('rejects', { ...listen, measure: 'rejects', users: [sha] }),
  ];
  await s.sync!(requests);
  t.equal((await tool('snmptrap', ['-v2c', '-c', 'wrong', to, '', LINK_DOWN])).code, 0, 'v2c with an unknown community');
  t.equal((await tool('snmptrap', ['-v1', '-c', 'private', to, PEN, '127.0.0.1', '2', '0', ''])).code, 0, 'v1 with an unknown community');
  t.equal((await tool('snmptrap', ['-v3', '-u', 'nobody', '-l', 'authPriv', '-a', 'SHA', '-A', sha.authKey, '-x', 'AES', '-X', sha.privKey, '-e', `0x${ENGINE}`, to, '', LINK_DOWN])).code, 0, 'v3 unknown user');
  t.equal((await tool('snmptrap', ['-v3', '-u', sha.name, '-l', 'authPriv', '-a', 'SHA', '-A', 'wrongpass123', '-x', 'AES', '-X', sha.privKey, '-e', `0x${ENGINE}`, to, '', LINK_DOWN])).code, 0, 'v3 wrong auth key');
  await sendRaw(port, Buffer.from('this is not BER at all'));
  await sendRaw(port, Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01]));
  await received(s, 6);
  const refused = await tool('snmpinform', ['-v3', '-u', 'nobody', '-l', 'authNoPriv', '-a', 'SHA', '-A', sha.authKey, '-r', '0', '-t', '3', to, '', LINK_UP]);
  t.not(refused.code, 0, `a v3 inform from an unknown user is not acknowledged: ${refused.out}`);
  await received(s, 7);
  // Still running: a good trap with a community only another indicator accepts counts there alone.
  t.equal((await tool('snmptrap', ['-v2c', '-c', 'ops', to, '', LINK_DOWN])).code, 0);
  t.equal((await tool('snmptrap', [...v3sha, '-e', `0x${ENGINE}`, to, '', LINK_DOWN])).code, 0);
  await received(s, 9);
  t.same(values(await s.read(requests, AbortSignal.timeout(5000))), [1, 1, 7], 'v3 trap counted by its indicator, ops trap by its own; 7 rejects');
  t.match(s.stats!(), { rejects: 7, rejects_auth: 5, rejects_garbage: 2, traps: 2, datagrams: 10 }, 'rejects by cause (the refused inform sent one discovery datagram too)');
  t.same(values(await s.read(requests.slice(2), AbortSignal.timeout(5000))), [0], 'rejects restart at each read');
});

t.test('trap — an inform sent twice (its acknowledgement lost) is acknowledged again but counted once', async (t) => {
  const port = await freeUdpPort();
  const s = await session(t);
  const rs = [req('informs', { measure: 'count', port })];
  await s.sync!(rs);
  // A relay between snmpinform and the receiver that delivers every datagram twice, as a sender
  // retransmitting after a lost acknowledgement would (same request-id, same source).
  const relay = createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  relay.on('message', (msg, from) => {
    if (from.port === port) return void (client && relay.send(msg, client.port, client.address));
    client = from;
    relay.send(msg, port, '127.0.0.1');
    relay.send(msg, port, '127.0.0.1');
  });
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => relay.close());
  const r = await tool('snmpinform', ['-v2c', '-c', 'public', '-r', '0', '-t', '5', `127.0.0.1:${relay.address().port}`, '', LINK_UP]);
  t.equal(r.code, 0, `acknowledged through the relay ${r.out}`);
  await waitUntil('the copy arrived', () => stat(s, 'duplicates') === 1);
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [1], 'counted once');
  t.match(s.stats!(), { datagrams: 2, informs: 1, duplicates: 1 });
});

/** The 83-byte SNMPv2c inform that used to end the process: right community, a BIT STRING (or an INTEGER of 2^40) value. */
const killerInform = (value: Buffer, requestId = 0x21) =>
  v2cMessage('public', PDU.inform, requestId, [
    ['1.3.6.1.2.1.1.3.0', tlv(0x43, [1])],
    ['1.3.6.1.6.3.1.1.4.1.0', oid(LINK_DOWN)],
    ['1.3.6.1.2.1.2.2.1.8', value],
  ]);

t.test('trap — informs whose values net-snmp cannot echo are counted and acknowledged; nothing ends the process', async (t) => {
  const port = await freeUdpPort();
  const s = await session(t);
  const rs = [req('downs', { measure: 'count', port, trapOid: LINK_DOWN }), req('rejects', { measure: 'rejects', port })];
  await s.sync!(rs);
  const bits = killerInform(tlv(0x03, [0x00, 0xff]));
  t.equal(bits.length, 83, 'the datagram of the report: 83 bytes');
  // The sender: a socket that waits for each acknowledgement (a GetResponse with the inform's request-id).
  const sender = createSocket('udp4');
  await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => sender.close());
  const acks: ReadMessage[] = [];
  sender.on('message', (m) => acks.push(readMessage(m)));
  sender.send(bits, port, '127.0.0.1');
  sender.send(killerInform(int(2 ** 40), 0x22), port, '127.0.0.1');
  await waitUntil('both informs acknowledged', () => acks.length === 2);
  t.same(acks.map((a) => [a.pdu, a.requestId, a.oids.length]), [[PDU.response, 0x21, 3], [PDU.response, 0x22, 3]], 'each acknowledged under its request-id, with its varbinds');
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [2, 0], 'both counted as linkDowns; nothing rejected');
  t.match(s.stats!(), { informs: 2, acks_repaired: 2, rejects_exception: 0 });
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '', LINK_DOWN]);
  await received(s, 3);
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [1, 0], 'the listener goes on');
});

t.test('trap — datagrams the kernel drops while the probe is busy are reported as kernel_drops', async (t) => {
  const port = await freeUdpPort();
  const s = await session(t);
  const rs = [req('drops', { measure: 'kernel_drops', port }), req('rejects', { measure: 'rejects', port })];
  await s.sync!(rs);
  // A busy probe: this process's event loop is held while a child floods the port.
  const sent = floodUdpSync({ port, message: Buffer.alloc(1000, 0x41), count: 3000 });
  await waitUntil('every datagram received or dropped', () => stat(s, 'datagrams') + stat(s, 'kernel_drops') === sent);
  const [drops, rejects] = values(await s.read(rs, AbortSignal.timeout(5000))) as [number, number];
  t.ok(drops > 0, `${drops} of ${sent} datagrams dropped by the kernel`);
  t.equal(drops + rejects, sent, 'each datagram is either dropped by the kernel or read (and rejected as garbage)');
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [0, 0], 'each read reports the drops since the previous one');
});

t.test('trap — an IPv6 listener on ::1', async (t) => {
  const port = await freeUdpPort();
  const s = await session(t);
  const rs = [req('v6', { measure: 'last_trap_oid', address: '::1', port })];
  await s.sync!(rs);
  t.equal((await tool('snmptrap', ['-v2c', '-c', 'public', `udp6:[::1]:${port}`, '', LINK_DOWN])).code, 0);
  await received(s, 1);
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [LINK_DOWN]);
});

t.test('trap — sync opens and closes listeners; indicators sharing a port share one receiver', async (t) => {
  const [a, b] = [await freeUdpPort(), await freeUdpPort()];
  const s = await session(t, createTrapConnector({ lingerMs: 0 }));
  const onA = [req('a1', { measure: 'count', port: a }), req('a2', { measure: 'last_trap_oid', port: a })];
  const onB = [req('b1', { measure: 'count', port: b })];
  await s.sync!([...onA, ...onB]);
  t.equal(stat(s, 'listeners_open'), 2, 'two ports, two receivers');
  t.notOk(await portFree(a), 'port a is taken');
  t.notOk(await portFree(b), 'port b is taken');
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${b}`, '', LINK_UP]);
  await received(s, 1);
  t.same(values(await s.read(onB, AbortSignal.timeout(5000))), [1], 'port b hears its trap');

  await s.sync!(onA);
  t.equal(stat(s, 'listeners_open'), 1, 'b left out of the set: closed');
  t.ok(await portFree(b), 'port b is free again');
  await s.sync!([onA[0]!]);
  t.equal(stat(s, 'listeners_open'), 1, 'a stays open while one of its indicators remains');
  await s.sync!([]);
  t.equal(stat(s, 'listeners_open'), 0, 'nothing named: nothing listening');
  t.ok(await portFree(a), 'port a is free again');

  // Changed parameters make a new watch: a moved indicator follows its port.
  await s.sync!([req('a1', { measure: 'count', port: b })]);
  t.ok(await portFree(a), 'a1 moved away from a');
  t.notOk(await portFree(b), 'a1 now listens on b');
});

t.test('trap — with the default linger, one rule\'s sync does not close what another rule reads', async (t) => {
  const [a, b] = [await freeUdpPort(), await freeUdpPort()];
  const clock = new ManualClock(1_700_000_000_000);
  const s = (await createTrapConnector({ lingerMs: 60_000 }).start({ clock, dataDir: snmpHome.path, log: () => undefined })) as ConnectorSession<TrapParams>;
  t.teardown(() => s.stop());
  const ruleA = [req('a1', { measure: 'count', port: a })];
  const ruleB = [req('b1', { measure: 'count', port: b })];
  await s.sync!(ruleA);
  await s.sync!(ruleB);
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${a}`, '', LINK_UP]);
  await received(s, 1);
  t.same(values(await s.read(ruleA, AbortSignal.timeout(5000))), [1], "rule a's listener kept counting through rule b's sync");
  await clock.advance(30_000);
  await s.sync!(ruleB);
  t.equal(stat(s, 'listeners_open'), 2, 'within the linger both stay');
  await clock.advance(40_000);
  await s.sync!(ruleB);
  t.equal(stat(s, 'listeners_open'), 1, 'a watch nobody named for longer than the linger is closed');
  t.ok(await portFree(a), 'its port is free');
  await clock.advance(61_000);
  t.equal(stat(s, 'listeners_open'), 0, 'and with no sync at all, the sweep timer closes the rest');
});

t.test('trap — a port in use is a config failure that says so; the next sync binds once it is free', async (t) => {
  const port = await freeUdpPort();
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(port, '127.0.0.1', () => r()));
  const logs: string[] = [];
  const s = (await trapConnector.start({ clock: systemClock, dataDir: snmpHome.path, log: (l, m) => logs.push(`${l} ${m}`) })) as ConnectorSession<TrapParams>;
  t.teardown(() => s.stop());
  const rs = [req('c', { measure: 'count', port })];
  await s.sync!(rs);
  const [r] = await s.read(rs, AbortSignal.timeout(5000));
  t.equal(r?.ok, false, 'no reading without a listener');
  if (r && !r.ok) {
    t.equal(r.kind, 'config');
    t.match(r.error, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*another process`), r.error);
  }
  t.ok(logs.some((l) => l.startsWith('warn') && l.includes('EADDRINUSE')), 'logged as a warning');
  await new Promise<void>((r) => blocker.close(() => r()));
  await s.sync!(rs);
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '', LINK_UP]);
  await received(s, 1);
  t.same(values(await s.read(rs, AbortSignal.timeout(5000))), [1], 'listening and counting after the retry');
  t.equal(stat(s, 'bind_errors'), 1);
});

t.test('trap — configuration problems are failed readings that say what to change', async (t) => {
  const port = await freeUdpPort();
  const s = await session(t);
  const rs = [
    req('ok', { measure: 'count', port, engineID: ENGINE, users: [sha] }),
    req('other_engine', { measure: 'count', port, engineID: '8000B98380FFFFFFFFFF' }),
    req('other_keys', { measure: 'count', port, users: [{ ...sha, authKey: 'different123' }] }),
    req('no_keys', { measure: 'count', port, users: [{ name: 'u', level: 'authNoPriv' }] }),
    req('bad_mib', { measure: 'count', port, trapOid: 'NO-SUCH-MIB::thing' }),
  ];
  await s.sync!(rs);
  const out = await s.read(rs, AbortSignal.timeout(5000));
  t.equal(out[0]?.ok, true, 'the first indicator on the port reads');
  const errors = out.slice(1).map((r) => (r.ok ? 'ok' : `${r.kind}: ${r.error}`));
  t.match(errors[0], /^config: .*already listens with engine ID 8000b98380aabbccddeeff0011/);
  t.match(errors[1], /^config: .*user 'pmsha' is configured differently by indicator ok/);
  t.match(errors[2], /^config: .*user 'u' at level authNoPriv needs authProtocol and authKey/);
  t.match(errors[3], /^config: .*NO-SUCH-MIB/);
  t.equal(stat(s, 'listeners_open'), 1, 'the bad ones changed nothing');
});

t.test('trap — a decision "link_down > 0" raises an alert through a real probe, and resolves', async (t) => {
  const port = await freeUdpPort();
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const clock = new ManualClock(1_700_000_000_000);
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [createTrapConnector()], clock }, {
    indicators: [
      { id: 'link_down', kind: 'atomic', source: { scheme: 'trap', measure: 'count', port, trapOid: 'IF-MIB::linkDown' } },
      { id: 'down_if', kind: 'atomic', source: { scheme: 'trap', measure: 'last_value', port, trapOid: 'IF-MIB::linkDown', varbind: IF_INDEX } },
    ],
    rules: [
      {
        id: 'links',
        period: '1h', // ticks come from tickNow, not the clock
        indicators: ['link_down', 'down_if'],
        decisions: [{ id: 'links_down', when: 'link_down > 0', severity: 'critical', indicator: 'link_down', message: '{value} links went down' }],
      },
    ],
  } as never);
  t.teardown(() => probe.stop());
  const seen: string[] = [];
  const alerts: Alert[] = [];
  probe.onAlert((a) => {
    seen.push(`${a.state} ${a.value}`);
    alerts.push(a);
  });
  const session = await probe.connectors.session('trap');

  await probe.tickNow('links'); // the first tick opens the listener
  t.same(seen, [], 'no trap, no alert');
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '', LINK_DOWN, `${IF_INDEX}.12`, 'i', '12']);
  await tool('snmptrap', ['-v1', '-c', 'public', `127.0.0.1:${port}`, PEN, '127.0.0.1', '2', '0', '', `${IF_INDEX}.13`, 'i', '13']);
  await tool('snmptrap', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '', LINK_UP, `${IF_INDEX}.12`, 'i', '12']);
  await received(session, 3);
  await clock.advance(10_000);
  await probe.tickNow('links');
  t.same(seen, ['firing 2'], 'two linkDowns since the last tick: one alert, firing');
  t.same(
    alerts[0],
    { id: 'p1.links.links_down', probe: 'p1', rule: 'links', decision: 'links_down', indicator: 'link_down', value: 2, severity: 'critical', state: 'firing', message: '2 links went down', since: 1_700_000_010_000, ts: 1_700_000_010_000 },
    'the alert as destinations get it',
  );
  const last = (indicator: string) => {
    const r = probe.query({ indicator, last: 1, mode: 'records' });
    return r.mode === 'records' ? r.records[0]?.datum : undefined;
  };
  t.equal(last('link_down'), 2, 'the count is stored');
  t.equal(last('down_if'), 13, 'the ifIndex of the newest linkDown is stored');
  await clock.advance(10_000);
  await probe.tickNow('links');
  t.same(seen, ['firing 2', 'resolved 0'], 'a quiet period resolves it');
  t.equal(probe.ruleStates()[0]?.errors, 0, probe.ruleStates()[0]?.lastError ?? 'no errors');
});

t.test('trap — sample.yaml is a valid probe config fragment for this connector', async (t) => {
  const mibs = new MibResolver();
  const atomic = await checkSample(t, new URL('../sample.yaml', import.meta.url), [trapConnector]);
  t.equal(atomic.length, 5);
  for (const i of atomic) {
    for (const name of [i.params.trapOid, i.params.varbind].filter((x) => x !== undefined)) t.match(mibs.resolve(String(name)), /^1\.3\.6\.1(\.\d+)+$/, `${String(name)} resolves`);
  }
});
