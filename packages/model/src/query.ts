import { Type, type Static } from '@sinclair/typebox';
import { Id, Timestamp } from './common.js';
import { Instance, Value } from './value.js';

export const QueryMode = Type.Union([
  Type.Literal('records'),
  Type.Literal('max'),
  Type.Literal('min'),
  Type.Literal('mean'),
  Type.Literal('sum'),
  Type.Literal('count'),
]);
export type QueryMode = Static<typeof QueryMode>;

/** The data-access query: filters that combine, and what to return. `from` is inclusive, `to` exclusive. */
export const Query = Type.Object(
  {
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
    first: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    last: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    rule: Type.Optional(Id),
    device: Type.Optional(Id),
    indicator: Type.Optional(Id),
    instance: Type.Optional(Instance),
    mode: Type.Optional(QueryMode),
  },
  { additionalProperties: false },
);
export type Query = Static<typeof Query>;

/** The answer to a Query, by mode. */
export const QueryResult = Type.Union([
  Type.Object({ mode: Type.Literal('records'), records: Type.Array(Value) }, { additionalProperties: false }),
  Type.Object({ mode: Type.Union([Type.Literal('max'), Type.Literal('min')]), record: Type.Union([Value, Type.Null()]) }, { additionalProperties: false }),
  Type.Object(
    { mode: Type.Union([Type.Literal('mean'), Type.Literal('sum')]), value: Type.Union([Type.Number(), Type.Null()]), count: Type.Integer() },
    { additionalProperties: false },
  ),
  Type.Object({ mode: Type.Literal('count'), count: Type.Integer() }, { additionalProperties: false }),
]);
export type QueryResult = Static<typeof QueryResult>;
