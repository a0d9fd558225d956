import { Type, type Static } from '@sinclair/typebox';
import { Duration, Id, idOf, described } from './common.js';
import { Device } from './device.js';
import { Indicator } from './indicator.js';
import { Role } from './mesh.js';
import { Rule } from './rule.js';

export const TokenRole = Type.Union([Type.Literal('read'), Type.Literal('admin')], { description: 'read: queries, lists, alerts; admin: also changes configuration' });
export type TokenRole = Static<typeof TokenRole>;

/** An API token: `read` may query, `admin` may also change configuration. */
export const Token = Type.Object(
  { name: idOf('who holds the token, for logs'), token: Type.String({ minLength: 16, maxLength: 256, description: 'the secret, sent as Authorization: Bearer <token>; at least 16 characters' }), role: TokenRole },
  { additionalProperties: false, description: 'an API token' },
);
export type Token = Static<typeof Token>;

/** How long values are kept: by age and by a size budget, oldest first. */
export const Retention = Type.Object(
  {
    maxAge: Type.Optional(described(Duration, 'values older than this go, e.g. 30d')),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1_048_576, description: 'store size budget in bytes: the oldest values go first' })),
  },
  { additionalProperties: false, description: 'how long values are kept (checked every minute)' },
);
export type Retention = Static<typeof Retention>;

/** How a probe reaches NATS. */
export const NatsOptions = Type.Object(
  {
    servers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'NATS URLs, e.g. nats://hub:4222; every seed of a cluster' }),
    user: Type.Optional(Type.String({ description: 'NATS user (each probe its own: it may publish only under its id)' })),
    pass: Type.Optional(Type.String({ description: 'password of `user`' })),
    token: Type.Optional(Type.String({ description: 'NATS token, instead of a user' })),
    nkeySeed: Type.Optional(Type.String({ description: 'NKEY user seed (SU…)' })),
    creds: Type.Optional(Type.String({ description: 'path of a .creds file' })),
    jsDomain: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: "JetStream domain of the hub, for probes on a leaf node without JetStream of its own" })),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ minLength: 1, description: "path of a PEM file of the CA certificates that sign the servers' certificates (default: Node's bundled roots)" })),
          cert: Type.Optional(Type.String({ minLength: 1, description: 'path of a PEM client certificate, for servers that verify clients' })),
          key: Type.Optional(Type.String({ minLength: 1, description: 'path of the PEM private key of `cert`' })),
        },
        { additionalProperties: false, description: 'TLS to NATS (servers with a tls block; use tls:// URLs or nats:// ones, the server asks for TLS)' },
      ),
    ),
  },
  { additionalProperties: false, description: 'how the probe reaches NATS, which makes it part of the mesh (absent: it runs alone)' },
);
export type NatsOptions = Static<typeof NatsOptions>;

/** What a probe does in the mesh: the partials it owes its parent, and whose partials it merges. */
export const MeshSettings = Type.Object(
  {
    partials: Type.Optional(
      Type.Object(
        {
          indicators: Type.Array(Id, { minItems: 1, maxItems: 1000, description: 'indicators whose windows are sent up' }),
          window: described(Duration, 'length of a window, e.g. 10s (usually the rules\' period)'),
        },
        { additionalProperties: false, description: "the partial aggregates (count, sum, min, max, devices) this probe sends its parent for each closed window" },
      ),
    ),
    children: Type.Optional(Type.Array(Id, { description: 'probes whose partials this coordinator merges (default: all) and waits for (default: those naming it their parent)' })),
    grace: Type.Optional(described(Duration, "how long a coordinator waits for a late window of a child that is alive before computing without it, marked incomplete (default three windows); more than the NATS cluster's failover time")),
    streams: Type.Optional(
      Type.Object(
        {
          maxAge: Type.Optional(described(Duration, 'messages older than this go')),
          maxBytes: Type.Optional(Type.Integer({ minimum: 1024 * 1024, description: 'per stream; the oldest messages go first' })),
          replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'copies of each stream in a NATS cluster (default: 3 when nats.servers lists three or more, else 1)' })),
        },
        { additionalProperties: false, description: 'limits of PM_ALERTS and PM_PARTIALS (default: 7 days, no size limit), applied by every probe that joins' },
      ),
    ),
  },
  { additionalProperties: false, description: "what the probe does in the mesh: the partials it owes its parent, whose partials it merges" },
);
export type MeshSettings = Static<typeof MeshSettings>;

const sinkName = described(Id, 'names the sink in logs and in the outbox (default: its type, then -2, -3 … for more of one type); keep it when reordering sinks so queued deliveries follow');
const sinkHeaders = Type.Record(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$" }), Type.String({ maxLength: 4096 }), {
  description: 'more request headers (e.g. authorization); the sink\'s own cannot be replaced',
});
const sinkTimeout = described(Duration, 'for the whole request, connecting to the last byte of the answer (default 10s)');
const sinkCa = Type.String({ minLength: 1, description: 'path of a PEM file of CA certificates trusted for https (default: Node\'s bundled roots)' });

/** A webhook that receives each alert transition as a signed JSON POST. */
export const WebhookSinkConfig = Type.Object(
  {
    type: Type.Literal('webhook', { description: 'a signed JSON POST per alert transition' }),
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
    type: Type.Literal('alertmanager', { description: 'Prometheus Alertmanager' }),
    name: Type.Optional(sinkName),
    url: Type.String({ pattern: '^https?://', maxLength: 2048, description: 'base URL of Alertmanager (e.g. http://alertmanager:9093); alerts go to <url>/api/v2/alerts' }),
    labels: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), Type.String({ maxLength: 1024 }), {
        description: 'added to every alert (site, team …) for Alertmanager routes; the sink\'s own labels cannot be replaced',
      }),
    ),
    resend: Type.Optional(described(Duration, 'how often firing alerts are sent again; each is valid for 4 intervals (default 1m)')),
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
  { additionalProperties: false, description: 'where alert transitions go besides the mesh' },
);
export type AlertSettings = Static<typeof AlertSettings>;

/** A probe's whole configuration: what a config file holds and what `flash` puts in KV. */
export const ProbeConfig = Type.Object(
  {
    id: idOf('this probe, as NATS subjects, the mesh and alerts name it'),
    role: Type.Optional(Role),
    parent: Type.Optional(idOf('the coordinator this probe reports to (delegated probes)')),
    group: Type.Optional(Type.String({ maxLength: 128, description: 'device group this probe reports for (e.g. its network)' })),
    dataDir: Type.Optional(Type.String({ description: 'the LMDB store: a folder, relative to the config file (default data/<id> in the working directory)' })),
    http: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ description: 'address the API listens on (default 127.0.0.1; 0.0.0.0 for every interface)' })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'port of the API (default 8080; 0: any free port)' })),
          bodyLimit: Type.Optional(Type.Integer({ minimum: 1024, description: 'largest request body in bytes (default 1 MiB)' })),
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
        { additionalProperties: false, description: 'the HTTP API' },
      ),
    ),
    tokens: Type.Optional(Type.Array(Token, { description: 'who may use the API' })),
    nats: Type.Optional(NatsOptions),
    mesh: Type.Optional(MeshSettings),
    alerts: Type.Optional(AlertSettings),
    retention: Type.Optional(Retention),
    devices: Type.Optional(Type.Array(Device, { description: 'the monitored things' })),
    indicators: Type.Optional(Type.Array(Indicator, { description: 'what is measured: atomic (read), calculated (formula), static (set)' })),
    rules: Type.Optional(Type.Array(Rule, { description: 'which indicators, on which devices, how often, and the decisions that raise alerts' })),
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
