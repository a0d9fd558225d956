import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLan,
  netnsGroup,
  routedLink,
  startForwarders,
  startRemote,
  type Forwarders,
  type Lan,
  type NatsServer,
  type NetnsGroup,
  type Remote,
  type Route,
  type TrafficRates,
  type TrafficSource,
} from '@probemesh/testkit';
import { LEAF_NETWORKS, NETWORKS, SERVERS } from './datacenter.js';
import type { NetworkHosts } from './hosts.js';
import { CAPTURE_NETWORKS, firstServer, net, researchConfigs, researchServer, serversOf, UPS_NETWORK, type ResearchLayout } from './research.js';
import { cli, natsConfigs, probeProcesses, startHubAndLeaf, status, writeConfig, type ProbeProcesses, type RunningMesh } from './up.js';

export interface NetnsUpOptions {
  /** Where configs, logs, data, the NATS store and the Unix sockets go (default: a new temp dir). */
  dir?: string;
  /** Rule period and partial window (default 10s, as in the research). */
  period?: string;
  /** The folder of deploy/nats's hub.conf and leaf.conf. */
  natsConfigDir?: string;
  /** Background traffic: start paused (tests send known bursts), a simulated day in `dayMs`, rates × `scale`. */
  traffic?: { paused?: boolean; dayMs?: number; startHour?: number; scale?: number };
  /** Store budget of each probe, kept by retention. */
  maxStoreBytes?: number;
  /** Status line every this many ms (0: none). */
  statusMs?: number;
  say?: (line: string) => void;
}

/** One network of the namespaced mesh and its simulated parts. */
export interface NetnsNetwork {
  k: number;
  lan: Lan;
  /** The traffic source (in the traffic namespace). */
  traffic: Remote<TrafficSource>;
  /** The servers, web server, switch and UPS (in the hosts namespace). */
  hosts: Remote<NetworkHosts>;
}

/** The namespaced mesh: what `up` gives, plus the networks and the namespaces. */
export interface NetnsMesh extends RunningMesh {
  networks: NetnsNetwork[];
  /** Every namespace created (all removed by `stop`). */
  namespaces: readonly string[];
  /** Pids of each probe process, for checks (id → pid). */
  pids(): Record<string, number>;
  /** Probes that ended on their own, with their exit code or signal. */
  exits(): Array<{ id: string; code: number | null; signal: string | null }>;
}

const secret = () => randomBytes(12).toString('base64url');
const ids = [...Array.from({ length: NETWORKS }, (_, k) => `net${k + 1}`), 'site'];
const hostsModule = new URL('./hosts.js', import.meta.url).href;

/** Peak rates of network k's traffic (networks differ a little, as real ones do). */
export const peakTraffic = (k: number, scale = 1): TrafficRates => ({ web: (3 + k) * scale, broadcast: 4 * scale, ip: (10 + 2 * k) * scale, nonIp: 2 * scale });

/**
 * `probemesh-demo up --netns` (root): the research deployment in network namespaces. Five
 * networks, each a bridge namespace (the switch, with the delegated probe on its own address)
 * with a hosts namespace (its servers on their own addresses, port 161; the web server on port
 * 80; the UPS in network 1; the switch's SNMP agent in networks 3–5) and a traffic namespace on
 * its ports; the site namespace holds the coordinator, the NATS hub and the second building's
 * leaf node, routed to each network over a /30. Nothing touches the host's interfaces or routes:
 * the operator and tests reach the probes and NATS through forwarders on the host's loopback that
 * connect to Unix sockets served inside the site namespace. Everything is removed on `stop`; a
 * crashed run's namespaces are removed by the next.
 */
