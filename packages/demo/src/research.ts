import type { Indicator, ProbeConfig, Rule } from '@probemesh/model';
import { facilityPowerW, itPowerW, LEAF_NETWORKS, NETWORKS, SERVERS, server } from './datacenter.js';

/**
 * The research deployment whole ("Test 2.1" of Marcos-Jorquera et al., Energies 2016, 9, 515):
 * five switched networks, each with its servers, a switch, a traffic source and a delegated
 * probe; networks 1 and 2 watched by the probe's own capture, networks 3 to 5 through the
 * switch's RMON and IF-MIB counters; servers read for CPU, memory, disk, interfaces and power,
 * the web servers through a WWW-MIB table, the UPS (in network 1) through UPS-MIB; the site
 * coordinator computing PUE, DCiE, Compute Power Efficiency and CADE from count-weighted merges
 * of the delegates' partials.
 */

/** Networks whose delegate captures traffic itself (the research's two sniffer probes); the others read their switch. */
export const CAPTURE_NETWORKS: readonly number[] = [1, 2];
/** The network whose hosts include the UPS. */
export const UPS_NETWORK = 1;

/** Addresses of the namespaced deployment. */
export const net = {
  /** Network k's LAN: `10.0.k.0/24`; its bridge (the delegate) is `.1`. */
  subnet: (k: number) => `10.0.${k}`,
  /** The routed /30 between the site and network k: `.1` the site, `.2` network k's delegate. */
  uplink: (k: number) => `10.255.${k}`,
  /** Network k's switch (its SNMP agent). */
  switch: (k: number) => `10.0.${k}.2`,
  ups: '10.0.1.5',
  /** Server n (1-based): `.11` upwards in its network. */
  server: (n: number) => `10.0.${server(n).network}.${10 + n - firstServer(server(n).network) + 1}`,
  /** Port of every probe's HTTP API inside its namespace. */
  http: 8080,
  /** Ports of the hub and the second building's leaf node, in the site's namespace. */
  hub: 4222,
  leaf: 4223,
} as const;

/** The first server (1-based) of network k; it is also the network's web server. */
export function firstServer(k: number): number {
  for (let n = 1; n <= SERVERS; n++) if (server(n).network === k) return n;
  throw new RangeError(`no network ${k}`);
}

/** The servers (1-based numbers) of network k. */
export function serversOf(k: number): number[] {
  return Array.from({ length: SERVERS }, (_, i) => i + 1).filter((n) => server(n).network === k);
}

/** The server of network 3 whose disk is nearly full (its delegate alerts). */
export const FULL_DISK_SERVER = 63;

/** Everything simulated server n answers. Storage in hrStorage allocation units: KiB for memory, 4 KiB blocks for the disk. */
export function researchServer(n: number) {
  const s = server(n);
  const memSize = [16, 32, 64][n % 3]! * 1_048_576;
  const diskSize = [250, 500, 1000][n % 3]! * 262_144;
  const diskPct = n === FULL_DISK_SERVER ? 95 : 20 + ((n * 29) % 60);
  return {
    ...s,
    address: net.server(n),
    web: n === firstServer(s.network),
    memSize,
    memUsed: Math.round((memSize * (30 + ((n * 17) % 55))) / 100),
    diskSize,
    diskUsed: Math.round((diskSize * diskPct) / 100),
    outOctetsPerS: 400 * n,
  };
}

