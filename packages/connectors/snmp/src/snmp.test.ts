import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectorSession, ReadRequest, Reading } from '@probemesh/core';
import { systemClock } from '@probemesh/core';
import type { Device } from '@probemesh/model';
import { fits } from '@probemesh/model';
import { connectorConformance, startSnmpd, tempDir, type SnmpUser } from '@probemesh/testkit';
import { createSnmpConnector, snmpConnector } from './index.js';
import { int, PDU, readMessage, v2cMessage } from './internal.js';

const run = promisify(execFile);
const PEN = '1.3.6.1.4.1.99999';
const IF_DESCR = '1.3.6.1.2.1.2.2.1.2';
const HR_SW_NAME = '1.3.6.1.2.1.25.6.3.1.2';

const users: SnmpUser[] = [
  { name: 'pmsha', level: 'authPriv', authProtocol: 'SHA', authKey: 'pmauthpass123', privProtocol: 'AES', privKey: 'pmprivpass123' },
  { name: 'pmsha512', level: 'authPriv', authProtocol: 'SHA-512', authKey: 'pmauthpass512', privProtocol: 'AES', privKey: 'pmprivpass512' },
  { name: 'pmmd5', level: 'authNoPriv', authProtocol: 'MD5', authKey: 'pmauthpassmd5' },
  { name: 'pmdes', level: 'authPriv', authProtocol: 'MD5', authKey: 'pmauthpassdes', privProtocol: 'DES', privKey: 'pmprivpassdes' },
  { name: 'pmnoauth', level: 'noAuthNoPriv' },
];

const agent = await startSnmpd({
  users,
  overrides: [
    { oid: `${PEN}.1.0`, type: 'integer', value: 42 },
    { oid: `${PEN}.2.0`, type: 'counter', value: 4000000000 },
    { oid: `${PEN}.3.0`, type: 'octet_str', value: 'hello probemesh' },
    { oid: `${PEN}.4.0`, type: 'timeticks', value: 12345 },
    { oid: `${PEN}.5.0`, type: 'unsigned', value: 7 },
  ],
});
t.teardown(() => agent.stop());

/** A UDP port on loopback that takes every datagram and never answers. */
async function silentPort(): Promise<{ port: number; close(): Promise<void> }> {
  const s: Socket = createSocket('udp4');
  s.on('message', () => undefined);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, close: () => new Promise((r) => s.close(() => r())) };
}

const device = (protocols: Record<string, unknown> = { version: '2c', community: 'public', port: agent.port }, id = 'agent'): Device => ({
  id,
  address: '127.0.0.1',
  protocols: { snmp: protocols },
});

function req(params: Record<string, unknown>, dev: Device = device(), indicator = 'x'): ReadRequest {
  return { indicator, device: dev, params, deviceParams: dev.protocols?.snmp };
}

async function session(t: Test, c = snmpConnector): Promise<ConnectorSession> {
  const s = await c.start({ clock: systemClock, dataDir: '/tmp', log: () => undefined });
  t.teardown(() => s.stop());
  return s;
}

const ok = (r: Reading | undefined) => (r?.ok ? r.samples : undefined);
const datum = (r: Reading | undefined) => ok(r)?.[0]?.datum;
const fail = (r: Reading | undefined) => (r && !r.ok ? r : undefined);
const timeout = () => AbortSignal.timeout(20_000);

t.test('snmp — conformance', async (t) => {
  const silent = await silentPort();
  t.teardown(() => silent.close());
  await connectorConformance(t, snmpConnector, {
    good: () => [req({ oid: `${PEN}.1.0` }, device(), 'answer'), req({ oid: IF_DESCR, walk: true }, device(), 'if_descr')],
    silent: () => req({ oid: `${PEN}.1.0` }, device({ community: 'public', port: silent.port, timeoutMs: 5000 }, 'silent'), 'answer'),
    badParams: [{}, { oid: '' }, { oid: 'not an oid!' }, { oid: '1.3.6', walk: 'yes' }, { oid: '1.3.6', extra: 1 }, { oid: '1.3.6', maxRows: 0 }],
  });
  t.notOk(fits(snmpConnector.deviceParams!, { version: '4' }), 'rejects version 4');
  t.notOk(fits(snmpConnector.deviceParams!, { user: { name: 'u', level: 'authPriv', authKey: 'short' } }), 'rejects a v3 key under 8 characters');
  t.ok(fits(snmpConnector.deviceParams!, { version: 3, user: { name: 'u', level: 'authPriv', authProtocol: 'SHA-256', authKey: '12345678', privProtocol: 'AES', privKey: '12345678' } }), 'accepts a v3 authPriv user');
});

