/** @probemesh/connector-snmp — SNMP v1/v2c/v3: batched GETs, walks as rows, MIB names. */
export { createSnmpConnector, snmpConnector, mibDirsFromEnv, type SnmpConnectorOptions } from './connector.js';
export { SnmpParams, SnmpDevice, SnmpUser, OidText } from './schema.js';
export { MibResolver, bundledMibDir, type MibLoadReport } from './mib.js';
export { counter64, decode, octets } from './datum.js';
export { containedDgram, type DgramModule } from './dgram.js';
export { snmpConnector as default } from './connector.js';
