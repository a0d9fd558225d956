import { Type, type Static } from '@sinclair/typebox';
import { Datum, Id, Severity, Timestamp } from './common.js';

export const AlertState = Type.Union([Type.Literal('firing'), Type.Literal('resolved')]);
export type AlertState = Static<typeof AlertState>;

/** What a decision raised, once when it starts holding and once when it stops. */
export const Alert = Type.Object(
  {
    id: Type.String({ description: 'stable per (probe, rule, decision, device): firing and resolved share it' }),
    probe: Id,
    rule: Id,
    decision: Id,
    indicator: Type.Optional(Id),
    device: Type.Optional(Id),
    value: Type.Optional(Datum),
    threshold: Type.Optional(Type.Number()),
    severity: Severity,
    state: AlertState,
    message: Type.String(),
    since: Timestamp,
    ts: Timestamp,
  },
  { additionalProperties: false },
);
export type Alert = Static<typeof Alert>;
