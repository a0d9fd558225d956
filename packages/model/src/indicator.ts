import { Type, type Static } from '@sinclair/typebox';
import { Datum, Expr, idOf, described } from './common.js';

const meta = {
  id: idOf('the indicator, as rules, formulas and queries name it'),
  name: Type.Optional(Type.String({ maxLength: 256, description: 'a name for people' })),
  unit: Type.Optional(Type.String({ maxLength: 32, description: 'unit of its values, e.g. W, %, bit/s (shown, not converted)' })),
  description: Type.Optional(Type.String({ maxLength: 2048, description: 'what it measures, for people' })),
};

/**
 * Where an atomic indicator comes from: a connector scheme and that connector's parameters.
 * The parameters are checked against the connector's own schema when the indicator is saved.
 */
export const Source = Type.Unsafe<{ scheme: string } & Record<string, unknown>>(
  Type.Object(
    { scheme: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'connector scheme: snmp, http, icmp, pcap …' }) },
    { additionalProperties: true, description: "the connector's scheme and its parameters (see the connector's section)" },
  ),
);
export type Source = Static<typeof Source>;

/** An atomic indicator: (scheme, filter, transform). */
export const AtomicIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('atomic', { description: 'read from devices through a connector' }),
    source: Source,
    filter: Type.Optional(described(Expr, 'an expression over `value`: a reading is kept only when it holds')),
    transform: Type.Optional(described(Expr, 'an expression that turns `value` into what is stored, e.g. value * 1000, rate(value) * 8')),
  },
  { additionalProperties: false },
);
export type AtomicIndicator = Static<typeof AtomicIndicator>;

/** A calculated indicator: a formula over other indicators and their history. */
export const CalculatedIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('calculated', { description: "computed from other indicators whenever those its rule reads have new readings: each round for ordinary readings, once per merged window (under the window's start) for mesh figures" }),
    formula: described(Expr, 'an expression over other indicators (name@device for one device) and window functions, e.g. facility_power@meter / it_power, mean(pue, "15m")'),
  },
  { additionalProperties: false },
);
export type CalculatedIndicator = Static<typeof CalculatedIndicator>;

/** A static indicator: a value an administrator sets. */
export const StaticIndicator = Type.Object(
  {
    ...meta,
    kind: Type.Literal('static', { description: 'a value an administrator sets' }),
    value: described(Datum, 'a number or a text'),
  },
  { additionalProperties: false },
);
export type StaticIndicator = Static<typeof StaticIndicator>;

/** Anything measured (GPI). */
export const Indicator = Type.Union([AtomicIndicator, CalculatedIndicator, StaticIndicator]);
export type Indicator = Static<typeof Indicator>;
