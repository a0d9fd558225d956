import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startSnmpAgents, type AgentTable, type SimulatedAgent, type SimulatedAgents } from './agents.js';

/** OIDs of the tables a simulated switch answers (entries; column numbers as in the MIBs). */
export const switchMib = {
  /** IF-MIB ifEntry: 10 ifInOctets, 11 ifInUcastPkts, 12 ifInNUcastPkts, 16 ifOutOctets, 17 ifOutUcastPkts, 18 ifOutNUcastPkts. */
  ifEntry: '1.3.6.1.2.1.2.2.1',
  /** IF-MIB ifXEntry: 1 ifName, 2 ifInMulticastPkts, 3 ifInBroadcastPkts, 4 ifOutMulticastPkts, 5 ifOutBroadcastPkts, 15 ifHighSpeed. */
  ifXEntry: '1.3.6.1.2.1.31.1.1.1',
  /** RMON-MIB etherStatsEntry: 4 Octets, 5 Pkts, 6 BroadcastPkts, 7 MulticastPkts, 14–19 size buckets 64 … 1024–1518. */
  etherStatsEntry: '1.3.6.1.2.1.16.1.1.1',
} as const;

/** One port of the switch: a bridge port (an interface inside the switch's namespace). */
export interface SwitchPort {
  /** What is attached (ifDescr, ifName). */
  name: string;
  iface: string;
}

/** Frames seen in one direction of a port. Octets count the 4-byte FCS and pad short frames to 64, as on the wire. */
export interface DirectionCounters {
  packets: number;
  octets: number;
  broadcast: number;
  multicast: number;
  /** Frames of 64, 65–127, 128–255, 256–511, 512–1023, 1024–1518 octets. */
  sizes: [number, number, number, number, number, number];
}

/** Counters of one port: `in` is what the switch received on it, `out` what it sent out of it. */
export interface PortCounters {
  name: string;
  in: DirectionCounters;
  out: DirectionCounters;
}

export interface SwitchOptions {
  /** The namespace whose bridge ports are the switch's ports. */
  ns: string;
  ports: SwitchPort[];
  /** Management address the switch's SNMP agent answers on (port 161). */
  address: string;
  /** Port speed in Mbit/s (default 1000). */
  speedMbps?: number;
}

/** A running simulated switch. */
export interface SimulatedSwitch {
  agent: SimulatedAgent;
  counters(): PortCounters[];
  stop(): Promise<void>;
}

const FCS = 4;
const BUCKETS = [64, 127, 255, 511, 1023, Infinity];
const zero = (): DirectionCounters => ({ packets: 0, octets: 0, broadcast: 0, multicast: 0, sizes: [0, 0, 0, 0, 0, 0] });
const LINE = /^([0-9a-f]{2}(?::[0-9a-f]{2}){5}) > ([0-9a-f]{2}(?::[0-9a-f]{2}){5}),.*?length (\d+)/;

function count(c: DirectionCounters, dst: string, length: number): void {
  const octets = Math.max(60, length) + FCS;
  c.packets++;
  c.octets += octets;
  if (dst === 'ff:ff:ff:ff:ff:ff') c.broadcast++;
  else if (parseInt(dst.slice(0, 2), 16) & 1) c.multicast++;
  c.sizes[BUCKETS.findIndex((b) => octets <= b)]!++;
}

/** Watches one direction of one interface with tcpdump (inside `ns`); resolves once it listens. */
function watch(ns: string, iface: string, dir: 'in' | 'out', onFrame: (dst: string, length: number) => void): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-Q', dir, '-e', '-nn', '-t', '-l', '--immediate-mode', '-s', '64'], { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = LINE.exec(l);
    if (m) onFrame(m[2]!, Number(m[3]));
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b;
      if (err.includes('listening on')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`tcpdump on ${iface} in ${ns} exited with ${code}: ${err.trim()}`)));
  });
}

/**
 * A switch whose counters are real: tcpdump watches each bridge port in both directions and
 * every frame is counted as a switch ASIC would (broadcast, multicast, size bucket, octets with
 * FCS). Its SNMP agent answers IF-MIB ifTable/ifXTable and RMON etherStatsTable (one row per
 * port, counting the frames received on it), updated ten times a second.
 */
