import { decode } from '@probemesh/connector-snmp';
import type { Datum } from '@probemesh/model';
import type { Notification, Varbind } from 'net-snmp';
import snmp from 'net-snmp';

/** snmpTrapOID.0: the varbind naming a v2 notification. */
export const SNMP_TRAP_OID = '1.3.6.1.6.3.1.1.4.1.0';
/** snmpTrapAddress.0 (RFC 3584): the original agent's address, added by proxies and v1 → v2 translation. */
export const SNMP_TRAP_ADDRESS = '1.3.6.1.6.3.18.1.3.0';
/** The generic traps (coldStart … egpNeighborLoss) sit under snmpTraps as .1 … .6. */
const SNMP_TRAPS = '1.3.6.1.6.3.1.1.5';

/** A received trap or inform, the same shape whatever the SNMP version. */
export interface Trap {
  version: 1 | 2 | 3;
  /** The v2 trap OID (a v1 trap's per RFC 3584 3.1). */
  oid: string;
  /** The agent the trap speaks for: v1 agent-addr, else snmpTrapAddress.0, else the UDP source. */
  agent: string;
  /** The UDP source address. */
  source: string;
  /** The community (v1/v2c) or the USM user name (v3) it was accepted with. */
  community?: string;
  user?: string;
  varbinds: Varbind[];
  inform: boolean;
}

/** The v2 trap OID of a v1 trap (RFC 3584 3.1): snmpTraps.(generic+1), or enterprise.0.specific. */
export function v1TrapOid(enterprise: string, generic: number, specific: number): string {
  return generic >= 0 && generic < 6 ? `${SNMP_TRAPS}.${generic + 1}` : `${enterprise}.0.${specific}`;
}

/** Normalises a notification from net-snmp's receiver; undefined when it names no trap OID (a malformed v2 trap). */
export function toTrap(n: Notification): Trap | undefined {
  const { pdu, rinfo } = n;
  const who = pdu.community !== undefined ? { community: pdu.community } : pdu.user !== undefined ? { user: pdu.user } : {};
  if (pdu.type === snmp.PduType.Trap) {
    return {
      version: 1,
      oid: v1TrapOid(pdu.enterprise ?? '', pdu.generic ?? 6, pdu.specific ?? 0),
      agent: pdu.agentAddr && pdu.agentAddr !== '0.0.0.0' ? pdu.agentAddr : rinfo.address,
      source: rinfo.address,
      ...who,
      varbinds: pdu.varbinds,
      inform: false,
    };
  }
  const oid = pdu.varbinds.find((vb) => vb.oid === SNMP_TRAP_OID)?.value;
  if (typeof oid !== 'string') return undefined;
  const address = pdu.varbinds.find((vb) => vb.oid === SNMP_TRAP_ADDRESS)?.value;
  return {
    version: pdu.user !== undefined ? 3 : 2,
    oid,
    agent: typeof address === 'string' ? address : rinfo.address,
    source: rinfo.address,
    ...who,
    varbinds: pdu.varbinds,
    inform: pdu.type === snmp.PduType.InformRequest,
  };
}

/** Whether `oid` is `base` or lies under it. */
export function under(base: string, oid: string): boolean {
  return oid === base || (oid.length > base.length && oid.startsWith(base) && oid.charCodeAt(base.length) === 46 /* . */);
}

/** A varbind's value as a datum (the snmp connector's decoding); undefined for NULL and exceptions. */
export function datumOf(vb: Varbind): Datum | undefined {
  const d = decode(vb);
  return d.ok ? d.datum : undefined;
}
