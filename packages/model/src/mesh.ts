import { Type, type Static } from '@sinclair/typebox';
import { Id, Timestamp } from './common.js';

/** The mergeable figures of a window's values. */
const figures = {
  count: Type.Integer({ minimum: 0 }),
  sum: Type.Number(),
  min: Type.Number({ description: '0 when count is 0' }),
  max: Type.Number({ description: '0 when count is 0' }),
};

/**
 * A mergeable partial aggregate a delegated probe owes its coordinator for one window. A window
 * without values is sent too (count 0, sum, min and max 0): it tells the coordinator that nothing
 * more will come from this probe for it.
 */
export const PartialAggregate = Type.Object(
  {
    probe: Id,
    indicator: Id,
    group: Type.String({ maxLength: 128, description: 'device group the window covers (e.g. a network); "" for all' }),
    windowStart: Timestamp,
    windowEnd: Timestamp,
    ...figures,
    devices: Type.Optional(Type.Integer({ minimum: 0, description: 'how many distinct devices reported in the window' })),
    revision: Type.Optional(
      Type.Integer({ minimum: 0, description: 'a coordinator relaying its merged window sends it again, with a higher revision, when late partials changed it: the newest revision of a source replaces the older' }),
    ),
    incomplete: Type.Optional(Type.Literal(true, { description: 'a coordinator relaying a window it computed without a child of its own (gone or too late); a later revision without it replaces it' })),
  },
  { additionalProperties: false },
);
export type PartialAggregate = Static<typeof PartialAggregate>;

/** A probe's place in the mesh. */
export const Role = Type.Union([Type.Literal('standalone'), Type.Literal('delegated'), Type.Literal('coordinator')], {
  description: 'standalone (default): alone; delegated: sends partials and alerts to its parent; coordinator: merges its children\'s partials and follows their alerts',
});
export type Role = Static<typeof Role>;

export const ActorStatus = Type.Union([
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('backing-off'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type ActorStatus = Static<typeof ActorStatus>;

/** What a rule is doing: its actor's status, or `store-unavailable` while the store cannot commit what it reads. */
export const RuleStatus = Type.Union([...ActorStatus.anyOf, Type.Literal('store-unavailable')]);
export type RuleStatus = Static<typeof RuleStatus>;

/** What a rule actor is doing, as the API and heartbeats show it. */
export const RuleState = Type.Object(
  {
    rule: Id,
    status: RuleStatus,
    ticks: Type.Integer({ minimum: 0 }),
    errors: Type.Integer({ minimum: 0, description: 'readings or formulas that failed, counted per tick' }),
    restarts: Type.Integer({ minimum: 0 }),
    lastTick: Type.Optional(Timestamp),
    tickMs: Type.Optional(Type.Number({ description: 'duration of the last tick' })),
    overruns: Type.Optional(Type.Integer({ minimum: 0, description: 'ticks skipped because the one before was still running: reads slower than the period (absent from probes that predate it)' })),
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
    partials: Type.Optional(
      Type.Object(
        {
          indicators: Type.Array(Id, { description: 'indicators whose windows this probe sends its parent' }),
          windowMs: Type.Integer({ minimum: 1 }),
          from: Type.Optional(Type.Integer({ minimum: 0, description: 'start of the first window this probe owes (it began sending then)' })),
          cursor: Type.Optional(Type.Integer({ minimum: 0, description: 'start of the newest window JetStream has acknowledged (every earlier one was too)' })),
        },
        { additionalProperties: false, description: 'what a delegate owes its parent: the coordinator waits for these windows' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Heartbeat = Static<typeof Heartbeat>;

export const WindowState = Type.Union([Type.Literal('waiting'), Type.Literal('complete'), Type.Literal('incomplete')], {
  description: 'waiting: a child that is alive has not sent it yet; complete: every child that owes it did; incomplete: computed without a child that is gone or too late, or from a relayed window that was',
});
export type WindowState = Static<typeof WindowState>;

/** A window a coordinator merged from its children's partials, as `GET /mesh/windows` shows it. */
export const MergedWindow = Type.Object(
  {
    indicator: Id,
    windowStart: Timestamp,
    windowEnd: Timestamp,
    ...figures,
    total: Type.Number({ description: 'Σ over sources of mean × devices: e.g. the power of every server, site-wide' }),
    devices: Type.Integer({ minimum: 0 }),
    sources: Type.Array(Type.String(), { description: '<probe>/<group> of each partial merged in' }),
    missing: Type.Array(Id, { description: 'children that owe this window and have not sent it' }),
    state: WindowState,
  },
  { additionalProperties: false },
);
export type MergedWindow = Static<typeof MergedWindow>;
