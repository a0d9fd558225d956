import t, { type Test } from 'tap';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { int, oid, PDU, readMessage, tlv, v2cMessage, type ReadMessage } from '@probemesh/connector-snmp/internal';
import { floodUdp, freeTcpPort, freeUdpPort, spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';

// Issue 9, the input side: each row of its table against one real probe process (the CLI on a
// config file), on loopback. After each attack the probe still answers /health, its heartbeat
// rule still stores values, and what it stored before is still there.

const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));
const ADMIN = 'hostile-input-admin-token-0001';
const LINK_DOWN = '1.3.6.1.6.3.1.1.5.3';
const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';

const dir = await tempDir('pm-hostile-');
t.teardown(() => dir.remove());
const [http, syslogUdp, syslogTcp, trapPort] = [await freeTcpPort(), await freeUdpPort(), await freeTcpPort(), await freeUdpPort()];

// The foreign-OID agent: right request-id, a varbind for another OID. A crafted responder on a
// loopback socket, because no real agent misbehaves on demand.
const liar = createSocket('udp4');
liar.on('message', (msg, rinfo) => {
  const m = readMessage(msg);
  liar.send(v2cMessage(m.community, PDU.response, m.requestId, m.oids.map(() => ['1.3.6.1.2.1.1.5.0', int(666)] as [string, Buffer])), rinfo.port, rinfo.address);
});
await new Promise<void>((r) => liar.bind(0, '127.0.0.1', () => r()));
t.teardown(() => new Promise<void>((r) => liar.close(() => r())));

const config = join(dir.path, 'edge.yaml');
await writeFile(
  config,
  `id: edge
dataDir: ${JSON.stringify(join(dir.path, 'data'))}
http: { host: 127.0.0.1, port: ${http} }
tokens:
  - { name: admin, role: admin, token: ${ADMIN} }
devices:
  - { id: liar, address: 127.0.0.1, protocols: { snmp: { version: 2c, community: public, port: ${liar.address().port}, timeoutMs: 2000, retries: 0 } } }
indicators:
  - { id: one, kind: static, value: 1 }
  - { id: beat, kind: calculated, formula: "one + 1" }
  - { id: word_errors, kind: atomic, source: { scheme: syslog, port: ${syslogUdp}, measure: count, pattern: '(\\w+\\s?)*error' } }
  - { id: syslog_drops, kind: atomic, source: { scheme: syslog, port: ${syslogUdp}, measure: kernel_drops } }
  - { id: tcp_messages, kind: atomic, source: { scheme: syslog, transport: tcp, port: ${syslogTcp}, measure: count } }
  - { id: link_downs, kind: atomic, source: { scheme: trap, port: ${trapPort}, measure: count, trapOid: "${LINK_DOWN}" } }
  - { id: uptime, kind: atomic, source: { scheme: snmp, oid: "${SYS_UPTIME}" } }
rules:
  - { id: heartbeat, period: 1s, indicators: [beat] }
  - { id: logs, period: 1s, indicators: [word_errors, syslog_drops, tcp_messages] }
  - { id: traps, period: 1s, indicators: [link_downs] }
  - { id: agent, period: 1s, indicators: [uptime], targets: { devices: [liar] } }
`,
);
const probe = spawnLogged(process.execPath, [cli, 'probe', '--config', config]);
t.teardown(() => probe.stop());
const base = `http://127.0.0.1:${http}`;

/** A request to the probe with the admin token; fails the test when the probe takes longer than a generous bound. */
async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000), headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
}
/** Stored records of an indicator. */
const records = async (indicator: string): Promise<Array<{ ts: number; datum: number | string }>> => (await api(`/query?indicator=${indicator}&last=100000`)).body.records ?? [];
const sum = async (indicator: string) => (await records(indicator)).reduce((a, r) => a + Number(r.datum), 0);
const ruleState = async (rule: string) => ((await api('/rules/states')).body as Array<{ rule: string; ticks: number; lastError?: string }>).find((r) => r.rule === rule);