export async function startSwitch(o: SwitchOptions): Promise<SimulatedSwitch> {
  const counters: PortCounters[] = o.ports.map((p) => ({ name: p.name, in: zero(), out: zero() }));
  const speed = o.speedMbps ?? 1000;
  const rows = <T>(f: (c: PortCounters, i: number) => T) => Object.fromEntries(counters.map((c, i) => [i + 1, f(c, i)]));
  const tables: AgentTable[] = [
    {
      name: 'ifEntry',
      entry: switchMib.ifEntry,
      columns: [
        { number: 1, type: 'integer', rows: rows((_, i) => i + 1) },
        { number: 2, type: 'octets', rows: rows((c) => c.name) },
        { number: 3, type: 'integer', rows: rows(() => 6) }, // ethernetCsmacd
        { number: 4, type: 'integer', rows: rows(() => 1500) },
        { number: 5, type: 'gauge32', rows: rows(() => Math.min(2 ** 32 - 1, speed * 1e6)) },
        { number: 7, type: 'integer', rows: rows(() => 1) },
        { number: 8, type: 'integer', rows: rows(() => 1) },
        ...[10, 11, 12, 13, 14, 16, 17, 18, 19, 20].map((number) => ({ number, type: 'counter32' as const, rows: rows(() => 0) })),
      ],
    },
    {
      name: 'ifXEntry',
      entry: switchMib.ifXEntry,
      columns: [{ number: 1, type: 'octets', rows: rows((c) => c.name) }, ...[2, 3, 4, 5].map((number) => ({ number, type: 'counter32' as const, rows: rows(() => 0) })), { number: 15, type: 'gauge32', rows: rows(() => speed) }],
    },
    {
      name: 'etherStatsEntry',
      entry: switchMib.etherStatsEntry,
      columns: [
        { number: 1, type: 'integer', rows: rows((_, i) => i + 1) },
        { number: 2, type: 'oid', rows: rows((_, i) => `1.3.6.1.2.1.2.2.1.1.${i + 1}`) },
        ...[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((number) => ({ number, type: 'counter32' as const, rows: rows(() => 0) })),
        { number: 20, type: 'octets', rows: rows(() => 'probemesh') },
        { number: 21, type: 'integer', rows: rows(() => 1) }, // valid
      ],
    },
  ];
  const sim: SimulatedAgents = await startSnmpAgents([{ address: o.address, tables }]);
  const agent = sim.agents[0]!;
  let dirty = false;
  const watchers: ChildProcess[] = [];
  try {
    for (const [i, p] of o.ports.entries())
      for (const dir of ['in', 'out'] as const)
        watchers.push(
          await watch(o.ns, p.iface, dir, (dst, length) => {
            count(counters[i]![dir], dst, length);
            dirty = true;
          }),
        );
  } catch (err) {
    for (const w of watchers) w.kill();
    sim.close();
    throw err;
  }
  const publish = () => {
    if (!dirty) return;
    dirty = false;
    counters.forEach((c, i) => {
      const row = i + 1;
      const set = (table: string, column: number, v: number) => agent.set(table, column, row, v);
      set('ifEntry', 10, c.in.octets);
      set('ifEntry', 11, c.in.packets - c.in.broadcast - c.in.multicast);
      set('ifEntry', 12, c.in.broadcast + c.in.multicast);
      set('ifEntry', 16, c.out.octets);
      set('ifEntry', 17, c.out.packets - c.out.broadcast - c.out.multicast);
      set('ifEntry', 18, c.out.broadcast + c.out.multicast);
      set('ifXEntry', 2, c.in.multicast);
      set('ifXEntry', 3, c.in.broadcast);
      set('ifXEntry', 4, c.out.multicast);
      set('ifXEntry', 5, c.out.broadcast);
      set('etherStatsEntry', 4, c.in.octets);
      set('etherStatsEntry', 5, c.in.packets);
      set('etherStatsEntry', 6, c.in.broadcast);
      set('etherStatsEntry', 7, c.in.multicast);
      c.in.sizes.forEach((n, b) => set('etherStatsEntry', 14 + b, n));
    });
  };
  const timer = setInterval(publish, 100);
  timer.unref();
  return {
    agent,
    counters: () => {
      publish();
      return structuredClone(counters);
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(watchers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : (w.once('exit', r), w.kill())))));
      sim.close();
    },
  };
}
