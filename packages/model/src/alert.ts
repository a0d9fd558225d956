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

/** Rule ids under which components raise their own alerts (the store's full disk, the mesh's dead-man): no user rule may take them. */
export const componentRules = { store: 'store', mesh: 'mesh' } as const;

/** Names of the alert sinks a probe adds itself (the mesh's JetStream sink): no configured sink may take them. */
export const builtinSinks = { jetstream: 'jetstream' } as const;
