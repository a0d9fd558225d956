// Simulated SNMP agents for load runs, spread over processes of their own so that they are not
// what a benchmark measures. Each agent answers GET, GETNEXT and GETBULK (v1/v2c, any community)
// from varbinds encoded once at start: testkit's net-snmp agents sort a column's rows on every
// GETNEXT step (~0.1 ms per value at 800 rows), which at 100,000 sensors every 10 s would need a
// whole core of their own.
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { int, oid, PDU, readMessage, seq, tlv } from '@probemesh/connector-snmp/internal';
import type { AgentTable, AgentType } from '@probemesh/testkit';
import { cpuSeconds } from './proc.js';

/** BER tags of the SNMP value types a simulated column holds. */
const TAG: Record<AgentType, number> = { integer: 0x02, octets: 0x04, oid: 0x06, counter32: 0x41, gauge32: 0x42, timeticks: 0x43 };
const NO_SUCH_INSTANCE = Buffer.from([0x81, 0]);
const END_OF_MIB_VIEW = Buffer.from([0x82, 0]);
/** A GETBULK answer stops below this size (a UDP datagram holds 65,507 bytes). */
const MAX_ANSWER = 60_000;

type Arcs = number[];
const arcsOf = (text: string): Arcs => text.split('.').map(Number);
function compare(a: Arcs, b: Arcs): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function encode(type: AgentType, v: number | string): Buffer {
  if (type === 'octets') return tlv(TAG.octets, Buffer.from(String(v)));
  if (type === 'oid') return oid(String(v));
  const b = int(Number(v));
  b[0] = TAG[type];
  return b;
}

/** The objects of an agent in OID order, each with its varbind encoded. */
function objects(tables: readonly AgentTable[]): Array<{ arcs: Arcs; text: string; varbind: Buffer }> {
  const out: Array<{ arcs: Arcs; text: string; varbind: Buffer }> = [];
  for (const t of tables)
    for (const c of t.columns)
      for (const [row, v] of Object.entries(c.rows)) {
        const text = `${t.entry}.${c.number}.${row}`;
        out.push({ arcs: arcsOf(text), text, varbind: seq(oid(text), encode(c.type, v)) });
      }
  return out.sort((a, b) => compare(a.arcs, b.arcs));
}

/** Answers requests on `socket` from `tables` (read-only, values fixed). */
export function answer(socket: Socket, tables: readonly AgentTable[]): void {
  const objs = objects(tables);
  const byOid = new Map(objs.map((o) => [o.text, o.varbind]));
  /** Index of the first object after `arcs`. */
  const after = (arcs: Arcs) => {
    let lo = 0;
    let hi = objs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(objs[mid]!.arcs, arcs) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const next = (text: string, at = after(arcsOf(text))) => objs[at]?.varbind ?? seq(oid(text), END_OF_MIB_VIEW);
  socket.on('message', (buf, from) => {
    let m: ReturnType<typeof readMessage>;
    try {
      m = readMessage(buf);
    } catch {
      return; // not a request this agent reads: a real agent drops it too
    }
    const varbinds: Buffer[] = [];
    if (m.pdu === PDU.get) for (const o of m.oids) varbinds.push(byOid.get(o) ?? seq(oid(o), NO_SUCH_INSTANCE));
    else if (m.pdu === PDU.getNext) for (const o of m.oids) varbinds.push(next(o));
    else if (m.pdu === PDU.getBulk) {
      const nonRepeaters = Math.min(m.nonRepeaters, m.oids.length);
      for (const o of m.oids.slice(0, nonRepeaters)) varbinds.push(next(o));
      // One repeated OID is what a walk asks; each repetition is the next object in order.
      let size = 0;
      for (const o of m.oids.slice(nonRepeaters)) {
        let at = after(arcsOf(o));
        for (let r = 0; r < m.maxRepetitions && size < MAX_ANSWER; r++, at++) {
          const vb = next(o, at);
          varbinds.push(vb);
          size += vb.length;
          if (at >= objs.length) break;
        }
      }
    } else return;
    const pdu = tlv(PDU.response, Buffer.concat([int(m.requestId), int(0), int(0), tlv(0x30, Buffer.concat(varbinds))]));
    socket.send(seq(int(m.version), tlv(0x04, Buffer.from(m.community)), pdu), from.port, from.address);
  });
}

/** Agents running in processes of their own. */
export interface AgentFleet {
  /** The UDP port of each agent, in the order of the specs. */
  ports: number[];
  /** CPU seconds the agent processes used since they started. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** A message from an agent process: the ports it listens on, in the order it was given its tables. */
export type AgentsReady = { ports: number[] };

const main = fileURLToPath(new URL('./agents-main.ts', import.meta.url));

/** Starts one agent per entry of `specs` on 127.0.0.1, spread over `processes` processes. */
export async function startAgents(specs: ReadonlyArray<readonly AgentTable[]>, processes: number): Promise<AgentFleet> {
  const children: ChildProcess[] = [];
  const ports: number[] = new Array(specs.length);
  const stop = async () => {
    await Promise.all(
      children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise<void>((r) => (c.once('exit', () => r()), c.kill('SIGTERM'))))),
    );
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(processes, specs.length) }, (_, k) => {
        const mine = specs.map((_, i) => i).filter((i) => i % processes === k);
        const child = fork(main, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        return new Promise<void>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`agent process ${k} exited with ${code} before it was ready`)));
          child.once('message', (m: AgentsReady) => {
            m.ports.forEach((p, j) => (ports[mine[j]!] = p));
            resolve();
          });
          child.send(mine.map((i) => specs[i]));
        });
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, cpuSeconds: () => children.reduce((s, c) => s + cpuSeconds(c.pid!), 0), stop };
}

/** Binds one socket per agent on 127.0.0.1 (a free port each) and answers from its tables. */
export async function listen(agents: ReadonlyArray<readonly AgentTable[]>): Promise<{ ports: number[]; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  for (const tables of agents) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => (s.once('error', reject), s.bind(0, '127.0.0.1', () => resolve())));
    s.setRecvBufferSize(4 * 1024 * 1024);
    answer(s, tables);
    sockets.push(s);
  }
  return { ports: sockets.map((s) => s.address().port), sockets };
}
