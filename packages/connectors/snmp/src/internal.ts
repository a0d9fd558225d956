/** @probemesh/connector-snmp/internal — for sibling packages' tests and benches: crafted SNMP datagrams. */
export { tlv, int, oid, seq, PDU, v2cMessage, readMessage, type ReadMessage } from './craft.js';
