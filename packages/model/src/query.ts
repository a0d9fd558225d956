import { Type, type Static } from '@sinclair/typebox';
import { Duration, Id, Timestamp } from './common.js';
import { Instance, Value } from './value.js';

export const QueryMode = Type.Union([
  Type.Literal('records'),
  Type.Literal('max'),
  Type.Literal('min'),
  Type.Literal('mean'),
  Type.Literal('sum'),
  Type.Literal('count'),
  Type.Literal('series'),
]);
export type QueryMode = Static<typeof QueryMode>;

/** Records per response when a query gives no `limit`. */
export const DEFAULT_LIMIT = 10_000;
/** The most records one response carries. */
export const MAX_LIMIT = 100_000;
/** The most buckets a `series` answer carries. */
export const MAX_BUCKETS = 10_000;

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
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_LIMIT, description: `records per response (mode records; default ${DEFAULT_LIMIT}); the rest is reached through \`next\`` }),
    ),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "opaque: a previous answer's `next`, given back with the same filters for the following page" })),
    step: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type Query = Static<typeof Query>;

/** One bucket of a `series` answer: the numeric values in [ts, ts + step). Empty buckets are left out. */
export const SeriesBucket = Type.Object(
  {
    ts: Timestamp,
    count: Type.Integer({ minimum: 1 }),
    mean: Type.Number(),
    min: Type.Number(),
    max: Type.Number(),
  },
  { additionalProperties: false },
);
export type SeriesBucket = Static<typeof SeriesBucket>;

/** The answer to a Query, by mode. */
export const QueryResult = Type.Union([
  Type.Object(
    {
      mode: Type.Literal('records'),
      records: Type.Array(Value),
      next: Type.Optional(Type.String({ description: 'present when more records match: pass it back as `cursor` (same filters) for the next page' })),
    },
    { additionalProperties: false },
  ),
  Type.Object({ mode: Type.Union([Type.Literal('max'), Type.Literal('min')]), record: Type.Union([Value, Type.Null()]) }, { additionalProperties: false }),
  Type.Object(
    { mode: Type.Union([Type.Literal('mean'), Type.Literal('sum')]), value: Type.Union([Type.Number(), Type.Null()]), count: Type.Integer() },
    { additionalProperties: false },
  ),
  Type.Object({ mode: Type.Literal('count'), count: Type.Integer() }, { additionalProperties: false }),
  Type.Object(
    {
      mode: Type.Literal('series'),
      step: Type.Integer({ minimum: 1, description: 'bucket width in ms; buckets start at multiples of it since the epoch' }),
      buckets: Type.Array(SeriesBucket),
    },
    { additionalProperties: false },
  ),
]);
export type QueryResult = Static<typeof QueryResult>;