/** OIDs the simulated devices answer. */
export const mib = {
  cpuLoad: '1.3.6.1.2.1.25.3.3.1.2.1',
  /** HOST-RESOURCES-MIB hrStorageEntry: row 1 physical memory, row 31 the root file system. */
  hrStorageEntry: '1.3.6.1.2.1.25.2.3.1',
  memSize: '1.3.6.1.2.1.25.2.3.1.5.1',
  memUsed: '1.3.6.1.2.1.25.2.3.1.6.1',
  diskSize: '1.3.6.1.2.1.25.2.3.1.5.31',
  diskUsed: '1.3.6.1.2.1.25.2.3.1.6.31',
  ifInOctets: '1.3.6.1.2.1.2.2.1.10.1',
  ifOutOctets: '1.3.6.1.2.1.2.2.1.16.1',
  power: '1.3.6.1.2.1.99.1.1.1.4.1',
  /** WWW-MIB (RFC 2594) wwwServiceEntry and wwwSummaryEntry of service 1. */
  wwwServiceEntry: '1.3.6.1.2.1.65.1.1.1.1',
  wwwSummaryEntry: '1.3.6.1.2.1.65.1.2.1.1',
  wwwStatus: '1.3.6.1.2.1.65.1.1.1.1.8.1',
  wwwInRequests: '1.3.6.1.2.1.65.1.2.1.1.1.1',
  wwwOutResponses: '1.3.6.1.2.1.65.1.2.1.1.4.1',
  wwwInBytes: '1.3.6.1.2.1.65.1.2.1.1.6.1',
  wwwOutBytes: '1.3.6.1.2.1.65.1.2.1.1.8.1',
  /** UPS-MIB (RFC 1628). */
  upsInputPower: '1.3.6.1.2.1.33.1.3.3.1.5.1',
  upsOutputPower: '1.3.6.1.2.1.33.1.4.4.1.4.1',
  upsOutputSource: '1.3.6.1.2.1.33.1.4.1',
  upsSecondsOnBattery: '1.3.6.1.2.1.33.1.2.2',
  upsChargeRemaining: '1.3.6.1.2.1.33.1.2.4',
  /** RMON-MIB etherStatsEntry and IF-MIB ifEntry columns of the switch (walked: one row per port). */
  etherStatsOctets: '1.3.6.1.2.1.16.1.1.1.4',
  etherStatsPkts: '1.3.6.1.2.1.16.1.1.1.5',
  etherStatsBroadcastPkts: '1.3.6.1.2.1.16.1.1.1.6',
  etherStatsMulticastPkts: '1.3.6.1.2.1.16.1.1.1.7',
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifInOctetsColumn: '1.3.6.1.2.1.2.2.1.10',
  ifOutOctetsColumn: '1.3.6.1.2.1.2.2.1.16',
} as const;

/** upsOutputSource values (UPS-MIB). */
export const UPS_SOURCE = { normal: 3, battery: 5 } as const;

/** Thresholds of the delegates' alerts. */
export const thresholds = { cpuPct: 90, diskPct: 90, broadcastPps: 50, serverPowerW: 450 } as const;

/**
 * Administrative (static) values of the site: the design IT load of the room (W), and the IT
 * energy efficiency CADE asks for, which nothing measures (1: that factor left neutral).
 */
export const siteStatics = { itCapacityW: 60_000, itEnergyEfficiency: 1 } as const;

/**
 * The site's figures computed from the simulated inputs the way the coordinator computes them
 * (the same operations in the same order, so tests compare to the digit).
 */
export function siteFigures() {
  let cpu = 0;
  let mem = 0;
  let disk = 0;
  for (let n = 1; n <= SERVERS; n++) {
    const s = researchServer(n);
    cpu += s.cpuPct;
    mem += (100 * s.memUsed) / s.memSize;
    disk += (100 * s.diskUsed) / s.diskSize;
  }
  const [it, facility] = [itPowerW(), facilityPowerW()];
  const cpuMean = cpu / SERVERS;
  const pue = facility / it;
  const dcie = 100 / pue;
  const facilityUtilisation = (100 * it) / siteStatics.itCapacityW;
  return {
    itPowerW: it,
    facilityPowerW: facility,
    upsOutputPowerW: it,
    cpuMean,
    memMean: mem / SERVERS,
    diskMean: disk / SERVERS,
    pue,
    dcie,
    cpe: cpuMean / pue,
    facilityUtilisation,
    cade: (dcie * facilityUtilisation * siteStatics.itEnergyEfficiency * cpuMean) / 10000,
  };
}

/** Where the mesh keeps its data, its secrets and how often it measures. */
export interface ResearchLayout {
  dataRoot: string;
  /** NATS password per probe id. */
  passwords: Readonly<Record<string, string>>;
  tokens: { read: string; admin: string };
  /** Rule period and partial window (10s in the research). */
  period: string;
  /** Store budget of each probe (retention keeps it; default none, only the 7-day age). */
  maxStoreBytes?: number;
}

const snmp = (oid: string, extra: Record<string, unknown> = {}) => ({ scheme: 'snmp', oid, ...extra });
const pcap = (kind: string, measure: string, extra: Record<string, unknown> = {}) => ({ scheme: 'pcap', interface: 'br0', promiscuous: true, kind, measure, ...extra });
const rate8 = 'rate(value) * 8';

/** A request to port 80 carrying data: one per web request (the handshake and the acknowledgements carry none). */
export const WEB_REQUEST_FILTER = 'tcp dst port 80 and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0';

