import { durationMs, type ProbeConfig } from '@probemesh/model';
import { startSnmpAgents, type AgentTable, type SimulatedAgents } from '@probemesh/testkit';

/**
 * The deployment of the research this product comes from, on one machine: five networks of
 * servers (123 in all) each watched by a delegated probe, and a UPS watched by the site
 * coordinator, which merges the networks' partials and computes the site PUE.
 */
export const NETWORKS = 5;
export const SERVERS = 123;
/** Networks in the second building, whose probes reach the hub through that building's NATS leaf node. */
export const LEAF_NETWORKS: readonly number[] = [4, 5];

/** OIDs the simulated devices answer (row 1 of each table). */
export const oids = {
  /** HOST-RESOURCES-MIB hrProcessorLoad.1, % */
  cpuLoad: '1.3.6.1.2.1.25.3.3.1.2.1',
  /** IF-MIB ifInOctets.1 (Counter32) */
  inOctets: '1.3.6.1.2.1.2.2.1.10.1',
  /** ENTITY-SENSOR-MIB entPhySensorValue.1: the server's power draw, W */
  power: '1.3.6.1.2.1.99.1.1.1.4.1',
  /** UCD-SNMP lmTempSensorsValue (a column: one row per sensor), m°C — for load runs with many sensors */
  sensorTable: '1.3.6.1.4.1.2021.13.16.2.1.3',
  /** UPS-MIB upsInputTruePower.1, W: what the site draws */
  upsInputPower: '1.3.6.1.2.1.33.1.3.3.1.5.1',
  /** UPS-MIB upsOutputPower.1, W */
  upsOutputPower: '1.3.6.1.2.1.33.1.4.4.1.4.1',
} as const;

/** Server n (1-based) of the site: its id, network and the values it answers. */
export function server(n: number) {
  const perNet = Math.ceil(SERVERS / NETWORKS);
  return {
    id: `srv${String(n).padStart(3, '0')}`,
    network: Math.floor((n - 1) / perNet) + 1,
    powerW: 180 + ((n * 37) % 120),
    // srv042 runs hot: its network's probe alerts the coordinator.
    cpuPct: n === 42 ? 97 : 10 + ((n * 13) % 70),
    octetsPerS: 1000 * n,
  };
}

/** The power of every server together: the site's IT load. */
export function itPowerW(): number {
  let it = 0;
  for (let n = 1; n <= SERVERS; n++) it += server(n).powerW;
  return it;
}

/** The site's facility draw: the IT load times a fixed overhead (cooling, losses), so PUE ≈ 1.55. */
export const facilityPowerW = () => Math.round(itPowerW() * 1.55);

/** The simulated site: 123 server agents and one UPS agent on loopback, counters moving each second. */
export interface SimulatedDatacenter {
  serverPorts: number[];
  upsPort: number;
  stop(): void;
}

const table = (name: string, entry: string, number: number, type: 'integer' | 'counter32', v: number): AgentTable => ({ name, entry, columns: [{ number, type, rows: { 1: v } }] });

/** Temperature sensor r of server n, m°C. */
export const sensorValue = (n: number, r: number) => 20_000 + ((n * 7919 + r * 104_729) % 15_000);

/** How the simulated site behaves. */
export interface SimulationOptions {
  /** Adds a table of that many temperature sensors to each server (load runs). */
  sensorsPerServer?: number;
  /**
   * Values drift as on a live site (default: steady, the values of `server()` and
   * `facilityPowerW()`): server power ±10 % over 5 min, cooling overhead so PUE swings between
   * about 1.3 and 1.85 over 10 min (the site's `pue_high` fires and resolves), srv042 hot for two
   * minutes of every three.
   */
  drift?: boolean;
}

/** The values at `s` seconds into a drifting run. */
function drifted(n: number, s: number) {
  const base = server(n);
  const powerW = Math.round(base.powerW * (1 + 0.1 * Math.sin((2 * Math.PI * s) / 300 + n)));
  const cpuPct = n === 42 ? (s % 180 < 120 ? 97 : 35) : Math.max(1, Math.min(89, Math.round(base.cpuPct + 8 * Math.sin((2 * Math.PI * s) / 240 + n))));
  return { powerW, cpuPct };
}

/** What simulated server n (1-based) answers: CPU load, an interface counter, its power and `sensorsPerServer` temperatures. */
export function serverTables(n: number, sensorsPerServer = 0): AgentTable[] {
  const s = server(n);
  return [
    table('hrProcessorEntry', '1.3.6.1.2.1.25.3.3.1', 2, 'integer', s.cpuPct),
    table('ifEntry', '1.3.6.1.2.1.2.2.1', 10, 'counter32', 0),
    table('entPhySensorEntry', '1.3.6.1.2.1.99.1.1.1', 4, 'integer', s.powerW),
    ...(sensorsPerServer
      ? [{ name: 'lmTempSensorsEntry', entry: '1.3.6.1.4.1.2021.13.16.2.1', columns: [{ number: 3, type: 'gauge32' as const, rows: Object.fromEntries(Array.from({ length: sensorsPerServer }, (_, i) => [i + 1, sensorValue(n, i + 1)])) }] }]
      : []),
  ];
}

