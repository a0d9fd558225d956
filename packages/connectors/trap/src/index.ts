/** @probemesh/connector-trap — an SNMP v1/v2c/v3 trap and inform receiver; traps become counts and values. */
export { createTrapConnector, trapConnector, type TrapConnectorOptions } from './connector.js';
export { TrapParams, TrapMeasure } from './schema.js';
export { toTrap, v1TrapOid, datumOf, SNMP_TRAP_OID, SNMP_TRAP_ADDRESS, type Trap } from './notification.js';
export { trapConnector as default } from './connector.js';
