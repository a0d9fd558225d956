import { AlertState, Datum, Heartbeat, Id, Query, Role, Timestamp, TokenRole, Type, buckets, type Static, type TObject, type TSchema } from '@probemesh/model';
import type { ProbeInfo as ServiceInfo } from '@probemesh/runtime';

/** The body of every error answer. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        status: Type.Integer({ minimum: 400, maximum: 599 }),
        code: Type.String({ description: 'stable for clients: invalid, not-found, conflict …' }),
        message: Type.String(),
        issues: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }))),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** `GET /health`. */
export const Health = Type.Object({ ok: Type.Literal(true), probe: Id }, { additionalProperties: false });
export type Health = Static<typeof Health>;

/** `GET /info`: who the probe is and what it runs. */
export const ProbeInfo = Type.Object(
  {
    id: Id,
    role: Role,
    parent: Type.Optional(Id),
    version: Type.String(),
    startedAt: Timestamp,
    connectors: Type.Array(Type.Object({ scheme: Type.String(), summary: Type.String(), perDevice: Type.Boolean() }, { additionalProperties: false })),
    counts: Type.Object(
      {
        indicators: Type.Integer({ minimum: 0 }),
        devices: Type.Integer({ minimum: 0 }),
        rules: Type.Integer({ minimum: 0 }),
        series: Type.Integer({ minimum: 0 }),
        values: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    config: Type.Optional(
      Type.Object(
        {
          applied: Type.Optional(Type.Integer({ minimum: 1, description: 'the flashed revision the probe runs (absent: it runs its config file)' })),
          latest: Type.Optional(Type.Integer({ minimum: 1, description: `the newest revision seen in NATS KV ${buckets.config} (absent until NATS answered)` })),
          note: Type.Optional(Type.String({ description: 'why the probe does not run the latest: an invalid revision, NATS unreachable at boot' })),
        },
        { additionalProperties: false, description: 'the flashed configuration (probemesh flash), for a probe configured through NATS KV' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProbeInfo = Static<typeof ProbeInfo>;
// The runtime's type and this schema must describe the same thing: this line stops compiling when they drift.
const _sameInfo: [ServiceInfo extends ProbeInfo ? true : false, ProbeInfo extends ServiceInfo ? true : false] = [true, true];
void _sameInfo;

/** One probe of `GET /mesh`: its last heartbeat, when it was heard and whether that is too long ago. */
export const MeshMember = Type.Composite([Heartbeat, Type.Object({ lastSeen: Timestamp, stale: Type.Boolean() })], { additionalProperties: false });
export type MeshMember = Static<typeof MeshMember>;

/** A time in the query string: milliseconds since the epoch, or ISO-8601. */
export const Time = Type.Union([Timestamp, Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?$', description: 'ISO-8601' })], {
  description: 'milliseconds since the epoch, or an ISO-8601 time',
});
export type Time = Static<typeof Time>;

/** An object schema's properties with `Time` in place of the named timestamps (for query strings). */
function withTimes<T extends TObject>(schema: T, names: readonly string[], extra: Record<string, TSchema> = {}): TObject {
  const props: Record<string, TSchema> = { ...schema.properties, ...extra };
  for (const n of names) props[n] = Type.Optional(Time);
  return Type.Object(props, { additionalProperties: false });
}

/** `/query`'s query string: the Query's fields, times also as ISO-8601. */
export const QueryParams = withTimes(Query, ['from', 'to']);

/** `/export`'s query string: the records filters, and the format. */
export const ExportParams = withTimes(Type.Omit(Query, ['mode', 'limit', 'step']), ['from', 'to'], {
  format: Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { description: 'ndjson (default): one Value per line; csv: ts,time,indicator,device,instance,rule,datum,incomplete (true for a value computed without part of its inputs)' })),
});

/** `GET /alerts`'s query string. */
export const AlertsParams = Type.Object(
  {
    state: Type.Optional(AlertState),
    rule: Type.Optional(Id),
    device: Type.Optional(Id),
    since: Type.Optional(Time),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export type AlertsParams = Static<typeof AlertsParams>;

/** `PUT /statics/{id}`'s body. */
export const StaticBody = Type.Object({ value: Datum }, { additionalProperties: false });
export type StaticBody = Static<typeof StaticBody>;

/** A path with one id. */
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export type IdParams = Static<typeof IdParams>;

/** The path parameter of a console asset: a hashed file name. */
export const AssetParams = Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' }) }, { additionalProperties: false });
export type AssetParams = Static<typeof AssetParams>;

/** `GET /session`: what the caller's token may do here (the console shows edit controls only to admins). */
export const Session = Type.Object({ probe: Id, role: TokenRole }, { additionalProperties: false });
export type Session = Static<typeof Session>;

/** An entity schema (object or union of objects) whose `id` may be left out (it comes from the path). */
export function withOptionalId(schema: TSchema): TSchema {
  if (schema.anyOf) return Type.Union((schema.anyOf as TSchema[]).map(withOptionalId), { description: schema.description });
  const props = (schema as TObject).properties;
  if (!props?.id) return schema;
  return Type.Object({ ...props, id: Type.Optional(props.id) }, { additionalProperties: schema.additionalProperties, description: schema.description });
}