/** What the simulated UPS answers: the site's input (facility) and output (IT) power. */
export function upsTables(): AgentTable[] {
  return [table('upsInputEntry', '1.3.6.1.2.1.33.1.3.3.1', 5, 'integer', facilityPowerW()), table('upsOutputEntry', '1.3.6.1.2.1.33.1.4.4.1', 4, 'integer', itPowerW())];
}

/** Starts the site's devices on loopback. */
export async function simulateDatacenter(opts: SimulationOptions = {}): Promise<SimulatedDatacenter> {
  const specs: AgentTable[][] = [];
  for (let n = 1; n <= SERVERS; n++) specs.push(serverTables(n, opts.sensorsPerServer));
  specs.push(upsTables());
  const sim: SimulatedAgents = await startSnmpAgents(specs);
  const started = Date.now();
  const traffic = setInterval(() => {
    const s = (Date.now() - started) / 1000;
    let it = 0;
    for (let n = 1; n <= SERVERS; n++) {
      const agent = sim.agents[n - 1]!;
      agent.set('ifEntry', 10, 1, Math.floor(server(n).octetsPerS * s) % 2 ** 32);
      if (!opts.drift) continue;
      const d = drifted(n, s);
      agent.set('entPhySensorEntry', 4, 1, d.powerW);
      agent.set('hrProcessorEntry', 2, 1, d.cpuPct);
      it += d.powerW;
    }
    if (opts.drift) {
      const ups = sim.agents[SERVERS]!;
      ups.set('upsOutputEntry', 4, 1, it);
      ups.set('upsInputEntry', 5, 1, Math.round(it * (1.575 + 0.275 * Math.sin((2 * Math.PI * s) / 600))));
    }
  }, 1000);
  traffic.unref();
  return {
    serverPorts: sim.agents.slice(0, SERVERS).map((a) => a.port),
    upsPort: sim.agents[SERVERS]!.port,
    stop() {
      clearInterval(traffic);
      sim.close();
    },
  };
}

/** Where the mesh's parts listen and keep their data, and the credentials it uses. */
export interface MeshLayout {
  /** The hub's NATS URL. */
  natsUrl: string;
  /** Every node of the hub, when it is a NATS cluster (probes list every seed). */
  natsSeeds?: readonly string[];
  /** The second building's leaf node: probes of LEAF_NETWORKS connect there (JetStream domain `hub`). */
  leafUrl: string;
  /** HTTP port per probe id. */
  httpPorts: Readonly<Record<string, number>>;
  serverPorts: readonly number[];
  upsPort: number;
  dataRoot: string;
  /** NATS password per probe id (each probe is a NATS user allowed to publish only under its id). */
  passwords: Readonly<Record<string, string>>;
  tokens: { read: string; admin: string };
  /** Rule period and partial window (10s in the paper's deployment). */
  period: string;
  /** Each server also has this many temperature sensors, read with one walk (load runs). */
  sensorsPerServer?: number;
}

