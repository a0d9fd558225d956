import { startSnmpAgents, startSwitch, startWebServer, type AgentColumn, type AgentSpec, type PortCounters, type SimulatedSwitch, type SwitchPort, type WebStats } from '@probemesh/testkit';
import { serverTables, upsTables } from './datacenter.js';
import { CAPTURE_NETWORKS, mib, net, researchServer, serversOf, UPS_NETWORK, UPS_SOURCE } from './research.js';

/** The simulated hosts of one network, running in its hosts namespace (`startRemote`). */
export interface NetworkHosts {
  /** What the network's web server has served. */
  web(): WebStats;
  /** The switch's port counters (networks read through their switch), else null. */
  switchCounters(): PortCounters[] | null;
  /** Puts the UPS on battery or back on mains (the UPS's network only). */
  setUpsOnBattery(on: boolean): void;
  stop(): Promise<void>;
}

const column = (number: number, type: AgentColumn['type'], rows: AgentColumn['rows']): AgentColumn => ({ number, type, rows });
const scalar = (name: string, oid: string, value: number) => ({ name, oid, type: 'integer' as const, value });

/** Server n's SNMP agent: the data center's server tables (CPU, interface, power) with HOST-RESOURCES storage, ifOutOctets, and WWW-MIB on web servers. */
function serverAgent(n: number): AgentSpec {
  const s = researchServer(n);
  const tables = serverTables(n);
  tables.find((t) => t.name === 'ifEntry')!.columns.push(column(2, 'octets', { 1: 'eth0' }), column(16, 'counter32', { 1: 0 }));
  tables.push({
    name: 'hrStorageEntry',
    entry: mib.hrStorageEntry,
    columns: [
      column(1, 'integer', { 1: 1, 31: 31 }),
      column(2, 'oid', { 1: '1.3.6.1.2.1.25.2.1.2', 31: '1.3.6.1.2.1.25.2.1.4' }), // hrStorageRam, hrStorageFixedDisk
      column(3, 'octets', { 1: 'Physical memory', 31: '/' }),
      column(4, 'integer', { 1: 1024, 31: 4096 }),
      column(5, 'integer', { 1: s.memSize, 31: s.diskSize }),
      column(6, 'integer', { 1: s.memUsed, 31: s.diskUsed }),
    ],
  });
  if (s.web)
    tables.push(
      { name: 'wwwServiceEntry', entry: mib.wwwServiceEntry, columns: [column(2, 'octets', { 1: 'Apache/2.4 (simulated)' }), column(8, 'integer', { 1: 2 })] },
      { name: 'wwwSummaryEntry', entry: mib.wwwSummaryEntry, columns: [1, 4, 6, 8].map((c) => column(c, 'counter32', { 1: 0 })) },
    );
  return { address: s.address, tables };
}

/** The UPS: the data center's UPS-MIB input and output power (the site's draw and its IT load), with output source and charge. */
function upsAgent(): AgentSpec {
  return {
    address: net.ups,
    tables: upsTables(),
    scalars: [scalar('upsOutputSource', mib.upsOutputSource, UPS_SOURCE.normal), scalar('upsSecondsOnBattery', mib.upsSecondsOnBattery, 0), scalar('upsEstimatedChargeRemaining', mib.upsChargeRemaining, 100)],
  };
}

/**
 * Starts network k's hosts: an SNMP agent per server on its own address (port 161), the web
 * server (its first server) answering HTTP on port 80 and counting into its WWW-MIB table, the
 * UPS in network 1, and in the networks read through their switch, the switch (counting the
 * frames on the bridge ports of `bridgeNs`). Interface counters move every second.
 */
export async function startNetworkHosts(o: { network: number; bridgeNs: string; ports: SwitchPort[] }): Promise<NetworkHosts> {
  const numbers = serversOf(o.network);
  const ups = o.network === UPS_NETWORK;
  const sim = await startSnmpAgents([...numbers.map(serverAgent), ...(ups ? [upsAgent()] : [])]);
  const webIndex = numbers.findIndex((n) => researchServer(n).web);
  const webAgent = sim.agents[webIndex]!;
  const stops: Array<() => Promise<void> | void> = [() => sim.close()];
  try {
    const web = await startWebServer({
      address: researchServer(numbers[webIndex]!).address,
      onChange: (s) => {
        webAgent.set('wwwSummaryEntry', 1, 1, s.requests);
        webAgent.set('wwwSummaryEntry', 4, 1, s.responses);
        webAgent.set('wwwSummaryEntry', 6, 1, s.inBytes);
        webAgent.set('wwwSummaryEntry', 8, 1, s.outBytes);
      },
    });
    stops.unshift(() => web.stop());
    let sw: SimulatedSwitch | undefined;
    if (!CAPTURE_NETWORKS.includes(o.network)) {
      sw = await startSwitch({ ns: o.bridgeNs, ports: o.ports, address: net.switch(o.network) });
      stops.unshift(() => sw!.stop());
    }
    const started = Date.now();
    const timer = setInterval(() => {
      const t = (Date.now() - started) / 1000;
      numbers.forEach((n, i) => {
        const s = researchServer(n);
        sim.agents[i]!.set('ifEntry', 10, 1, Math.floor(s.octetsPerS * t));
        sim.agents[i]!.set('ifEntry', 16, 1, Math.floor(s.outOctetsPerS * t));
      });
    }, 1000);
    timer.unref();
    stops.unshift(() => clearInterval(timer));
    const upsAgentOf = () => sim.agents[numbers.length]!;
    return {
      web: () => web.stats(),
      switchCounters: () => sw?.counters() ?? null,
      setUpsOnBattery(on) {
        if (!ups) throw new Error(`network ${o.network} has no UPS (it is in network ${UPS_NETWORK})`);
        upsAgentOf().setScalar('upsOutputSource', on ? UPS_SOURCE.battery : UPS_SOURCE.normal);
        upsAgentOf().setScalar('upsEstimatedChargeRemaining', on ? 97 : 100);
      },
      async stop() {
        for (const s of stops) await s();
      },
    };
  } catch (err) {
    for (const s of stops) await s();
    throw err;
  }
}