/** The indicators and rules of network k's traffic: the probe's own capture, or its switch. */
function lanPart(k: number, period: string): { indicators: Indicator[]; rule: Rule } {
  const storm = { id: 'broadcast_storm', when: `lan_broadcast_pps > ${thresholds.broadcastPps}`, severity: 'warning' as const, indicator: 'lan_broadcast_pps', message: `broadcast storm on network ${k}: {value} frames/s` };
  const load = { id: 'network_load_15m', kind: 'calculated' as const, unit: 'bit/s', description: 'mean network load over the last 15 minutes (the research\'s example of a calculated indicator)', formula: 'mean(lan_total_bps, "15m")' };
  if (CAPTURE_NETWORKS.includes(k)) {
    const indicators: Indicator[] = [];
    for (const kind of ['total', 'broadcast', 'ip', 'web'] as const)
      for (const measure of ['packets', 'bytes', 'pps', 'bps'] as const)
        indicators.push({ id: `lan_${kind}_${measure}`, kind: 'atomic', unit: measure === 'bytes' ? 'B' : measure === 'packets' ? 'frames' : measure === 'pps' ? 'frames/s' : 'bit/s', source: pcap(kind === 'web' ? 'port' : kind, measure, kind === 'web' ? { port: 80 } : {}) });
    indicators.push({ id: 'web_requests', kind: 'atomic', unit: 'requests', description: 'segments to port 80 that carry data: one per request', source: pcap('port', 'packets', { port: 80, filter: WEB_REQUEST_FILTER }) }, load);
    return { indicators, rule: { id: 'lan', period, indicators: indicators.map((i) => i.id), decisions: [storm] } };
  }
  const walk = (oid: string, transform?: string) => ({ kind: 'atomic' as const, source: snmp(oid, { walk: true }), ...(transform ? { transform } : {}) });
  const indicators: Indicator[] = [
    { id: 'sw_pkts', unit: 'frames', ...walk(mib.etherStatsPkts) },
    { id: 'sw_octets', unit: 'B', ...walk(mib.etherStatsOctets) },
    { id: 'sw_broadcast_pkts', unit: 'frames', ...walk(mib.etherStatsBroadcastPkts) },
    { id: 'sw_multicast_pkts', unit: 'frames', ...walk(mib.etherStatsMulticastPkts) },
    { id: 'sw_pps', unit: 'frames/s', ...walk(mib.etherStatsPkts, 'rate(value)') },
    { id: 'sw_bps', unit: 'bit/s', ...walk(mib.etherStatsOctets, rate8) },
    { id: 'sw_broadcast_pps', unit: 'frames/s', ...walk(mib.etherStatsBroadcastPkts, 'rate(value)') },
    { id: 'sw_if_in_bps', kind: 'atomic', unit: 'bit/s', source: snmp(mib.ifInOctetsColumn, { walk: true, instanceFrom: mib.ifDescr }), transform: rate8 },
    { id: 'sw_if_out_bps', kind: 'atomic', unit: 'bit/s', source: snmp(mib.ifOutOctetsColumn, { walk: true, instanceFrom: mib.ifDescr }), transform: rate8 },
    { id: 'lan_total_bps', kind: 'calculated', unit: 'bit/s', description: 'what every port received, per second', formula: 'sum(sw_bps)' },
    { id: 'lan_total_pps', kind: 'calculated', unit: 'frames/s', formula: 'sum(sw_pps)' },
    { id: 'lan_broadcast_pps', kind: 'calculated', unit: 'frames/s', formula: 'sum(sw_broadcast_pps)' },
    load,
  ];
  return { indicators, rule: { id: 'lan', period, indicators: indicators.map((i) => i.id), targets: { tags: { role: 'switch' } }, decisions: [storm] } };
}

