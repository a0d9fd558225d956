import { Type, type Static } from '@sinclair/typebox';
import { Id, Timestamp } from './common.js';

/** A mergeable partial aggregate a delegated probe owes its coordinator for one window. */
export const PartialAggregate = Type.Object(
  {
    probe: Id,
    indicator: Id,
    group: Type.String({ maxLength: 128, description: 'device group the window covers (e.g. a network); "" for all' }),
    windowStart: Timestamp,
    windowEnd: Timestamp,
    count: Type.Integer({ minimum: 0 }),
    sum: Type.Number(),
    min: Type.Number(),
    max: Type.Number(),
    devices: Type.Optional(Type.Integer({ minimum: 0, description: 'how many distinct devices reported in the window' })),
  },
  { additionalProperties: false },
);
export type PartialAggregate = Static<typeof PartialAggregate>;

export const Role = Type.Union([Type.Literal('standalone'), Type.Literal('delegated'), Type.Literal('coordinator')]);
export type Role = Static<typeof Role>;

export const ActorStatus = Type.Union([
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('backing-off'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type ActorStatus = Static<typeof ActorStatus>;

/** What a rule actor is doing, as the API and heartbeats show it. */
export const RuleState = Type.Object(
  {
    rule: Id,
    status: ActorStatus,
    ticks: Type.Integer({ minimum: 0 }),
    errors: Type.Integer({ minimum: 0, description: 'readings or formulas that failed, counted per tick' }),
    restarts: Type.Integer({ minimum: 0 }),
    lastTick: Type.Optional(Timestamp),
    tickMs: Type.Optional(Type.Number({ description: 'duration of the last tick' })),
    lastError: Type.Optional(Type.String()),
    nextRetry: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type RuleState = Static<typeof RuleState>;

/** Heartbeat on `pm.hb.<probe>`: membership and health. */
export const Heartbeat = Type.Object(
  {
    probe: Id,
    role: Role,
    parent: Type.Optional(Id),
    level: Type.Integer({ minimum: 0 }),
    version: Type.String(),
    http: Type.Optional(Type.String({ description: 'URL of the probe HTTP API' })),
    ts: Timestamp,
    rules: Type.Array(RuleState),
    load: Type.Object({ rssMiB: Type.Number(), valuesPerS: Type.Number(), series: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof Heartbeat>;