await waitUntil('the probe answers /health', async () => (await fetch(`${base}/health`)).ok, 30_000, probe);
await waitUntil('the heartbeat stored its first values', async () => (await records('beat')).length >= 2, 30_000, probe);
const first = (await records('beat'))[0]!;

/**
 * What every row asserts after its attack: /health answers (within a generous bound, not a tight
 * figure), the heartbeat rule stores new values, and its first value is still there.
 */
async function stillServing(t: Test, what: string): Promise<void> {
  const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
  t.equal(health.status, 200, `${what}: /health answers`);
  const before = (await records('beat')).length;
  await waitUntil(`${what}: the heartbeat rule still ticks`, async () => (await records('beat')).length >= before + 2, 20_000, probe);
  t.same((await records('beat'))[0], first, `${what}: what was stored before is still there`);
}

/** Sends datagrams to a loopback port from a fresh socket. */
async function sendUdp(port: number, datagrams: Array<string | Buffer>, socket?: UdpSocket): Promise<void> {
  const s = socket ?? createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((r, j) => s.send(d, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  if (!socket) s.close();
}

t.test('hostile input — a syslog pattern with nested repetition and one ~40-character datagram', async (t) => {
  const line = '<13>1 - host app - - - ' + 'the quick brown fox jumps over the lazy!';
  await sendUdp(syslogUdp, [line, '<11>1 - host app - - - disk error']);
  await waitUntil('both messages counted', async () => (await sum('word_errors')) === 1, 20_000, probe);
  t.equal(await sum('word_errors'), 1, 'the pattern matched the one message with "error" and only it');
  const ahead = await api('/indicators/ahead', { method: 'PUT', body: JSON.stringify({ id: 'ahead', kind: 'atomic', source: { scheme: 'syslog', port: syslogUdp, measure: 'count', pattern: 'disk(?= error)' } }) });
  t.equal(ahead.status, 422, 'a syslog pattern the engine cannot run is refused when saved');
  t.match(JSON.stringify(ahead.body), /lookahead and lookbehind are not supported/);
  t.equal((await api('/indicators/ahead')).status, 404, 'and nothing was saved');
  await stillServing(t, 'nested-repetition pattern');
});

t.test('hostile input — a decision matches(label, "^(a+)+$") set through the API on a 41-character text', async (t) => {
  const label = 'a'.repeat(40) + '!';
  t.equal((await api('/indicators/label', { method: 'PUT', body: JSON.stringify({ id: 'label', kind: 'static', value: label }) })).status < 300, true, 'label saved');
  const rule = { id: 'evil', period: '1s', indicators: ['label'], decisions: [{ id: 'all_a', when: 'matches(label, "^(a+)+$")', severity: 'warning', indicator: 'label' }] };
  const put = await api('/rules/evil', { method: 'PUT', body: JSON.stringify(rule) });
  t.ok(put.status < 300, `rule saved (${put.status})`);
  await waitUntil('the rule ticks', async () => ((await ruleState('evil'))?.ticks ?? 0) >= 2, 20_000, probe);
  t.notOk((await ruleState('evil'))?.lastError, 'its decision evaluates without error');
  const lookahead = await api('/rules/ahead', { method: 'PUT', body: JSON.stringify({ ...rule, id: 'ahead', decisions: [{ ...rule.decisions[0], when: 'matches(label, "a(?=b)")' }] }) });
  t.equal(lookahead.status, 422, 'a pattern the engine cannot run is refused when saved');
  t.match(JSON.stringify(lookahead.body), /lookahead and lookbehind are not supported.* at 1:18/);
  await stillServing(t, 'catastrophic decision pattern');
});

t.test('hostile input — one 83-byte SNMPv2c inform with a BIT STRING, and one with an INTEGER of 2^40', async (t) => {
  const inform = (value: Buffer, id: number) =>
    v2cMessage('public', PDU.inform, id, [[SYS_UPTIME, tlv(0x43, [1])], ['1.3.6.1.6.3.1.1.4.1.0', oid(LINK_DOWN)], ['1.3.6.1.2.1.2.2.1.8', value]]);
  const bits = inform(tlv(0x03, [0x00, 0xff]), 0x21);
  t.equal(bits.length, 83);
  const sender = createSocket('udp4');
  t.teardown(() => sender.close());
  const acks: ReadMessage[] = [];
  sender.on('message', (m) => acks.push(readMessage(m)));
  await sendUdp(trapPort, [bits, inform(int(2 ** 40), 0x22)], sender);
  await waitUntil('both informs acknowledged', () => acks.length === 2, 20_000, probe);
  t.same(acks.map((a) => a.requestId).sort(), [0x21, 0x22], 'each acknowledged under its request-id');
  await waitUntil('both counted as linkDowns', async () => (await sum('link_downs')) === 2, 20_000, probe);
  t.equal(probe.child.exitCode, null, 'the probe process is alive');
  await stillServing(t, 'killer informs');
});

t.test('hostile input — 300 idle TCP connections to the syslog port; a legitimate sender still gets through', async (t) => {
  const idle: Socket[] = [];
  t.teardown(() => idle.forEach((s) => s.destroy()));
  for (let i = 0; i < 300; i++) {
    const s = connect(syslogTcp, '127.0.0.1');
    s.on('error', () => undefined);
    idle.push(s);
    await new Promise<void>((r) => s.once('connect', r).once('close', () => r()));
  }
  const legit = connect(syslogTcp, '127.0.0.1');
  legit.on('error', () => undefined);
  t.teardown(() => legit.destroy());
  await new Promise<void>((r, j) => legit.once('connect', r).once('error', j));
  legit.write('<13>1 - legit app - - - still heard\n');
  await waitUntil('the legitimate message counted', async () => (await sum('tcp_messages')) === 1, 20_000, probe);
  const m = (await api('/metrics')).body as string;
  t.match(m, /probemesh_connector_tcp_evicted_total\{[^}]*scheme="syslog"\} ([1-9]\d*)/, 'quiet connections made room and were counted');
  await stillServing(t, '300 idle TCP connections');
});

t.test('hostile input — an SNMP agent answering with the right request-id but a foreign OID', async (t) => {
  await waitUntil('the agent rule ran into the foreign answer', async () => /answered with 1\.3\.6\.1\.2\.1\.1\.5\.0 when asked for 1\.3\.6\.1\.2\.1\.1\.3\.0/.test((await ruleState('agent'))?.lastError ?? ''), 20_000, probe);
  t.same(await records('uptime'), [], 'nothing stored under the requested indicator');
  await stillServing(t, 'foreign-OID agent');
});

t.test('hostile input — a UDP syslog flood while the probe is busy: the kernel drops are reported', async (t) => {
  // The probe is held (SIGSTOP, as a long GC pause or an overloaded board would) while a bounded
  // flood arrives: its socket buffer fills and the kernel drops the rest, deterministically.
  let sent: number;
  probe.child.kill('SIGSTOP');
  try {
    sent = await floodUdp({ port: syslogUdp, message: `<13>1 - flood app - - - ${'x'.repeat(500)}`, count: 20_000 });
  } finally {
    probe.child.kill('SIGCONT');
  }
  await waitUntil('the drops are stored as syslog_drops', async () => (await sum('syslog_drops')) > 0, 20_000, probe);
  const drops = await sum('syslog_drops');
  t.ok(drops > 0 && drops < sent, `${drops} of ${sent} datagrams dropped by the kernel, reported as an indicator`);
  t.match((await api('/metrics')).body as string, new RegExp(`probemesh_connector_kernel_drops_total\\{[^}]*scheme="syslog"\\} ${drops}\\b`), 'and as a connector metric');
  await stillServing(t, 'UDP flood');
});
