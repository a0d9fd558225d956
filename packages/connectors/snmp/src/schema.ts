import { Type, type Static } from '@probemesh/model';

/** A numeric OID ("1.3.6.1.2.1.1.3.0", a leading dot allowed) or a MIB name ("IF-MIB::ifInOctets", "sysUpTime.0"). */
export const OidText = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^(\\.?[0-9]+(\\.[0-9]+)+|([A-Za-z][A-Za-z0-9-]*::)?[A-Za-z][A-Za-z0-9-]*(\\.[0-9]+)*)$',
  description: 'numeric OID, or a MIB name: MODULE::object[.index] or object[.index]',
});

/** Parameters of an snmp indicator (`indicator.source` without `scheme`). */
export const SnmpParams = Type.Object(
  {
    oid: OidText,
    walk: Type.Optional(Type.Boolean({ description: 'table mode: read every instance under `oid` (a column or subtree), one sample per row, instance = index suffix' })),
    instanceFrom: Type.Optional(OidText),
    maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'walk: fail instead of reading more rows than this (default 10000)' })),
  },
  { additionalProperties: false },
);
export type SnmpParams = Static<typeof SnmpParams>;

/** An SNMPv3 user (USM). */
export const SnmpUser = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 32 }),
    level: Type.Union([Type.Literal('noAuthNoPriv'), Type.Literal('authNoPriv'), Type.Literal('authPriv')]),
    authProtocol: Type.Optional(
      Type.Union([Type.Literal('MD5'), Type.Literal('SHA'), Type.Literal('SHA-224'), Type.Literal('SHA-256'), Type.Literal('SHA-384'), Type.Literal('SHA-512')]),
    ),
    authKey: Type.Optional(Type.String({ minLength: 8, maxLength: 256, description: 'at least 8 characters (RFC 3414)' })),
    privProtocol: Type.Optional(Type.Union([Type.Literal('DES'), Type.Literal('AES'), Type.Literal('AES-256-B'), Type.Literal('AES-256-R')])),
    privKey: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type SnmpUser = Static<typeof SnmpUser>;

/** A device's SNMP settings (`device.protocols.snmp`). Absent: v2c, community "public", port 161. */
export const SnmpDevice = Type.Object(
  {
    version: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('2c'), Type.Literal('3'), Type.Literal(1), Type.Literal(2), Type.Literal(3)], { description: '"1", "2c" or "3" (default "2c")' })),
    community: Type.Optional(Type.String({ maxLength: 256, description: 'v1/v2c community (default "public")' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    user: Type.Optional(SnmpUser),
    context: Type.Optional(Type.String({ maxLength: 256, description: 'v3 context name' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000, description: 'per try (default 2000)' })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'extra tries after a timeout (default 1)' })),
    maxRepetitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'GetBulk max-repetitions for walks (default 25)' })),
  },
  { additionalProperties: false },
);
export type SnmpDevice = Static<typeof SnmpDevice>;
