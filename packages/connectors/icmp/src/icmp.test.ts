import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { connectorConformance } from '@probemesh/testkit';
import { systemClock, type ReadRequest } from '@probemesh/core';
import { icmpConnector, parsePing, type IcmpParams } from './index.js';

/**
 * A host that never answers: an address inside a network namespace this test creates (veth
 * pair on link-local 169.254.77.0/30), with echo replies switched off there. No traffic leaves
 * this machine's own namespaces.
 */
function silentHost(t: Test): string {
  const ns = `pmicmp${process.pid}`;
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' });
  sh(`ip netns add ${ns}`);
  t.teardown(() => sh(`ip netns del ${ns}; ip link del ${ns}a 2>/dev/null || true`));
  sh(`ip link add ${ns}a type veth peer name ${ns}b && ip link set ${ns}b netns ${ns}`);
  sh(`ip addr add 169.254.77.1/30 dev ${ns}a && ip link set ${ns}a up`);
  sh(`ip netns exec ${ns} sh -c 'ip addr add 169.254.77.2/30 dev ${ns}b && ip link set ${ns}b up && sysctl -qw net.ipv4.icmp_echo_ignore_all=1'`);
  return '169.254.77.2';
}

const req = (address: string, measure: IcmpParams['measure'], extra: Partial<IcmpParams> = {}): ReadRequest<IcmpParams> => ({
  indicator: measure,
  device: { id: address.replace(/\W/g, '_'), address },
  params: { measure, count: 2, timeoutMs: 1000, ...extra },
});

t.test('icmp — conformance', async (t) => {
  const silent = silentHost(t);
  await connectorConformance(t, icmpConnector, {
    good: () => [req('127.0.0.1', 'up'), req('127.0.0.1', 'rtt_ms')],
    silent: () => req(silent, 'rtt_ms'),
    badParams: [{}, { measure: 'speed' }, { measure: 'up', count: 0 }, { measure: 'up', colour: 'red' }],
  });
});

t.test('icmp — loopback answers; a host that never answers is down with 100% loss', async (t) => {
  const silent = silentHost(t);
  const session = await icmpConnector.start({ clock: systemClock, dataDir: '/tmp', log: () => undefined });
  t.teardown(() => session.stop());
  const out = await session.read(
    [req('127.0.0.1', 'up'), req('127.0.0.1', 'loss_pct'), req('127.0.0.1', 'rtt_ms'), req(silent, 'up'), req(silent, 'loss_pct'), req(silent, 'rtt_ms'), req('no-such-host.invalid', 'up')],
    AbortSignal.timeout(15_000),
  );
  const v = out.map((r) => (r.ok ? r.samples[0]!.datum : `fail:${r.kind}`));
  t.equal(v[0], 1, 'loopback is up');
  t.equal(v[1], 0, 'no loss on loopback');
  t.ok(typeof v[2] === 'number' && v[2] >= 0 && v[2] < 100, `loopback rtt ${v[2]} ms`);
  t.equal(v[3], 0, 'the silent host is down');
  t.equal(v[4], 100, 'every echo lost');
  t.equal(v[5], 'fail:timeout', 'no rtt without a reply');
  t.equal(v[6], 'fail:unreachable', 'an unknown name says so');
  t.equal(session.stats?.().runs, 3, 'one ping run per device serves all its indicators');
});

t.test('icmp — the summary parser', async (t) => {
  t.same(parsePing('2 packets transmitted, 2 received, 0% packet loss, time 203ms\nrtt min/avg/max/mdev = 0.047/0.073/0.099/0.026 ms'), {
    transmitted: 2,
    received: 2,
    lossPct: 0,
    rtt: { min: 0.047, avg: 0.073, max: 0.099 },
  });
  t.same(parsePing('3 packets transmitted, 0 received, 100% packet loss, time 2040ms'), { transmitted: 3, received: 0, lossPct: 100 });
  t.equal(parsePing('ping: no-such-host.invalid: Name or service not known'), undefined);
});
