import { Type, type Static } from '@sinclair/typebox';
import { Duration, Expr, Id, Severity, Tags } from './common.js';

/** Which devices a rule runs on: ids, a tag selector (all tags must match), or both (union). */
export const Targets = Type.Object(
  {
    devices: Type.Optional(Type.Array(Id, { maxItems: 10000 })),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
export type Targets = Static<typeof Targets>;

/**
 * One decision of a rule: when `when` holds (for at least `for`), an alert fires; when it stops
 * holding, it resolves. Instead of `when`, `unanswered: N` fires for each target that has not
 * answered (no reading of this rule arrived from it) for N periods in a row: a dead-man.
 */
export const Decision = Type.Object(
  {
    id: Id,
    when: Type.Optional(Expr),
    unanswered: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'periods in a row without any answer from a target, after which this decision fires for it (instead of `when`)' }),
    ),
    severity: Type.Optional(Severity),
    for: Type.Optional(Duration),
    indicator: Type.Optional(Id),
    message: Type.Optional(Type.String({ maxLength: 1024, description: 'text of the alert; {value}, {device}, {indicator} are filled in' })),
  },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

/** A rule (R): which indicators, on which targets, how often, and the decisions taken on each round's values. */
export const Rule = Type.Object(
  {
    id: Id,
    name: Type.Optional(Type.String({ maxLength: 256 })),
    indicators: Type.Array(Id, { minItems: 1, maxItems: 1000 }),
    targets: Type.Optional(Targets),
    period: Duration,
    timeout: Type.Optional(Duration),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    decisions: Type.Optional(Type.Array(Decision, { maxItems: 100 })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type Rule = Static<typeof Rule>;
