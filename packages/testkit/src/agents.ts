import { createRequire } from 'node:module';
import { freeUdpPort } from './ports.js';

/** One column of a simulated SNMP table: its OID under the entry, and a value per row. */
export interface AgentColumn {
  /** Column number under the table's entry OID (e.g. 2 for hrProcessorLoad under 1.3.6.1.2.1.25.3.3.1). */
  number: number;
  type: 'integer' | 'counter32' | 'gauge32';
  /** Row index → value; changes through `set`. */
  rows: Record<number, number>;
}

/** A table of a simulated agent (entry OID with its columns), e.g. IF-MIB ifEntry. */
export interface AgentTable {
  name: string;
  entry: string;
  columns: AgentColumn[];
}

/** A running simulated SNMP v2c agent (community `public`) on a loopback UDP port. */
export interface SimulatedAgent {
  port: number;
  set(table: string, column: number, row: number, value: number): void;
}

/** Many simulated SNMP agents in this process, one UDP port each. */
export interface SimulatedAgents {
  agents: SimulatedAgent[];
  close(): void;
}

// net-snmp ships no types; this file uses only the calls below.
type NetSnmp = {
  createAgent(o: object, cb: (e: Error | null) => void): { getAuthorizer(): { addCommunity(c: string): void }; getMib(): Mib; close(): void };
  MibProviderType: { Table: number };
  ObjectType: Record<string, number>;
  MaxAccess: Record<string, number>;
  AccessControlModelType: { None: number };
};
type Mib = { registerProvider(p: object): void; addTableRow(name: string, row: number[]): void; setTableSingleCell(name: string, column: number, index: number[], v: number): void };

const objectType = { integer: 'Integer', counter32: 'Counter32', gauge32: 'Gauge32' } as const;

/**
 * Starts one net-snmp agent per spec, each answering its tables (read-only, v2c `public`) on a
 * free 127.0.0.1 UDP port: a whole rack of simulated devices in one process.
 */
export async function startSnmpAgents(specs: ReadonlyArray<AgentTable[]>): Promise<SimulatedAgents> {
  const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmp;
  const agents: Array<SimulatedAgent & { close(): void }> = [];
  try {
    for (const tables of specs) {
      const port = await freeUdpPort();
      const agent = snmp.createAgent({ port, address: '127.0.0.1', accessControlModelType: snmp.AccessControlModelType.None }, (e) => {
        if (e) process.stderr.write(`simulated agent on udp ${port}: ${e.message}\n`);
      });
      agent.getAuthorizer().addCommunity('public');
      const mib = agent.getMib();
      for (const t of tables) {
        const rowIds = [...new Set(t.columns.flatMap((c) => Object.keys(c.rows).map(Number)))].sort((a, b) => a - b);
        const ro = snmp.MaxAccess['read-only'];
        mib.registerProvider({
          name: t.name,
          type: snmp.MibProviderType.Table,
          oid: t.entry,
          tableColumns: [{ number: 0, name: `${t.name}Index`, type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['not-accessible'] }, ...t.columns.map((c) => ({ number: c.number, name: `${t.name}${c.number}`, type: snmp.ObjectType[objectType[c.type]], maxAccess: ro }))],
          tableIndex: [{ columnName: `${t.name}Index` }],
        });
        for (const r of rowIds) mib.addTableRow(t.name, [r, ...t.columns.map((c) => c.rows[r] ?? 0)]);
      }
      agents.push({ port, set: (table, column, row, v) => mib.setTableSingleCell(table, column, [row], v), close: () => agent.close() });
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
