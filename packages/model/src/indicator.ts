import { Type, type Static } from '@sinclair/typebox';
import { Datum, Expr, Id } from './common.js';

const meta = {
  id: Id,
  name: Type.Optional(Type.String({ maxLength: 256 })),
  unit: Type.Optional(Type.String({ maxLength: 32 })),
  description: Type.Optional(Type.String({ maxLength: 2048 })),
};

/**
 * Where an atomic indicator comes from: a connector scheme and that connector's parameters.
 * The parameters are checked against the connector's own schema when the indicator is saved.
 */
export const Source = Type.Unsafe<{ scheme: string } & Record<string, unknown>>(
  Type.Object(
    { scheme: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'connector scheme: snmp, http, icmp, pcap …' }) },
    { additionalProperties: true },
  ),
);
export type Source = Static<typeof Source>;

/** An atomic indicator: (scheme, filter, transform). */
export const AtomicIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('atomic'),
    source: Source,
    filter: Type.Optional(Expr),
    transform: Type.Optional(Expr),
  },
  { additionalProperties: false },
);
export type AtomicIndicator = Static<typeof AtomicIndicator>;

/** A calculated indicator: a formula over other indicators and their history. */
export const CalculatedIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('calculated'),
    formula: Expr,
  },
  { additionalProperties: false },
);
export type CalculatedIndicator = Static<typeof CalculatedIndicator>;

/** A static indicator: a value an administrator sets. */
export const StaticIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('static'),
    value: Datum,
  },
  { additionalProperties: false },
);
export type StaticIndicator = Static<typeof StaticIndicator>;

/** Anything measured (GPI). */
export const Indicator = Type.Union([AtomicIndicator, CalculatedIndicator, StaticIndicator]);
export type Indicator = Static<typeof Indicator>;