t.test('snmp — one GET request carries every scalar of a device, each type decoded', async (t) => {
  const s = await session(t);
  const oids = [`${PEN}.1.0`, `${PEN}.2.0`, `${PEN}.3.0`, `${PEN}.4.0`, `${PEN}.5.0`, '1.3.6.1.2.1.31.1.1.1.6.1', '1.3.6.1.2.1.1.6.0'];
  const before = s.stats!().requests!;
  const out = await s.read(oids.map((oid, i) => req({ oid }, device(), `i${i}`)), timeout());
  t.equal(s.stats!().requests! - before, 1, 'seven scalars, one request');
  t.equal(datum(out[0]), 42, 'integer');
  t.equal(datum(out[1]), 4000000000, 'Counter32 above 2^31');
  t.equal(datum(out[2]), 'hello probemesh', 'OctetString as text');
  t.equal(datum(out[3]), 12345, 'TimeTicks as a number');
  t.equal(datum(out[4]), 7, 'Gauge32');
  t.type(datum(out[5]), 'number', 'Counter64 (ifHCInOctets.1) as a number');
  t.equal(datum(out[6]), 'probemesh-test-rack', 'sysLocation');
  const { stdout } = await run('snmpget', ['-v2c', '-c', 'public', '-Oqv', agent.target, '1.3.6.1.2.1.31.1.1.1.6.1']);
  t.ok(Number(stdout.trim()) >= (datum(out[5]) as number), 'Counter64 agrees with snmpget (read after)');
});

t.test('snmp — a missing OID is not-found by name and spoils nothing else', async (t) => {
  const s = await session(t);
  const out = await s.read([req({ oid: `${PEN}.1.0` }), req({ oid: `${PEN}.77.0` }), req({ oid: '1.3.6.1.2.1.1.6.99' })], timeout());
  t.equal(datum(out[0]), 42);
  t.equal(fail(out[1])?.kind, 'not-found');
  t.match(fail(out[1])?.error, `${PEN}.77.0`, 'names the OID');
  t.equal(fail(out[2])?.kind, 'not-found');
  t.match(fail(out[2])?.error, 'no such instance');
});

t.test('snmp — more than maxVarbinds OIDs are split into several requests', async (t) => {
  const s = await session(t, createSnmpConnector({ maxVarbinds: 50, mibDirs: [] }));
  const reqs = Array.from({ length: 120 }, (_, i) => req({ oid: `${HR_SW_NAME}.${i + 1}` }, device(), `sw${i}`));
  const out = await s.read(reqs, timeout());
  t.equal(s.stats!().requests, 3, '120 OIDs in 3 requests of at most 50');
  t.ok(out.every((r) => r.ok && typeof datum(r) === 'string'), 'every package name read');
});

t.test('snmp — walks read a column as rows named by index (GetBulk on v2c, GetNext on v1)', async (t) => {
  const s = await session(t);
  const [v2, v1, sw, system] = await s.read(
    [
      req({ oid: IF_DESCR, walk: true }),
      req({ oid: IF_DESCR, walk: true }, device({ version: '1', community: 'public', port: agent.port }, 'v1')),
      req({ oid: HR_SW_NAME, walk: true }),
      req({ oid: '1.3.6.1.2.1.1', walk: true }),
    ],
    timeout(),
  );
  const rows = ok(v2)!;
  t.ok(rows.length >= 1, `ifDescr has ${rows.length} rows`);
  t.same(rows.find((r) => r.instance === '1')?.datum, 'lo', 'ifIndex 1 is lo');
  t.same(ok(v1), rows, 'v1 (GetNext) reads the same rows');
  const { stdout } = await run('snmpwalk', ['-v2c', '-c', 'public', '-On', agent.target, HR_SW_NAME]);
  const expected = stdout.trim().split('\n').filter((l) => l.includes(' = ')).length;
  t.equal(ok(sw)!.length, expected, `hrSWInstalledName: ${expected} rows, as snmpwalk sees them`);
  t.ok(ok(sw)!.every((r) => /^\d+$/.test(r.instance!)), 'instances are hrSWInstalledIndex values');
  t.ok(ok(system)!.some((r) => r.instance === '6.0' && r.datum === 'probemesh-test-rack'), 'a subtree walk names rows by the whole suffix');
});

