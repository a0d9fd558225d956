import { Type, type Static } from '@sinclair/typebox';
import { Duration, Expr, Id, Severity, Tags, idOf, described } from './common.js';

/** Which devices a rule runs on: ids, a tag selector (all tags must match), or both (union). */
export const Targets = Type.Object(
  {
    devices: Type.Optional(Type.Array(Id, { maxItems: 10000, description: 'device ids' })),
    tags: Type.Optional(described(Tags, 'devices whose tags include all of these')),
  },
  { additionalProperties: false, description: 'the devices the rule reads: listed ids, devices matching tags, or both (absent: calculated and static indicators only)' },
);
export type Targets = Static<typeof Targets>;

/**
 * One decision of a rule: when `when` holds (for at least `for`), an alert fires; when it stops
 * holding, it resolves. Instead of `when`, `unanswered: N` fires for each target that has not
 * answered (no reading of this rule arrived from it) for N periods in a row: a dead-man.
 */
export const Decision = Type.Object(
  {
    id: idOf('the decision, as alerts name it'),
    when: Type.Optional(described(Expr, 'an expression over the round\'s values; an alert fires while it holds, e.g. cpu_load > 90')),
    unanswered: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'periods in a row without any answer from a target, after which this decision fires for it (instead of `when`)' }),
    ),
    severity: Type.Optional(Severity),
    for: Type.Optional(described(Duration, 'how long `when` must hold before the alert fires (default at once)')),
    indicator: Type.Optional(described(Id, 'the indicator whose value the alert carries')),
    message: Type.Optional(Type.String({ maxLength: 1024, description: 'text of the alert; {value}, {device}, {indicator} are filled in' })),
  },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

/** A rule (R): which indicators, on which targets, how often, and the decisions taken on each round's values. */
export const Rule = Type.Object(
  {
    id: idOf('the rule, as values and alerts name it'),
    name: Type.Optional(Type.String({ maxLength: 256, description: 'a name for people' })),
    indicators: Type.Array(Id, { minItems: 1, maxItems: 1000, description: 'the indicators read and computed each round, in order' }),
    targets: Type.Optional(Targets),
    period: described(Duration, 'how often a round runs, e.g. 10s'),
    offset: Type.Optional(
      described(Duration, "how long after its period starts a round runs, at most half the period (default 0); its values keep the period's time. Rounds of a site's probes spread this way do not all poll and write at once"),
    ),
    timeout: Type.Optional(described(Duration, 'how long a round may read before unanswered devices count as down (default: the period, at most 10 s)')),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'devices read at once (default 32)' })),
    decisions: Type.Optional(Type.Array(Decision, { maxItems: 100, description: 'what turns a round\'s values into alerts' })),
    enabled: Type.Optional(Type.Boolean({ description: 'false: the rule is kept but does not run (default true)' })),
  },
  { additionalProperties: false },
);
export type Rule = Static<typeof Rule>;
