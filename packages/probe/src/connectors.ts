import type { Connector } from '@probemesh/core';

/**
 * The connectors this probe is built with. Each is a package of its own; adding a scheme means
 * adding it here, never touching the core.
 */
export async function builtinConnectors(): Promise<Connector[]> {
  const mods = await Promise.all([
    import('@probemesh/connector-snmp').then((m) => [m.snmpConnector]),
    import('@probemesh/connector-http').then((m) => Object.values(m).filter(isConnector)),
    import('@probemesh/connector-icmp').then((m) => [m.icmpConnector]),
    import('@probemesh/connector-syslog').then((m) => [m.syslogConnector]),
    import('@probemesh/connector-trap').then((m) => [m.trapConnector]),
  ]);
  return mods.flat() as Connector[];
}

function isConnector(x: unknown): x is Connector {
  return typeof x === 'object' && x !== null && 'scheme' in x && 'start' in x && 'params' in x;
}