/** The six probe configurations: five delegates (ids net1 … net5) and the site coordinator. */
export function researchConfigs(l: ResearchLayout): ProbeConfig[] {
  const common = (id: string, natsUrl: string, domain: boolean) => ({
    id,
    dataDir: `${l.dataRoot}/${id}`,
    tokens: [
      { name: 'operator', role: 'admin' as const, token: l.tokens.admin },
      { name: 'dashboards', role: 'read' as const, token: l.tokens.read },
    ],
    nats: { servers: [natsUrl], user: id, pass: l.passwords[id] ?? '', ...(domain ? { jsDomain: 'hub' } : {}) },
    http: { host: '0.0.0.0', port: net.http },
    retention: { maxAge: '7d', ...(l.maxStoreBytes ? { maxBytes: l.maxStoreBytes } : {}) },
  });
  const snmpDevice = (id: string, address: string, role: string, k: number) => ({ id, address, tags: { role, network: `n${k}` }, protocols: { snmp: { version: '2c' as const, community: 'public' } } });
  const period = l.period;
  const delegates: ProbeConfig[] = [];
  for (let k = 1; k <= NETWORKS; k++) {
    const leaf = LEAF_NETWORKS.includes(k);
    const servers = serversOf(k).map((n) => researchServer(n));
    const lan = lanPart(k, period);
    const ups = k === UPS_NETWORK;
    const devices = [
      ...servers.map((s) => ({ ...snmpDevice(s.id, s.address, 'server', k), ...(s.web ? { tags: { role: 'server', network: `n${k}`, web: 'apache' } } : {}) })),
      ...(CAPTURE_NETWORKS.includes(k) ? [] : [snmpDevice(`switch${k}`, net.switch(k), 'switch', k)]),
      ...(ups ? [snmpDevice('ups', net.ups, 'ups', k)] : []),
    ];
    const indicators: Indicator[] = [
      { id: 'cpu_load', kind: 'atomic', unit: '%', source: snmp(mib.cpuLoad) },
      { id: 'mem_size', kind: 'atomic', unit: 'KiB', source: snmp(mib.memSize) },
      { id: 'mem_used', kind: 'atomic', unit: 'KiB', source: snmp(mib.memUsed) },
      { id: 'mem_used_pct', kind: 'calculated', unit: '%', formula: '100 * mem_used / mem_size' },
      { id: 'disk_size', kind: 'atomic', unit: '4 KiB', source: snmp(mib.diskSize) },
      { id: 'disk_used', kind: 'atomic', unit: '4 KiB', source: snmp(mib.diskUsed) },
      { id: 'disk_used_pct', kind: 'calculated', unit: '%', formula: '100 * disk_used / disk_size' },
      { id: 'if_in_bps', kind: 'atomic', unit: 'bit/s', source: snmp(mib.ifInOctets), transform: rate8 },
      { id: 'if_out_bps', kind: 'atomic', unit: 'bit/s', source: snmp(mib.ifOutOctets), transform: rate8 },
      { id: 'server_power', kind: 'atomic', unit: 'W', source: snmp(mib.power) },
      { id: 'network_power', kind: 'calculated', unit: 'W', formula: 'sum(server_power)' },
      { id: 'www_status', kind: 'atomic', description: 'wwwServiceOperStatus: 2 running', source: snmp(mib.wwwStatus) },
      { id: 'www_requests', kind: 'atomic', unit: 'requests', source: snmp(mib.wwwInRequests) },
      { id: 'www_requests_per_s', kind: 'atomic', unit: 'requests/s', source: snmp(mib.wwwInRequests), transform: 'rate(value)' },
      { id: 'www_responses', kind: 'atomic', unit: 'responses', source: snmp(mib.wwwOutResponses) },
      { id: 'www_out_bps', kind: 'atomic', unit: 'bit/s', source: snmp(mib.wwwOutBytes), transform: rate8 },
      ...lan.indicators,
      ...(ups
        ? ([
            { id: 'ups_input_power', kind: 'atomic', unit: 'W', source: snmp(mib.upsInputPower) },
            { id: 'ups_output_power', kind: 'atomic', unit: 'W', source: snmp(mib.upsOutputPower) },
            { id: 'ups_output_source', kind: 'atomic', description: 'upsOutputSource: 3 normal, 5 battery', source: snmp(`${mib.upsOutputSource}.0`) },
            { id: 'ups_charge', kind: 'atomic', unit: '%', source: snmp(`${mib.upsChargeRemaining}.0`) },
          ] satisfies Indicator[])
        : []),
    ];
    const rules: Rule[] = [
      {
        id: 'servers',
        period,
        indicators: ['cpu_load', 'mem_size', 'mem_used', 'mem_used_pct', 'disk_size', 'disk_used', 'disk_used_pct', 'if_in_bps', 'if_out_bps', 'server_power', 'network_power'],
        targets: { tags: { role: 'server' } },
        decisions: [
          { id: 'cpu_hot', when: `cpu_load > ${thresholds.cpuPct}`, severity: 'warning', indicator: 'cpu_load', message: 'CPU at {value} %' },
          { id: 'disk_full', when: `disk_used_pct > ${thresholds.diskPct}`, severity: 'critical', indicator: 'disk_used_pct', message: 'disk {value} % full' },
          { id: 'power_high', when: `server_power > ${thresholds.serverPowerW}`, severity: 'critical', indicator: 'server_power', message: 'server draws {value} W' },
        ],
      },
      { id: 'web', period, indicators: ['www_status', 'www_requests', 'www_requests_per_s', 'www_responses', 'www_out_bps'], targets: { tags: { web: 'apache' } } },
      lan.rule,
      ...(ups
        ? ([
            {
              id: 'ups',
              period,
              indicators: ['ups_input_power', 'ups_output_power', 'ups_output_source', 'ups_charge'],
              targets: { devices: ['ups'] },
              decisions: [{ id: 'ups_on_battery', when: `ups_output_source == ${UPS_SOURCE.battery}`, severity: 'critical', indicator: 'ups_charge', message: 'UPS on battery, {value} % charge left' }],
            },
          ] satisfies Rule[])
        : []),
    ];
    delegates.push({
      ...common(`net${k}`, `nats://${net.uplink(k)}.1:${leaf ? net.leaf : net.hub}`, leaf),
      role: 'delegated',
      parent: 'site',
      group: `network ${k}`,
      mesh: { partials: { indicators: ['server_power', 'cpu_load', 'mem_used_pct', 'disk_used_pct', 'lan_total_bps', ...(ups ? ['ups_input_power', 'ups_output_power'] : [])], window: period } },
      devices,
      indicators,
      rules,
    });
  }
  const merged = (id: string, indicator: string, stat: string, unit?: string): Indicator => ({ id, kind: 'atomic', ...(unit ? { unit } : {}), source: { scheme: 'mesh', indicator, stat } });
  const site: ProbeConfig = {
    ...common('site', `nats://127.0.0.1:${net.hub}`, false),
    role: 'coordinator',
    mesh: { children: delegates.map((d) => d.id) },
    indicators: [
      merged('it_power', 'server_power', 'total', 'W'),
      merged('servers_reporting', 'server_power', 'devices'),
      merged('facility_power', 'ups_input_power', 'total', 'W'),
      merged('ups_output_power', 'ups_output_power', 'total', 'W'),
      merged('cpu_load_mean', 'cpu_load', 'mean', '%'),
      merged('cpu_load_max', 'cpu_load', 'max', '%'),
      merged('mem_used_pct_mean', 'mem_used_pct', 'mean', '%'),
      merged('disk_used_pct_mean', 'disk_used_pct', 'mean', '%'),
      merged('network_bps', 'lan_total_bps', 'sum', 'bit/s'),
      { id: 'it_capacity', kind: 'static', unit: 'W', description: 'design IT load of the room', value: siteStatics.itCapacityW },
      { id: 'it_energy_efficiency', kind: 'static', description: "CADE's IT energy efficiency (0–1): no agreed measurement exists; 1 leaves it neutral", value: siteStatics.itEnergyEfficiency },
      { id: 'pue', kind: 'calculated', description: 'Power Usage Effectiveness (The Green Grid): facility power / IT power', formula: 'facility_power / it_power' },
      { id: 'dcie', kind: 'calculated', unit: '%', description: 'Data Center infrastructure Efficiency: IT power / facility power', formula: '100 / pue' },
      { id: 'cpe', kind: 'calculated', unit: '%', description: 'Compute Power Efficiency (The Green Grid): IT equipment utilisation (mean CPU) / PUE', formula: 'cpu_load_mean / pue' },
      { id: 'facility_utilisation', kind: 'calculated', unit: '%', description: 'IT load / design IT load', formula: '100 * it_power / it_capacity' },
      { id: 'cade', kind: 'calculated', unit: '%', description: 'Corporate Average Data center Efficiency (Uptime Institute, McKinsey): facility efficiency (DCiE × facility utilisation) × IT asset efficiency (IT energy efficiency × mean CPU)', formula: 'dcie * facility_utilisation * it_energy_efficiency * cpu_load_mean / 10000' },
    ],
    rules: [
      {
        id: 'site',
        period,
        indicators: ['it_power', 'servers_reporting', 'facility_power', 'ups_output_power', 'cpu_load_mean', 'cpu_load_max', 'mem_used_pct_mean', 'disk_used_pct_mean', 'network_bps', 'pue', 'dcie', 'cpe', 'facility_utilisation', 'cade'],
        decisions: [
          { id: 'pue_high', when: 'pue > 1.8', for: '1m', severity: 'warning', indicator: 'pue', message: 'site PUE {value}' },
          { id: 'servers_missing', when: `servers_reporting < ${SERVERS}`, for: '30s', severity: 'warning', indicator: 'servers_reporting', message: `only {value} of ${SERVERS} servers reported` },
        ],
      },
    ],
  };
  return [...delegates, site];
}