/** The six probe configurations of the site: five delegated network probes and the coordinator. */
export function datacenterConfigs(l: MeshLayout): ProbeConfig[] {
  const common = (id: string) => ({
    id,
    dataDir: `${l.dataRoot}/${id}`,
    tokens: [
      { name: 'operator', role: 'admin' as const, token: l.tokens.admin },
      { name: 'dashboards', role: 'read' as const, token: l.tokens.read },
    ],
    nats: LEAF_NETWORKS.some((k) => id === `net${k}`) ? { servers: [l.leafUrl], jsDomain: 'hub', user: id, pass: l.passwords[id] ?? '' } : { servers: [...(l.natsSeeds ?? [l.natsUrl])], user: id, pass: l.passwords[id] ?? '' },
    retention: { maxAge: '7d' },
  });
  const offsetOf = (k: number) => {
    const ms = (durationMs(l.period) * (k - 1)) / 10;
    return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
  };
  const networks: ProbeConfig[] = [];
  for (let k = 1; k <= NETWORKS; k++) {
    const devices = [];
    for (let n = 1; n <= SERVERS; n++) {
      const s = server(n);
      if (s.network === k) devices.push({ id: s.id, address: '127.0.0.1', tags: { role: 'server', network: `n${k}` }, protocols: { snmp: { version: '2c' as const, community: 'public', port: l.serverPorts[n - 1]!, ...(l.sensorsPerServer ? { maxRepetitions: Math.min(1000, l.sensorsPerServer + 1) } : {}) } } });
    }
    networks.push({
      ...common(`net${k}`),
      role: 'delegated',
      parent: 'site',
      group: `network ${k}`,
      http: { host: '127.0.0.1', port: l.httpPorts[`net${k}`]! },
      mesh: { partials: { indicators: ['server_power', 'cpu_load', ...(l.sensorsPerServer ? ['sensor_temp'] : [])], window: l.period } },
      devices,
      indicators: [
        { id: 'server_power', kind: 'atomic', unit: 'W', source: { scheme: 'snmp', oid: oids.power } },
        { id: 'cpu_load', kind: 'atomic', unit: '%', source: { scheme: 'snmp', oid: oids.cpuLoad } },
        { id: 'in_bps', kind: 'atomic', unit: 'bit/s', source: { scheme: 'snmp', oid: oids.inOctets }, transform: 'rate(value) * 8' },
        { id: 'network_power', kind: 'calculated', unit: 'W', formula: 'sum(server_power)' },
        ...(l.sensorsPerServer ? [{ id: 'sensor_temp', kind: 'atomic' as const, unit: 'm°C', source: { scheme: 'snmp', oid: oids.sensorTable, walk: true } }] : []),
      ],
      rules: [
        {
          id: 'servers',
          period: l.period,
          // Network k's rounds run (k - 1) tenths of a period in: the five probes poll and write one after another, not all at once.
          ...(k > 1 ? { offset: offsetOf(k) } : {}),
          indicators: ['server_power', 'cpu_load', 'in_bps', 'network_power', ...(l.sensorsPerServer ? ['sensor_temp'] : [])],
          targets: { tags: { role: 'server' } },
          decisions: [
            { id: 'cpu_hot', when: 'cpu_load > 90', severity: 'warning', indicator: 'cpu_load', message: 'CPU at {value} %' },
            { id: 'power_high', when: 'server_power > 450', severity: 'critical', indicator: 'server_power', message: 'server draws {value} W' },
          ],
        },
      ],
    });
  }
  const site: ProbeConfig = {
    ...common('site'),
    role: 'coordinator',
    http: { host: '127.0.0.1', port: l.httpPorts.site! },
    mesh: { children: networks.map((n) => n.id) },
    devices: [{ id: 'ups', address: '127.0.0.1', tags: { role: 'ups' }, protocols: { snmp: { version: '2c', community: 'public', port: l.upsPort } } }],
    indicators: [
      { id: 'facility_power', kind: 'atomic', unit: 'W', source: { scheme: 'snmp', oid: oids.upsInputPower } },
      { id: 'ups_output_power', kind: 'atomic', unit: 'W', source: { scheme: 'snmp', oid: oids.upsOutputPower } },
      { id: 'it_power', kind: 'atomic', unit: 'W', source: { scheme: 'mesh', indicator: 'server_power', stat: 'total' } },
      { id: 'servers_reporting', kind: 'atomic', source: { scheme: 'mesh', indicator: 'server_power', stat: 'devices' } },
      { id: 'server_power_mean', kind: 'atomic', unit: 'W', source: { scheme: 'mesh', indicator: 'server_power', stat: 'mean' } },
      { id: 'cpu_load_mean', kind: 'atomic', unit: '%', source: { scheme: 'mesh', indicator: 'cpu_load', stat: 'mean' } },
      { id: 'cpu_load_max', kind: 'atomic', unit: '%', source: { scheme: 'mesh', indicator: 'cpu_load', stat: 'max' } },
      { id: 'pue', kind: 'calculated', formula: 'facility_power@ups / it_power' },
      { id: 'dcie', kind: 'calculated', unit: '%', formula: '100 / pue' },
    ],
    rules: [
      { id: 'ups', period: l.period, indicators: ['facility_power', 'ups_output_power'], targets: { devices: ['ups'] } },
      {
        id: 'site',
        period: l.period,
        indicators: ['it_power', 'servers_reporting', 'server_power_mean', 'cpu_load_mean', 'cpu_load_max', 'pue', 'dcie'],
        decisions: [
          { id: 'pue_high', when: 'pue > 1.8', for: '1m', severity: 'warning', indicator: 'pue', message: 'site PUE {value}' },
          { id: 'servers_missing', when: 'servers_reporting < 123', for: '30s', severity: 'warning', indicator: 'servers_reporting', message: 'only {value} of 123 servers reported' },
        ],
      },
    ],
  };
  return [...networks, site];
}

/** The layout of the documented example in mesh-config/datacenter (fixed ports, placeholder secrets). */
export function exampleLayout(): MeshLayout {
  const ids = [...Array.from({ length: NETWORKS }, (_, k) => `net${k + 1}`), 'site'];
  return {
    natsUrl: 'nats://127.0.0.1:4222',
    leafUrl: 'nats://127.0.0.1:4223',
    httpPorts: Object.fromEntries(ids.map((id) => [id, id === 'site' ? 8080 : 8080 + Number(id.slice(3))])),
    serverPorts: Array.from({ length: SERVERS }, (_, i) => 16101 + i),
    upsPort: 16100,
    dataRoot: '/var/lib/probemesh',
    passwords: Object.fromEntries(ids.map((id) => [id, `change-me-${id}-password`])),
    tokens: { read: 'change-me-read-token-00001', admin: 'change-me-admin-token-0001' },
    period: '10s',
  };
}
