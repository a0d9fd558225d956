import { createRequire } from 'node:module';
import { freeUdpPort } from './ports.js';

/** What a simulated object holds: a number (integers, counters, gauges, timeticks) or text (octets, OIDs). */
export type AgentValue = number | string;

/** SNMP types a simulated object can have. Counter32 values wrap at 2^32 as real counters do. */
export type AgentType = 'integer' | 'counter32' | 'gauge32' | 'timeticks' | 'octets' | 'oid';

/** One column of a simulated SNMP table: its OID under the entry, and a value per row. */
export interface AgentColumn {
  /** Column number under the table's entry OID (e.g. 2 for hrProcessorLoad under 1.3.6.1.2.1.25.3.3.1). */
  number: number;
  type: AgentType;
  /** Row index → value; changes through `set`. */
  rows: Record<number, AgentValue>;
}

/** A table of a simulated agent (entry OID with its columns), e.g. IF-MIB ifEntry. */
export interface AgentTable {
  name: string;
  entry: string;
  columns: AgentColumn[];
}

/** A scalar of a simulated agent, answered at `oid`.0 (e.g. UPS-MIB upsOutputSource). */
export interface AgentScalar {
  name: string;
  /** The object's OID without the trailing `.0`. */
  oid: string;
  type: AgentType;
  value: AgentValue;
}

/** One simulated device: where it listens (default: a free 127.0.0.1 port) and what it answers. */
export interface AgentSpec {
  /** Address to bind (default 127.0.0.1); with an address and no port the agent takes 161. */
  address?: string;
  port?: number;
  tables?: AgentTable[];
  scalars?: AgentScalar[];
}

/** A running simulated SNMP v2c agent (community `public`). */
export interface SimulatedAgent {
  address: string;
  port: number;
  set(table: string, column: number, row: number, value: AgentValue): void;
  setScalar(name: string, value: AgentValue): void;
}

/** Many simulated SNMP agents in this process, one UDP socket each. */
export interface SimulatedAgents {
  agents: SimulatedAgent[];
  close(): void;
}

// net-snmp ships no types; this file uses only the calls below.
type NetSnmp = {
  createAgent(o: object, cb: (e: Error | null) => void): { getAuthorizer(): { addCommunity(c: string): void }; getMib(): Mib; close(): void };
  MibProviderType: { Table: number; Scalar: number };
  ObjectType: Record<string, number>;
  MaxAccess: Record<string, number>;
  AccessControlModelType: { None: number };
};
type Mib = {
  registerProvider(p: object): void;
  addTableRow(name: string, row: AgentValue[]): void;
  setTableSingleCell(name: string, column: number, index: number[], v: AgentValue): void;
  setScalarValue(name: string, v: AgentValue): void;
};

const objectType = { integer: 'Integer', counter32: 'Counter32', gauge32: 'Gauge32', timeticks: 'TimeTicks', octets: 'OctetString', oid: 'OID' } as const;
const wrap = (type: AgentType, v: AgentValue): AgentValue => (type === 'counter32' && typeof v === 'number' ? ((Math.floor(v) % 2 ** 32) + 2 ** 32) % 2 ** 32 : v);
const blank = (type: AgentType): AgentValue => (type === 'octets' ? '' : type === 'oid' ? '0.0' : 0);

/**
 * Starts one net-snmp agent per spec, each answering its tables and scalars (read-only, v2c
 * `public`): a whole rack of simulated devices in one process. A spec that is a list of tables
 * listens on a free 127.0.0.1 port.
 */
export async function startSnmpAgents(specs: ReadonlyArray<AgentTable[] | AgentSpec>): Promise<SimulatedAgents> {
  const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmp;
  const agents: Array<SimulatedAgent & { close(): void }> = [];
  const ro = snmp.MaxAccess['read-only'];
  try {
    for (const s of specs) {
      const spec: AgentSpec = Array.isArray(s) ? { tables: s } : s;
      const address = spec.address ?? '127.0.0.1';
      const port = spec.port ?? (spec.address ? 161 : await freeUdpPort());
      const agent = snmp.createAgent({ port, address, accessControlModelType: snmp.AccessControlModelType.None }, (e) => {
        if (e) process.stderr.write(`simulated agent on udp ${address}:${port}: ${e.message}\n`);
      });
      agent.getAuthorizer().addCommunity('public');
      const mib = agent.getMib();
      const types = new Map<string, AgentType>();
      for (const table of spec.tables ?? []) {
        const t = { ...table, columns: [...table.columns].sort((a, b) => a.number - b.number) }; // MIB order, whatever order the caller built them in
        const rowIds = [...new Set(t.columns.flatMap((c) => Object.keys(c.rows).map(Number)))].sort((a, b) => a - b);
        mib.registerProvider({
          name: t.name,
          type: snmp.MibProviderType.Table,
          oid: t.entry,
          tableColumns: [{ number: 0, name: `${t.name}Index`, type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['not-accessible'] }, ...t.columns.map((c) => ({ number: c.number, name: `${t.name}${c.number}`, type: snmp.ObjectType[objectType[c.type]], maxAccess: ro }))],
          tableIndex: [{ columnName: `${t.name}Index` }],
        });
        for (const c of t.columns) types.set(`${t.name}\u0000${c.number}`, c.type);
        for (const r of rowIds) mib.addTableRow(t.name, [r, ...t.columns.map((c) => wrap(c.type, c.rows[r] ?? blank(c.type)))]);
      }
      for (const sc of spec.scalars ?? []) {
        mib.registerProvider({ name: sc.name, type: snmp.MibProviderType.Scalar, oid: sc.oid, scalarType: snmp.ObjectType[objectType[sc.type]], maxAccess: ro });
        mib.setScalarValue(sc.name, wrap(sc.type, sc.value));
        types.set(sc.name, sc.type);
      }
      agents.push({
        address,
        port,
        set: (table, column, row, v) => mib.setTableSingleCell(table, column, [row], wrap(types.get(`${table}\u0000${column}`) ?? 'integer', v)),
        setScalar: (name, v) => mib.setScalarValue(name, wrap(types.get(name) ?? 'integer', v)),
        close: () => agent.close(),
      });
    }
  } catch (err) {
    for (const a of agents) a.close();
    throw err;
  }
  return {
    agents,
    close: () => {
      for (const a of agents) a.close();
    },
  };
}