t.test('snmp — walk rows can be named by another column, and are bounded', async (t) => {
  const s = await session(t);
  const [named, capped] = await s.read(
    [req({ oid: '1.3.6.1.2.1.2.2.1.10', walk: true, instanceFrom: IF_DESCR }), req({ oid: HR_SW_NAME, walk: true, maxRows: 5 })],
    timeout(),
  );
  t.ok(ok(named)?.some((r) => r.instance === 'lo' && typeof r.datum === 'number'), 'ifInOctets of "lo"');
  t.equal(fail(capped)?.kind, 'config');
  t.match(fail(capped)?.error, 'more than 5 rows');
});

t.test('snmp — MIB names resolve through the modules net-snmp ships and the operator\'s MIB dirs', async (t) => {
  const dir = await tempDir('probemesh-mibs-');
  t.teardown(() => dir.remove());
  await writeFile(
    join(dir.path, 'PM-TEST-MIB.mib'),
    `PM-TEST-MIB DEFINITIONS ::= BEGIN
IMPORTS MODULE-IDENTITY, OBJECT-TYPE, Integer32, enterprises FROM SNMPv2-SMI;
pmTest MODULE-IDENTITY
    LAST-UPDATED "202601010000Z" ORGANIZATION "probemesh" CONTACT-INFO "probemesh@localhost"
    DESCRIPTION "Test objects." ::= { enterprises 99999 }
pmAnswer OBJECT-TYPE SYNTAX Integer32 MAX-ACCESS read-only STATUS current
    DESCRIPTION "The answer." ::= { pmTest 1 }
END
`,
  );
  const logs: string[] = [];
  const c = createSnmpConnector({ mibDirs: [dir.path] });
  const s: ConnectorSession = await c.start({ clock: systemClock, dataDir: '/tmp', log: (l, m) => logs.push(`${l} ${m}`) });
  t.teardown(() => s.stop());
  const out = await s.read(
    [
      req({ oid: 'PM-TEST-MIB::pmAnswer.0' }),
      req({ oid: 'sysLocation.0' }),
      req({ oid: 'IF-MIB::ifDescr', walk: true }),
      req({ oid: 'IF-MIB::ifNoSuchThing' }),
      req({ oid: 'NOPE-MIB::thing.0' }),
      req({ oid: '.1.3.6.1.4.1.99999.1.0' }),
    ],
    timeout(),
  );
  t.equal(datum(out[0]), 42, 'a name from the operator\'s MIB');
  t.equal(datum(out[1]), 'probemesh-test-rack', 'an unqualified name with an index');
  t.ok(ok(out[2])?.some((r) => r.instance === '1' && r.datum === 'lo'), 'IF-MIB (shipped by net-snmp) walks');
  t.equal(fail(out[3])?.kind, 'config');
  t.match(fail(out[3])?.error, /module IF-MIB has no object 'ifNoSuchThing'/);
  t.equal(fail(out[4])?.kind, 'config');
  t.match(fail(out[4])?.error, /NOPE-MIB is not loaded/);
  t.equal(fail(out[4])?.retryable, false, 'a config error is not retried');
  t.equal(datum(out[5]), 42, 'a numeric OID with a leading dot');
  t.ok(logs.some((l) => /MIB modules loaded/.test(l)), 'logs the MIB load at start');
});

t.test('snmp — v3 users: SHA/AES, SHA-512/AES, MD5 without privacy, noAuthNoPriv', async (t) => {
  const s = await session(t);
  const v3 = (u: SnmpUser) => device({ version: '3', port: agent.port, user: u }, `v3-${u.name}`);
  const picked = users.filter((u) => u.privProtocol !== 'DES');
  const out = await s.read(picked.map((u) => req({ oid: '1.3.6.1.2.1.1.6.0' }, v3(u))), timeout());
  out.forEach((r, i) => t.equal(datum(r), 'probemesh-test-rack', `${picked[i]!.name} reads: ${fail(r)?.error ?? 'ok'}`));
  const [walked] = await s.read([req({ oid: IF_DESCR, walk: true }, v3(users[0]!))], timeout());
  t.ok(ok(walked)?.some((r) => r.datum === 'lo'), 'v3 authPriv walks with GetBulk');
});

