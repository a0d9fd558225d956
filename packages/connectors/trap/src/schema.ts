import { OidText, SnmpUser } from '@probemesh/connector-snmp';
import { Type, type Static } from '@probemesh/model';


/** What a trap indicator reports at each read. */
export const TrapMeasure = Type.Union([Type.Literal('count'), Type.Literal('last_value'), Type.Literal('last_trap_oid'), Type.Literal('rejects'), Type.Literal('kernel_drops')], {
  description:
    'count: matching traps and informs since the previous read; last_value: the `varbind` of the newest matching trap; ' +
    'last_trap_oid: the trap OID of the newest matching trap; rejects: datagrams the listener refused since the previous read (bad community or user, garbage); ' +
    'kernel_drops: datagrams the kernel dropped on the listener\'s socket since the previous read (the probe did not read them fast enough)',
});
export type TrapMeasure = Static<typeof TrapMeasure>;

/** Parameters of a trap indicator (`indicator.source` without `scheme`): where to listen, who may send, which traps count. */
export const TrapParams = Type.Object(
  {
    measure: TrapMeasure,
    // The listener. Indicators naming the same address and port share one receiver.
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'UDP port to listen on (default 162; below 1024 needs root or CAP_NET_BIND_SERVICE)' })),
    address: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 64,
        pattern: '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$',
        description: 'IPv4 or IPv6 address to bind (default 127.0.0.1; 0.0.0.0 or :: to hear the network)',
      }),
    ),
    communities: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 64, uniqueItems: true, description: 'v1/v2c communities this indicator accepts (default ["public"]; [] for v3 only)' }),
    ),
    users: Type.Optional(Type.Array(SnmpUser, { maxItems: 64, description: 'SNMPv3 USM users this indicator accepts' })),
    engineID: Type.Optional(
      Type.String({
        pattern: '^(0x)?([0-9A-Fa-f]{2}){5,32}$',
        description: "the receiver's SNMPv3 engine ID in hex (5-32 octets): informs are sent to it after discovery; default a random one per listener",
      }),
    ),
    // Which traps count.
    trapOid: Type.Optional({ ...OidText, description: 'only traps with this trap OID (numeric or a MIB name such as IF-MIB::linkDown); v1 traps are matched by their RFC 3584 v2 trap OID' } as typeof OidText),
    agent: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 64,
        pattern: '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$',
        description: 'only traps from this agent: the v1 agent-addr, else snmpTrapAddress.0, else the UDP source',
      }),
    ),
    varbind: Type.Optional({ ...OidText, description: 'only traps carrying a varbind at or under this OID; last_value reports the first such varbind' } as typeof OidText),
  },
  {
    additionalProperties: false,
    description: 'An SNMP trap/inform listener (address, port, who may send) and a selection of its traps (trap OID, agent, varbind)',
  },
);
export type TrapParams = Static<typeof TrapParams>;
