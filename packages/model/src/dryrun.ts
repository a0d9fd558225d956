import { Type, type Static } from '@sinclair/typebox';
import { Alert } from './alert.js';
import { Datum, Expr, Id, Severity } from './common.js';

/** What a text being edited is, as saving compiles it. */
export const DryRunContext = Type.Union([Type.Literal('calculated'), Type.Literal('filter'), Type.Literal('transform'), Type.Literal('decision')]);
export type DryRunContext = Static<typeof DryRunContext>;

/**
 * A formula, filter, transform or decision to try against a probe's current values, saving
 * nothing. `indicator`: the indicator being edited (named in errors as saving names it; a filter or
 * transform reads its newest value unless `value` is given). `rule`: the rule it runs in (its
 * targets are the devices tried). `device`: try on this device only.
 */
export const DryRun = Type.Object(
  {
    context: DryRunContext,
    expr: Expr,
    indicator: Type.Optional(Id),
    rule: Type.Optional(Id),
    device: Type.Optional(Id),
    decision: Type.Optional(
      Type.Object(
        {
          id: Type.Optional(Id),
          severity: Type.Optional(Severity),
          indicator: Type.Optional(Id),
          message: Type.Optional(Type.String({ maxLength: 1024 })),
        },
        { additionalProperties: false, description: 'the decision being edited, as the alert that would fire carries it' },
      ),
    ),
    value: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 65536 })], { description: 'a filter or transform: the reading to try' })),
  },
  { additionalProperties: false },
);
export type DryRun = Static<typeof DryRun>;

/** What a dry run gave on one device (or the whole rule): a value, an evaluation error, and for a decision the alert that would fire. */
export const DryRunOutcome = Type.Object(
  {
    device: Type.Optional(Id),
    value: Type.Optional(Type.Union([Datum, Type.Boolean(), Type.Null()], { description: 'null: an input has no value yet' })),
    error: Type.Optional(Type.String({ description: 'why it could not be evaluated (division by zero, text where a number is needed)' })),
    alert: Type.Optional(Alert),
  },
  { additionalProperties: false },
);
export type DryRunOutcome = Static<typeof DryRunOutcome>;

/** The answer to a DryRun: one outcome per device tried. */
export const DryRunResult = Type.Object({ context: DryRunContext, results: Type.Array(DryRunOutcome) }, { additionalProperties: false });
export type DryRunResult = Static<typeof DryRunResult>;