t.test('snmp — v3 with DES privacy reads, or says plainly that this Node.js cannot do DES', async (t) => {
  const s = await session(t);
  const des = users.find((u) => u.privProtocol === 'DES')!;
  const [r] = await s.read([req({ oid: '1.3.6.1.2.1.1.6.0' }, device({ version: '3', port: agent.port, user: des }, 'des'))], timeout());
  if (r?.ok) t.equal(datum(r), 'probemesh-test-rack', 'DES works here');
  else {
    t.equal(r?.kind, 'config', `DES fails as a config problem: ${r?.error}`);
    t.match(r?.error, /DES/);
  }
});

t.test('snmp — a wrong v3 password is refused with net-snmp\'s report', async (t) => {
  const s = await session(t);
  const bad = { ...users[0]!, authKey: 'wrongpassword' };
  const [r, unknown] = await s.read(
    [
      req({ oid: '1.3.6.1.2.1.1.6.0' }, device({ version: '3', port: agent.port, user: bad, timeoutMs: 1000 }, 'badpw')),
      req({ oid: '1.3.6.1.2.1.1.6.0' }, device({ version: '3', port: agent.port, user: { ...bad, name: 'nobody' }, timeoutMs: 1000 }, 'nobody')),
    ],
    timeout(),
  );
  t.equal(fail(r)?.kind, 'refused');
  t.match(fail(r)?.error, /pmsha.*Wrong Digest/i, `says why: ${fail(r)?.error}`);
  t.equal(fail(unknown)?.kind, 'refused');
  t.match(fail(unknown)?.error, /Unknown User/i, `unknown user: ${fail(unknown)?.error}`);
});

t.test('snmp — a wrong community and a closed port are timeouts that hint at the cause', async (t) => {
  const s = await session(t);
  const silent = await silentPort();
  await silent.close(); // the port is now closed: nothing listens
  const [community, closed, v3] = await s.read(
    [
      req({ oid: `${PEN}.1.0` }, device({ community: 'wrong', port: agent.port, timeoutMs: 300, retries: 0 }, 'wrong')),
      req({ oid: `${PEN}.1.0` }, device({ community: 'public', port: silent.port, timeoutMs: 300, retries: 1 }, 'closed')),
      req({ oid: `${PEN}.1.0` }, device({ version: '3', port: silent.port, timeoutMs: 300, retries: 0, user: users[0] }, 'closed3')),
    ],
    timeout(),
  );
  t.equal(fail(community)?.kind, 'timeout');
  t.match(fail(community)?.error, /community/, `hints at the community: ${fail(community)?.error}`);
  t.equal(fail(community)?.retryable, true);
  t.equal(fail(closed)?.kind, 'timeout');
  t.match(fail(closed)?.error, /2 tries of 300 ms/);
  t.equal(fail(v3)?.kind, 'timeout');
  t.match(fail(v3)?.error, /v3 user/);
});

t.test('snmp — an aborted read resolves at once as failed, for GETs and walks alike', async (t) => {
  const s = await session(t);
  const silent = await silentPort();
  t.teardown(() => silent.close());
  const dev = device({ community: 'public', port: silent.port, timeoutMs: 30_000, retries: 3 }, 'slow');
  const ac = new AbortController();
  const pending = s.read([req({ oid: `${PEN}.1.0` }, dev), req({ oid: IF_DESCR, walk: true }, dev)], ac.signal);
  setTimeout(() => ac.abort(new Error('tick timeout')), 100);
  const out = await pending;
  for (const r of out) {
    t.equal(fail(r)?.kind, 'timeout');
    t.match(fail(r)?.error, /cancelled \(tick timeout\)/);
  }
  const already = await s.read([req({ oid: `${PEN}.1.0` })], AbortSignal.abort(new Error('too late')));
  t.match(fail(already[0])?.error, /too late/, 'an already aborted signal reads nothing');
});

