/**
 * Wire names of the mesh, defined once (docs/ARCHITECTURE.md, The NATS contract): NATS subjects, JetStream streams and
 * consumers, the KV bucket, message ids and the store kinds the mesh keeps. The NATS permissions
 * of a probe are derived from these (`probePublishAllow` in `@probemesh/mesh`).
 */

/** NATS subjects. `<probe>`, `<rule>` and `<indicator>` are ids (`[A-Za-z0-9_-]`), safe as one token. */
export const subjects = {
  /** What a probe publishes an alert transition to; `PM_ALERTS` stores it once and republishes it on `alert`. */
  alertIn: (severity: string, probe: string, rule: string) => `pm.in.alert.${severity}.${probe}.${rule}`,
  /** Every alert transition as published by the probes (the subjects `PM_ALERTS` captures). */
  alertsIn: 'pm.in.alert.>',
  /** An alert transition as anyone receives it, once, after `PM_ALERTS` stored it. */
  alert: (severity: string, probe: string, rule: string) => `pm.alert.${severity}.${probe}.${rule}`,
  /** Every alert transition (what a plain subscriber listens to). */
  alerts: 'pm.alert.>',
  /** A delegate's partial aggregate of one indicator for its coordinator. */
  partial: (probe: string, indicator: string) => `pm.partial.${probe}.${indicator}`,
  /** Every partial aggregate (the subjects `PM_PARTIALS` captures). */
  partials: 'pm.partial.>',
  /** Data-access queries to one probe (request/reply). */
  query: (probe: string) => `pm.query.${probe}`,
  /** Queries to any probe. */
  queries: 'pm.query.*',
  /** API requests forwarded to one probe (`?probe=<id>` on any route; request/reply of ForwardedRequest and ForwardedAnswer). */
  api: (probe: string) => `pm.api.${probe}`,
  /** API requests to any probe. */
  apis: 'pm.api.*',
  /** A probe's heartbeat. */
  heartbeat: (probe: string) => `pm.hb.${probe}`,
  /** Every heartbeat. */
  heartbeats: 'pm.hb.*',
  /** Everything of the mesh. */
  mesh: 'pm.>',
} as const;

/** JetStream streams. */
export const streams = { alerts: 'PM_ALERTS', partials: 'PM_PARTIALS' } as const;

/** Durable JetStream consumers of a coordinator. */
export const consumers = {
  /** Merges its children's partials from `PM_PARTIALS`. */
  partials: (probe: string) => `coord-${probe}`,
  /** Follows every probe's alerts from `PM_ALERTS`. */
  alerts: (probe: string) => `coord-${probe}-alerts`,
} as const;

/** JetStream KV buckets. */
export const buckets = { config: 'pm_config' } as const;

/** The key of a probe's flashed configuration in the `pm_config` bucket. */
export const configKey = (probe: string) => `probe.${probe}`;

/** The stream behind a KV bucket, and the subject of one of its keys. */
export const kv = {
  stream: (bucket: string) => `KV_${bucket}`,
  subject: (bucket: string, key: string) => `$KV.${bucket}.${key}`,
} as const;

/** The prefix of the JetStream API subjects, in a domain (a hub reached through a leaf node) or not. */
export const jsApi = (domain?: string) => (domain ? `$JS.${domain}.API` : '$JS.API');

/**
 * Message ids (`Nats-Msg-Id`): the same transition or window always gets the same id, so a resend
 * after a lost acknowledgement is dropped by the stream's duplicate window.
 */
export const msgIds = {
  alert: (a: { id: string; state: string; ts: number }) => `${a.id}.${a.state}.${a.ts}`,
  partial: (p: { probe: string; indicator: string; group: string; windowStart: number; revision?: number }) => `${p.probe}.${p.indicator}.${p.group}.${p.windowStart}${p.revision ? `.r${p.revision}` : ''}`,
} as const;

/** Kinds of records the mesh keeps in a probe's store (`store.config`). */
export const meshStore = {
  /** Other probes' alerts a coordinator follows, newest transition per alert. */
  alerts: 'mesh-alerts',
  /** A coordinator's merged windows, one kind per UTC day so old days go at once. */
  merged: (day: number) => `mesh-merged-${day}`,
  /** Small state: the partial sender's cursor. */
  state: 'mesh',
} as const;
