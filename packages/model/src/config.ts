import { CloneType, Type, type Static } from '@sinclair/typebox';
import { Duration, Id } from './common.js';
import { Device } from './device.js';
import { Indicator } from './indicator.js';
import { Role } from './mesh.js';
import { Rule } from './rule.js';

export const TokenRole = Type.Union([Type.Literal('read'), Type.Literal('admin')]);
export type TokenRole = Static<typeof TokenRole>;

/** An API token: `read` may query, `admin` may also change configuration. */
export const Token = Type.Object(
  { name: Id, token: Type.String({ minLength: 16, maxLength: 256 }), role: TokenRole },
  { additionalProperties: false },
);
export type Token = Static<typeof Token>;

/** How long values are kept: by age and by a size budget, oldest first. */
export const Retention = Type.Object(
  {
    maxAge: Type.Optional(Duration),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1_048_576 })),
  },
  { additionalProperties: false },
);
export type Retention = Static<typeof Retention>;

/** How a probe reaches NATS. */
export const NatsOptions = Type.Object(
  {
    servers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    user: Type.Optional(Type.String()),
    pass: Type.Optional(Type.String()),
    token: Type.Optional(Type.String()),
    nkeySeed: Type.Optional(Type.String({ description: 'NKEY user seed (SU…)' })),
    creds: Type.Optional(Type.String({ description: 'path of a .creds file' })),
    jsDomain: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: "JetStream domain of the hub, for probes on a leaf node without JetStream of its own" })),
  },
  { additionalProperties: false },
);
export type NatsOptions = Static<typeof NatsOptions>;

/** What a probe does in the mesh: the partials it owes its parent, and whose partials it merges. */
export const MeshSettings = Type.Object(
  {
    partials: Type.Optional(
      Type.Object(
        {
          indicators: Type.Array(Id, { minItems: 1, maxItems: 1000, description: 'indicators whose windows are sent up' }),
          window: Duration,
        },
        { additionalProperties: false },
      ),
    ),
    children: Type.Optional(Type.Array(Id, { description: 'probes whose partials this coordinator merges (default: all)' })),
    streams: Type.Optional(
      Type.Object(
        {
          maxAge: Type.Optional(Duration),
          maxBytes: Type.Optional(Type.Integer({ minimum: 1024 * 1024, description: 'per stream; the oldest messages go first' })),
        },
        { additionalProperties: false, description: 'limits of PM_ALERTS and PM_PARTIALS (default: 7 days, no size limit), applied by every probe that joins' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type MeshSettings = Static<typeof MeshSettings>;

const sinkName = CloneType(Id, { description: 'names the sink in logs and in the outbox (default: its type, then -2, -3 … for more of one type); keep it when reordering sinks so queued deliveries follow' });
const sinkHeaders = Type.Record(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$" }), Type.String({ maxLength: 4096 }), {
  description: 'more request headers (e.g. authorization); the sink\'s own cannot be replaced',
});
const sinkTimeout = CloneType(Duration, { description: 'for the whole request, connecting to the last byte of the answer (default 10s)' });
const sinkCa = Type.String({ minLength: 1, description: 'path of a PEM file of CA certificates trusted for https (default: Node\'s bundled roots)' });

/** A webhook that receives each alert transition as a signed JSON POST. */
export const WebhookSinkConfig = Type.Object(
  {
    type: Type.Literal('webhook'),
    name: Type.Optional(sinkName),
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'http:// or https:// URL; redirects are not followed' }),
    secret: Type.Optional(
      Type.String({ minLength: 16, maxLength: 1024, description: 'key of the X-Probemesh-Signature header: sha256= and the hex HMAC-SHA256 of the body; unsigned without it' }),
    ),
    headers: Type.Optional(sinkHeaders),
    timeout: Type.Optional(sinkTimeout),
    ca: Type.Optional(sinkCa),
  },
  { additionalProperties: false },
);
export type WebhookSinkConfig = Static<typeof WebhookSinkConfig>;

/** A Prometheus Alertmanager that receives alerts on its /api/v2/alerts. */
export const AlertmanagerSinkConfig = Type.Object(
  {
    type: Type.Literal('alertmanager'),
    name: Type.Optional(sinkName),
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'base URL of Alertmanager (e.g. http://alertmanager:9093); alerts go to <url>/api/v2/alerts' }),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), Type.String({ maxLength: 1024 }), {
        description: 'added to every alert (site, team …) for Alertmanager routes; the sink\'s own labels cannot be replaced',
      }),
    ),
    resend: Type.Optional(CloneType(Duration, { description: 'how often firing alerts are sent again; each is valid for 4 intervals (default 1m)' })),
    headers: Type.Optional(sinkHeaders),
    timeout: Type.Optional(sinkTimeout),
    ca: Type.Optional(sinkCa),
  },
  { additionalProperties: false },
);
export type AlertmanagerSinkConfig = Static<typeof AlertmanagerSinkConfig>;

/** Where a probe sends its alert transitions besides the mesh, each at least once with a stable id. */
export const AlertSinkConfig = Type.Union([WebhookSinkConfig, AlertmanagerSinkConfig]);
export type AlertSinkConfig = Static<typeof AlertSinkConfig>;

/** How a probe delivers its alerts. */
export const AlertSettings = Type.Object(
  { sinks: Type.Optional(Type.Array(AlertSinkConfig, { maxItems: 16, description: 'destinations of alert transitions: webhooks and Alertmanagers' })) },
  { additionalProperties: false },
);
export type AlertSettings = Static<typeof AlertSettings>;

/** A probe's whole configuration: what a config file holds and what `flash` puts in KV. */
export const ProbeConfig = Type.Object(
  {
    id: Id,
    role: Type.Optional(Role),
    parent: Type.Optional(Id),
    group: Type.Optional(Type.String({ maxLength: 128, description: 'device group this probe reports for (e.g. its network)' })),
    dataDir: Type.Optional(Type.String()),
    http: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String()),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          bodyLimit: Type.Optional(Type.Integer({ minimum: 1024 })),
          tls: Type.Optional(
            Type.Object(
              {
                cert: Type.String({ minLength: 1, description: 'path of the PEM certificate (chain)' }),
                key: Type.String({ minLength: 1, description: 'path of the PEM private key' }),
              },
              { additionalProperties: false, description: 'serve the API over HTTPS, so tokens never cross the network in clear' },
            ),
          ),
          maxConnections: Type.Optional(Type.Integer({ minimum: 1, description: 'connections at once (default 1000)' })),
        },
        { additionalProperties: false },
      ),
    ),
    tokens: Type.Optional(Type.Array(Token)),
    nats: Type.Optional(NatsOptions),
    mesh: Type.Optional(MeshSettings),
    alerts: Type.Optional(AlertSettings),
    retention: Type.Optional(Retention),
    devices: Type.Optional(Type.Array(Device)),
    indicators: Type.Optional(Type.Array(Indicator)),
    rules: Type.Optional(Type.Array(Rule)),
  },
  { additionalProperties: false },
);
export type ProbeConfig = Static<typeof ProbeConfig>;

/** What a new node needs to boot and join (`probemesh flash --bundle`): its config then comes from KV. */
export const BootBundle = Type.Object(
  {
    probe: Id,
    nats: NatsOptions,
    dataDir: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);
export type BootBundle = Static<typeof BootBundle>;
