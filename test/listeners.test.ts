import t from 'tap';
import { createSocket } from 'node:dgram';
import { syslogConnector } from '@probemesh/connector-syslog';
import { Probe } from '@probemesh/runtime';
import { freeUdpPort, tempDir, waitUntil } from '@probemesh/testkit';

type Records = { records: Array<{ datum: number }> };

async function send(port: number, line: string): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((r, j) => s.send(line, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  s.close();
}

t.test('listeners — a rule listens from the moment it exists, rules share a listener, and one rule going does not deafen the other', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'logs', dataDir: dir.path, connectors: [syslogConnector] });
  t.teardown(() => probe.stop());
  const port = await freeUdpPort();
  const src = (extra: object) => ({ scheme: 'syslog', port, measure: 'count', ...extra });
  await probe.put('indicators', { id: 'errors', kind: 'atomic', source: src({ severity: 'err' }) });
  await probe.put('indicators', { id: 'sshd', kind: 'atomic', source: src({ app: 'sshd' }) });
  // Hourly rules: their first tick is up to an hour away, yet they hear from now on.
  await probe.put('rules', { id: 'a', indicators: ['errors'], period: '1h' });
  await probe.put('rules', { id: 'b', indicators: ['sshd'], period: '1h' });
  const stats = () => probe.metrics().connectors.syslog ?? {};
  await waitUntil('the listener is open', () => (stats().listeners ?? 0) === 1, 5000);
  t.equal(stats().listeners, 1, 'two rules on one port share one listener');

  await send(port, '<11>Nov 28 10:00:00 db1 postgres[7]: disk full'); // user.err
  await send(port, '<38>Nov 28 10:00:01 gw1 sshd[9]: Failed password for root'); // auth.info
  await waitUntil('both messages heard', () => (stats().messages ?? 0) >= 2, 5000);
  await probe.tickNow('a');
  await probe.tickNow('b');
  const last = (id: string) => (probe.query({ indicator: id, last: 1 }) as Records).records[0]?.datum;
  t.equal(last('errors'), 1, 'heard before the rule ever ticked');
  t.equal(last('sshd'), 1);

  await probe.remove('rules', 'a');
  await send(port, '<38>Nov 28 10:00:02 gw1 sshd[9]: Failed password for admin');
  await waitUntil('third message heard', () => (stats().messages ?? 0) >= 3, 5000);
  await probe.tickNow('b');
  t.equal(last('sshd'), 1, 'rule b still counts after rule a is gone');
  await probe.remove('rules', 'b');
  await waitUntil('no rule reads syslog: the listener closes', () => (stats().listeners ?? 0) === 0, 5000);
  t.pass('the listener closed when no rule read it');
});