t.test('snmp — garbage replies crash nothing and are counted (a fake agent: a real one never sends garbage)', async (t) => {
  const s = await session(t);
  const liar = createSocket('udp4');
  liar.on('message', (_m, rinfo) => {
    liar.send(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01]), rinfo.port, rinfo.address); // truncated BER
    liar.send(Buffer.from('not snmp at all'), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => liar.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => liar.close(() => r())));
  const [r] = await s.read([req({ oid: `${PEN}.1.0` }, device({ community: 'public', port: liar.address().port, timeoutMs: 300, retries: 0 }, 'liar'))], timeout());
  t.equal(fail(r)?.kind, 'timeout');
  t.match(fail(r)?.error, /undecodable/, `says what came back: ${fail(r)?.error}`);
  t.ok(s.stats!().garbage! >= 1, 'counted');
  const [good] = await s.read([req({ oid: `${PEN}.1.0` })], timeout());
  t.equal(datum(good), 42, 'the connector still reads');
});

t.test('snmp — sessions are cached per device and replaced when credentials change', async (t) => {
  const s = await session(t);
  await s.read([req({ oid: `${PEN}.1.0` }), req({ oid: `${PEN}.3.0` })], timeout());
  await s.read([req({ oid: `${PEN}.1.0` })], timeout());
  t.equal(s.stats!().sessions_opened, 1, 'one session for repeated reads');
  const [r] = await s.read([req({ oid: `${PEN}.1.0` }, device({ version: '1', community: 'public', port: agent.port }))], timeout());
  t.equal(datum(r), 42, 'reads over the new settings');
  t.equal(s.stats!().sessions_opened, 2);
  t.equal(s.stats!().sessions_closed, 1, 'the old session is closed');
  await s.stop();
  t.equal(s.stats!().sessions_open, 0, 'stop closes every session');
  const [after] = await s.read([req({ oid: `${PEN}.1.0` })], timeout());
  t.equal(fail(after)?.kind, 'config', 'a stopped connector reads nothing');
});

t.test('snmp — bad device settings are config failures, not throws', async (t) => {
  const s = await session(t);
  const out = await s.read(
    [
      req({ oid: `${PEN}.1.0` }, device({ version: '3', port: agent.port })),
      req({ oid: `${PEN}.1.0` }, device({ version: '3', port: agent.port, user: { name: 'x', level: 'authPriv', authProtocol: 'SHA', authKey: '12345678' } }, 'nopriv')),
      { indicator: 'x', params: { oid: `${PEN}.1.0` } },
    ],
    timeout(),
  );
  t.match(fail(out[0]), { kind: 'config', error: /needs `user`/ });
  t.match(fail(out[1]), { kind: 'config', error: /privProtocol and privKey/ });
  t.match(fail(out[2]), { kind: 'config', error: /none was given/ });
});

/**
 * A crafted responder on loopback: answers each GET with the right request-id but `answer`'s
 * varbinds. A fake, because no real agent answers for another OID on demand.
 */
async function craftedAgent(t: Test, answer: (asked: string[]) => Array<[string, Buffer]>): Promise<number> {
  const s: Socket = createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const m = readMessage(msg);
    s.send(v2cMessage(m.community, PDU.response, m.requestId, answer(m.oids)), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return s.address().port;
}

t.test('snmp — an answer for another OID than the one asked is a bad-response reading, never its value', async (t) => {
  const port = await craftedAgent(t, (asked) => asked.map((o) => [o.endsWith('.1.0') ? `${PEN}.9.0` : o, int(7)]));
  const s = await session(t);
  const dev = device({ version: '2c', community: 'public', port, timeoutMs: 3000, retries: 0 });
  const [foreignOne, right] = await s.read([req({ oid: `${PEN}.1.0` }, dev), req({ oid: `${PEN}.2.0` }, dev)], timeout());
  t.match(fail(foreignOne), { kind: 'bad-response', retryable: false, error: `127.0.0.1:${port} answered with ${PEN}.9.0 when asked for ${PEN}.1.0; nothing was stored (a confused or spoofed agent?)` });
  t.equal(datum(right), 7, 'the varbind that carries its OID is read');
  t.equal(s.stats!().foreign_oids, 1);
});
