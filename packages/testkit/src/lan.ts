import type { NetnsGroup } from './netns.js';

/**
 * A LAN made of namespaces: a bridge (the switch) in `bridgeNs` with an address of its own, a
 * hosts namespace on one port and a traffic namespace on another. Every neighbour entry is
 * static and IPv6 is off, so the only broadcasts on the LAN are the ones someone sends on purpose.
 */
export interface Lan {
  /** `a.b.c`: the LAN is `a.b.c.0/24`. */
  subnet: string;
  bridgeNs: string;
  hostsNs: string;
  trafficNs: string;
  /** The bridge interface (in `bridgeNs`) and its address `<subnet>.1`, the hosts' gateway. */
  bridge: string;
  gateway: string;
  /** Addresses held in the hosts namespace (interface `eth0`). */
  hosts: string[];
  /** The traffic namespace's interface (`eth0`), MAC and address `<subnet>.200`. */
  traffic: { iface: string; mac: string; address: string };
  /** An address nobody holds: `<subnet>.250`. */
  nobody: string;
  /** The bridge ports (interfaces in `bridgeNs`): hosts first, then traffic. */
  ports: Array<{ name: string; iface: string }>;
}

const hex = (n: number) => n.toString(16).padStart(2, '0');

/** Creates namespaces `<role>`, `<role>-hosts`, `<role>-traffic` in `group` and wires them as a `Lan`. */
export async function createLan(group: NetnsGroup, role: string, subnet: string, hostOctets: number[]): Promise<Lan> {
  const k = Number(subnet.split('.')[2]) & 0xff;
  const mac = (last: number) => `02:0a:00:${hex(k)}:00:${hex(last)}`;
  const [brMac, hostsMac, trafficMac] = [mac(1), mac(2), mac(200)];
  const [bridgeNs, hostsNs, trafficNs] = [await group.add(role), await group.add(`${role}-hosts`), await group.add(`${role}-traffic`)];
  const gateway = `${subnet}.1`;
  const hosts = hostOctets.map((o) => `${subnet}.${o}`);
  const traffic = { iface: 'eth0', mac: trafficMac, address: `${subnet}.200` };
  const neigh = (addr: string, lladdr: string, dev: string) => `neigh replace ${addr} lladdr ${lladdr} nud permanent dev ${dev}`;
  await group.batch(bridgeNs, [
    `link add br0 address ${brMac} type bridge`,
    `link add p-hosts type veth peer name eth0 address ${hostsMac} netns ${hostsNs}`,
    `link add p-traffic type veth peer name eth0 address ${trafficMac} netns ${trafficNs}`,
    'link set p-hosts master br0 up',
    'link set p-traffic master br0 up',
    'link set br0 up',
    `addr add ${gateway}/24 dev br0`,
    ...hosts.map((h) => neigh(h, hostsMac, 'br0')),
    neigh(traffic.address, trafficMac, 'br0'),
  ]);
  await group.batch(hostsNs, [
    ...hosts.map((h) => `addr add ${h}/24 dev eth0`),
    'link set eth0 up',
    `route add default via ${gateway}`,
    neigh(gateway, brMac, 'eth0'),
    neigh(traffic.address, trafficMac, 'eth0'),
  ]);
  await group.batch(trafficNs, [
    `addr add ${traffic.address}/24 dev eth0`,
    'link set eth0 up',
    `route add default via ${gateway}`,
    neigh(gateway, brMac, 'eth0'),
    ...hosts.map((h) => neigh(h, hostsMac, 'eth0')),
  ]);
  return {
    subnet,
    bridgeNs,
    hostsNs,
    trafficNs,
    bridge: 'br0',
    gateway,
    hosts,
    traffic,
    nobody: `${subnet}.250`,
    ports: [
      { name: 'servers', iface: 'p-hosts' },
      { name: 'traffic', iface: 'p-traffic' },
    ],
  };
}

/**
 * A routed point-to-point link between two namespaces: `a` gets `<net>.1/30`, `b` `<net>.2/30`,
 * `b` routes everything else through `a` and forwards, `a` reaches `bRoutes` through `b`.
 * Returns the two addresses.
 */
export async function routedLink(group: NetnsGroup, a: string, aIface: string, b: string, net: string, bRoutes: string[]): Promise<{ a: string; b: string }> {
  const [aAddr, bAddr] = [`${net}.1`, `${net}.2`];
  await group.batch(a, [`link add ${aIface} type veth peer name uplink netns ${b}`, `addr add ${aAddr}/30 dev ${aIface}`, `link set ${aIface} up`, ...bRoutes.map((r) => `route add ${r} via ${bAddr}`)]);
  await group.batch(b, [`addr add ${bAddr}/30 dev uplink`, 'link set uplink up', `route add default via ${aAddr}`]);
  await group.sysctl(b, ['net.ipv4.ip_forward=1']);
  return { a: aAddr, b: bAddr };
}
