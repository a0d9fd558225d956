import type { Connector } from '@probemesh/core';

/**
 * The connectors this probe is built with. Each is a package of its own; adding a scheme means
 * adding it here, never touching the core. One that cannot load (a native addon not built for
 * this machine) is reported through `warn` and left out; the others still work.
 */
export async function builtinConnectors(warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<Connector[]> {
  const loads: Array<[string, () => Promise<Connector[]>]> = [
    ['snmp', () => import('@probemesh/connector-snmp').then((m) => [m.snmpConnector as Connector])],
    ['http', () => import('@probemesh/connector-http').then((m) => Object.values(m as Record<string, unknown>).filter(isConnector))],
    ['icmp', () => import('@probemesh/connector-icmp').then((m) => [m.icmpConnector as Connector])],
    ['syslog', () => import('@probemesh/connector-syslog').then((m) => [m.syslogConnector as Connector])],
    ['trap', () => import('@probemesh/connector-trap').then((m) => [m.trapConnector as Connector])],
    ['pcap', () => import('@probemesh/connector-pcap').then((m) => [m.pcapConnector as Connector])],
  ];
  const settled = await Promise.allSettled(loads.map(([, load]) => load()));
  return settled.flatMap((r, i) => {
    if (r.status === 'fulfilled') return r.value;
    warn(`connector ${loads[i]![0]} not available: ${(r.reason as Error).message}`);
    return [];
  });
}

function isConnector(x: unknown): x is Connector {
  return typeof x === 'object' && x !== null && 'scheme' in x && 'start' in x && 'params' in x;
}