export async function upNetns(opts: NetnsUpOptions = {}): Promise<NetnsMesh> {
  const say = opts.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const deployNats = await natsConfigs(opts.natsConfigDir);
  const dir = opts.dir ?? join(tmpdir(), `probemesh-netns-${process.pid}`);
  for (const d of ['logs', 'sock', 'config']) await mkdir(join(dir, d), { recursive: true });
  const period = opts.period ?? '10s';
  const started: { group?: NetnsGroup; hub?: NatsServer; leaf?: NatsServer; gateway?: Remote<Forwarders>; local?: Forwarders; probes?: ProbeProcesses; networks: NetnsNetwork[]; hosts: Array<Remote<NetworkHosts>> } = { networks: [], hosts: [] };
  const stop = async () => {
    const steps: Array<() => Promise<unknown> | undefined> = [
      () => Promise.all(started.networks.map((n) => n.traffic.close())),
      () => started.probes?.stop(),
      () => Promise.all(started.hosts.map((h) => h.close())),
      () => started.gateway?.close(),
      () => started.local?.stop(),
      () => started.leaf?.stop(),
      () => started.hub?.stop(),
      () => started.group?.remove(),
    ];
    const errors: unknown[] = [];
    for (const s of steps) await Promise.resolve(s()).catch((e: unknown) => errors.push(e));
    if (errors.length) throw new Error(`stopping the namespaced mesh: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`, { cause: errors[0] });
  };
  try {
    const group = (started.group = await netnsGroup());
    say(`probemesh-demo up --netns: namespaces ${group.prefix}* (site, n1 … n${NETWORKS} with their -hosts and -traffic) …`);
    const core = await group.add('site');
    const lans: Lan[] = [];
    for (let k = 1; k <= NETWORKS; k++) {
      const octets = [...(CAPTURE_NETWORKS.includes(k) ? [] : [2]), ...(k === UPS_NETWORK ? [5] : []), ...serversOf(k).map((n) => Number(researchServer(n).address.split('.')[3]))];
      const lan = await createLan(group, `n${k}`, net.subnet(k), octets);
      await routedLink(group, core, `n${k}`, lan.bridgeNs, net.uplink(k), [`${net.subnet(k)}.0/24`]);
      lans.push(lan);
    }

    const passwords = Object.fromEntries(ids.map((id) => [id, secret()]));
    const operator = { user: 'operator', password: secret() };
    const users = (which: string[]) => which.map((id) => ({ user: id, password: passwords[id]! }));
    const onLeaf = (id: string) => LEAF_NETWORKS.some((k) => id === `net${k}`);
    say(`starting the hub and the second building's leaf node in ${core} (deploy/nats/hub.conf, leaf.conf) …`);
    const servers = await startHubAndLeaf({ deployNats, dir, host: '0.0.0.0', hubPort: net.hub, leafnodePort: 7422, leafPort: net.leaf, hubUsers: users(ids.filter((id) => !onLeaf(id))), leafUsers: users(ids.filter(onLeaf)), operator, netns: core });
    started.hub = servers.hub;
    started.leaf = servers.leaf;

    // The host reaches NATS and each probe's API through Unix sockets served inside the site namespace.
    const sock = (name: string) => join(dir, 'sock', `${name}.sock`);
    const inside: Route[] = [
      { listen: { path: sock('nats') }, target: { host: '127.0.0.1', port: net.hub } },
      { listen: { path: sock('site') }, target: { host: '127.0.0.1', port: net.http } },
      ...lans.map((_, i) => ({ listen: { path: sock(`net${i + 1}`) }, target: { host: `${net.uplink(i + 1)}.2`, port: net.http } })),
    ];
    started.gateway = await startRemote<Forwarders>({ module: '@probemesh/testkit', export: 'startForwarders', args: { routes: inside }, ns: core, name: 'the site gateway' });
    started.local = await startForwarders({ routes: inside.map((r) => ({ listen: { host: '127.0.0.1', port: 0 }, target: r.listen })) });
    const ports = started.local.listening().map((e) => ('port' in e ? e.port : 0));
    const natsUrl = `nats://127.0.0.1:${ports[0]}`;
    const urls: Record<string, string> = { site: `http://127.0.0.1:${ports[1]}`, ...Object.fromEntries(lans.map((_, i) => [`net${i + 1}`, `http://127.0.0.1:${ports[i + 2]}`])) };

    say(`starting ${SERVERS} simulated servers (HOST-RESOURCES CPU, memory, disk; IF-MIB; power; WWW-MIB on each network's web server), the UPS in network ${UPS_NETWORK} and the switches of networks ${lans.map((_, i) => i + 1).filter((k) => !CAPTURE_NETWORKS.includes(k)).join(', ')} …`);
    for (const [i, lan] of lans.entries()) started.hosts.push(await startRemote<NetworkHosts>({ module: hostsModule, export: 'startNetworkHosts', args: { network: i + 1, bridgeNs: lan.bridgeNs, ports: lan.ports }, ns: lan.hostsNs, name: `network ${i + 1}'s hosts` }));

    const layout: ResearchLayout = { dataRoot: join(dir, 'data'), passwords, tokens: { read: secret(), admin: secret() }, period, ...(opts.maxStoreBytes ? { maxStoreBytes: opts.maxStoreBytes } : {}) };
    const files: string[] = [];
    for (const c of researchConfigs(layout)) {
      const k = Number(c.id.slice(3));
      const what = c.role === 'coordinator' ? 'the site coordinator: merges the five networks, computes PUE, DCiE, CPE and CADE' : `the delegated probe of ${c.group}: ${CAPTURE_NETWORKS.includes(k) ? 'captures on its bridge' : 'reads its switch (RMON, IF-MIB)'}, polls its servers${k === UPS_NETWORK ? ' and the UPS' : ''}`;
      files.push(await writeConfig(join(dir, 'config', `${c.id}.yaml`), c, what));
    }
    say(`starting the site coordinator and ${NETWORKS} delegated probes in their namespaces (configs in ${join(dir, 'config')}, logs in ${join(dir, 'logs')}) …`);
    const probes = (started.probes = probeProcesses({ ids, files, dir, urls, netns: (id) => (id === 'site' ? core : lans[Number(id.slice(3)) - 1]!.bridgeNs), readyMs: 90_000 }));
    await probes.start();

    say('starting the traffic sources (web requests, ARP/DHCP-like broadcasts, other IP and non-IP frames, rates following the day) …');
    for (const [i, lan] of lans.entries()) {
      const k = i + 1;
      const t = opts.traffic ?? {};
      const traffic = await startRemote<TrafficSource>({
        module: '@probemesh/testkit',
        export: 'startTraffic',
        args: { ...lan.traffic, web: { host: researchServer(firstServer(k)).address }, nobody: lan.nobody, peak: peakTraffic(k, t.scale), ...(t.dayMs ? { dayMs: t.dayMs } : {}), ...(t.startHour !== undefined ? { startHour: t.startHour } : {}), ...(t.paused ? { paused: true } : {}) },
        ns: lan.trafficNs,
        name: `network ${k}'s traffic`,
      });
      started.networks.push({ k, lan, traffic, hosts: started.hosts[i]! });
    }

    const { read, admin } = layout.tokens;
    const site = urls.site!;
    say(`
The mesh is up in ${group.names.length} network namespaces: ${SERVERS} servers in ${NETWORKS} networks, rules every ${period}.
Networks ${CAPTURE_NETWORKS.join(' and ')}: the delegate captures on its bridge; the others read their switch (RMON etherStatsTable, IF-MIB).

From this machine (forwarders on loopback):
  curl -s -H 'Authorization: Bearer ${read}' '${site}/query?indicator=cade&last=1'
  curl -s -H 'Authorization: Bearer ${read}' '${site}/query?indicator=pue&last=3'
  curl -s -H 'Authorization: Bearer ${read}' ${site}/mesh/alerts
  curl -s -H 'Authorization: Bearer ${read}' '${urls.net1}/query?indicator=lan_broadcast_pps&last=3'
  node ${cli} alerts --nats ${natsUrl} --user ${operator.user} --pass ${operator.password}
Inside the namespaces: ip netns exec ${core} curl -s http://10.0.3.2 …, ip netns exec ${lans[0]!.bridgeNs} tcpdump -ni br0
Read token ${read}, admin token ${admin}. Ctrl-C stops everything and removes the namespaces.`);
    let timer: NodeJS.Timeout | undefined;
    if ((opts.statusMs ?? 10_000) > 0) {
      timer = setInterval(() => void status(site, read).then(say, () => undefined), opts.statusMs ?? 10_000);
      timer.unref();
    }
    return {
      natsUrl,
      operator,
      urls,
      tokens: layout.tokens,
      dir,
      networks: started.networks,
      namespaces: [...group.names],
      pids: () => probes.pids(),
      exits: () => probes.exits(),
      restart: (id, how) => probes.restart(id, how),
      async stop() {
        clearInterval(timer);
        await stop();
        say(`stopped; the namespaces are removed; configs, logs and data stay in ${dir}`);
      },
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
