import { Type, type Static } from '@probemesh/model';
import { PATH_PATTERN } from './jsonpath.js';

const Headers = Type.Record(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$" }), Type.String({ maxLength: 8192 }), {
  description: 'extra request headers',
});

/** What a reading measures: the JSON value at `json` (default), the status code, the latency or the body size. */
export const Measure = Type.Union([Type.Literal('value'), Type.Literal('status'), Type.Literal('latency_ms'), Type.Literal('body_bytes')]);
export type Measure = Static<typeof Measure>;

const common = {
  method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST')], { description: 'default GET' })),
  body: Type.Optional(
    Type.Union([Type.String({ maxLength: 65536 }), Type.Record(Type.String(), Type.Unknown()), Type.Array(Type.Unknown())], {
      description: 'POST body: text as is, an object or array sent as JSON',
    }),
  ),
  headers: Type.Optional(Headers),
  json: Type.Optional(Type.String({ maxLength: 512, pattern: PATH_PATTERN, description: 'JSON path of the value: $.a.b[0].c, $.items[*].value (rows); default $' })),
  instanceKey: Type.Optional(
    Type.String({ maxLength: 256, pattern: '^[^.\\[\\]\\s]+(\\.[^.\\[\\]\\s]+)*$', description: 'rows: the field of each row element that names it (default: its index or key)' }),
  ),
  measure: Type.Optional(Measure),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000, description: 'per request (default: the device setting, else 5000)' })),
};

/** Parameters of an http/rest indicator: an absolute `url`, or a `path` joined to the device's baseUrl. */
export const HttpParams = Type.Union([
  Type.Object({ url: Type.String({ maxLength: 4096, pattern: '^https?://[^\\s]+$', description: 'absolute http(s) URL' }), ...common }, { additionalProperties: false }),
  Type.Object({ path: Type.String({ maxLength: 4096, pattern: '^/[^\\s]*$', description: 'path (and query) joined to the device baseUrl' }), ...common }, { additionalProperties: false }),
]);
export type HttpParams = Static<typeof HttpParams>;

/** Credentials sent with every request to the device. */
export const HttpAuth = Type.Union([
  Type.Object({ type: Type.Literal('basic'), username: Type.String({ maxLength: 256 }), password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('bearer'), token: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false }),
]);
export type HttpAuth = Static<typeof HttpAuth>;

/** A device's HTTP settings (`device.protocols.http` or `.rest`). Absent: http://<address>, no auth, 5 s. */
export const HttpDevice = Type.Object(
  {
    baseUrl: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https?://[^\\s]+$', description: 'default http://<device address>' })),
    headers: Type.Optional(Headers),
    auth: Type.Optional(HttpAuth),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000, description: 'per request (default 5000)' })),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 268_435_456, description: 'largest body read (default 8 MiB)' })),
  },
  { additionalProperties: false },
);
export type HttpDevice = Static<typeof HttpDevice>;
