import t from 'tap';
import { createLan, inNetns, ip, netnsGroup, netnsList, netnsUnavailable, startRemote, waitUntil, type SimulatedSwitch, type TrafficSource, type WebServer } from './index.js';

const unavailable = await netnsUnavailable();

t.test('simulated LAN — a burst of traffic is counted exactly by the switch, the web server and the kernel; the namespaces go away', { skip: unavailable }, async (t) => {
  const group = await netnsGroup();
  t.teardown(() => group.remove());
  const lan = await createLan(group, 'lan', '10.0.7', [2, 80]);
  const remote = <T extends object>(ns: string, name: string, args: object) => startRemote<T>({ module: '@probemesh/testkit', export: name, args, ns });
  const web = await remote<WebServer>(lan.hostsNs, 'startWebServer', { address: '10.0.7.80' });
  t.teardown(() => web.close());
  const sw = await remote<SimulatedSwitch>(lan.hostsNs, 'startSwitch', { ns: lan.bridgeNs, ports: lan.ports, address: '10.0.7.2' });
  t.teardown(() => sw.close());
  const traffic = await remote<TrafficSource>(lan.trafficNs, 'startTraffic', { ...lan.traffic, web: { host: '10.0.7.80' }, nobody: lan.nobody, peak: { web: 20, broadcast: 40, ip: 40, nonIp: 20 }, startHour: 14, dayMs: 86_400_000_000, paused: true });
  t.teardown(() => traffic.close());

  const sent = await traffic.send({ web: 20, broadcast: 30, ip: 12, nonIp: 6 });
  t.same(sent.web, { requests: 20, failed: 0, bytes: sent.web.bytes }, 'every web request answered');
  t.equal(sent.broadcast.packets, 30);
  t.same((await web.stats()).requests, 20, 'the web server served each request once');

  const txPackets = async () => (JSON.parse(await ip(['-n', lan.trafficNs, '-s', '-j', 'link', 'show', 'eth0'])) as Array<{ stats64: { tx: { packets: number } } }>)[0]!.stats64.tx.packets;
  const kernel = await txPackets();
  await waitUntil('the switch saw every frame of the traffic port', async () => (await sw.counters())[1]!.in.packets >= kernel, 10_000);
  const [hostsPort, trafficPort] = await sw.counters();
  t.equal(trafficPort!.in.packets, kernel, `frames received on the traffic port = frames the traffic source's interface sent (${kernel})`);
  t.equal(trafficPort!.in.broadcast, 30, 'broadcast counted exactly');
  t.equal(hostsPort!.out.broadcast, 30, 'and flooded out of the hosts port');
  t.equal(trafficPort!.in.sizes.reduce((a, b) => a + b, 0), kernel, 'every frame in one size bucket');

  const snmp = async (oid: string) => (await inNetns(lan.bridgeNs, 'snmpget', ['-v2c', '-c', 'public', '-Oqv', '10.0.7.2', oid])).trim();
  t.equal(await snmp('1.3.6.1.2.1.16.1.1.1.6.2'), '30', 'RMON etherStatsBroadcastPkts of port 2 over SNMP');
  t.equal(await snmp('1.3.6.1.2.1.16.1.1.1.5.2'), String(kernel), 'RMON etherStatsPkts of port 2');
  t.equal(await snmp('1.3.6.1.2.1.31.1.1.1.3.2'), '30', 'IF-MIB ifInBroadcastPkts of port 2');
  t.equal(await snmp('1.3.6.1.2.1.2.2.1.2.1'), '"servers"', 'ifDescr names what the port serves');

  // Background traffic at the day's peak, then paused: every frame of it counted too.
  await traffic.resume();
  await waitUntil('some background traffic', async () => (await traffic.ledger()).broadcast.packets >= 40, 30_000);
  const total = await traffic.pause();
  t.ok(total.ip.packets > 12 && total.nonIp.packets > 6 && total.web.requests > 20, `background web, IP and non-IP traffic as well (${JSON.stringify(total)})`);
  await waitUntil('the switch saw the background broadcasts', async () => (await sw.counters())[1]!.in.broadcast >= total.broadcast.packets, 10_000);
  t.equal((await sw.counters())[1]!.in.broadcast, total.broadcast.packets, `all ${total.broadcast.packets} broadcast frames, background included, counted once`);
  t.equal((await web.stats()).requests, total.web.requests, 'every background request served once');

  await Promise.all([traffic.close(), sw.close(), web.close()]);
  await group.remove();
  // Other tests make and remove namespaces of their own meanwhile: look at ours.
  t.same((await netnsList()).filter((n) => n.startsWith(group.prefix)), [], `ip netns list shows none of ${group.prefix}* any more`);
});
