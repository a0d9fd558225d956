import type { AlertSink, ChildState } from '@probemesh/core';
import type { SinkStats } from './outbox.js';
import type { StoreHealth } from './writer.js';
import type { Alert, AlertState, Datum, Device, DryRun, DryRunResult, Indicator, Query, QueryResult, Role, Rule, RuleState, Severity, TSchema, Value } from '@probemesh/model';

/** The configuration collections a probe keeps, by their API names. */
export const Kinds = { indicators: 'indicators', devices: 'devices', rules: 'rules' } as const;
export type Kind = (typeof Kinds)[keyof typeof Kinds];

/** The entity type of each collection. */
export interface EntityOf {
  indicators: Indicator;
  devices: Device;
  rules: Rule;
}

/** The flashed configuration (NATS KV `pm_config`) of a probe: the revision it runs, the newest it saw, and why they differ. */
export interface ConfigRevisions {
  /** The revision the probe runs (absent: it runs its config file). */
  applied?: number;
  /** The newest revision seen in KV (absent until NATS answered). */
  latest?: number;
  /** Why the probe does not run the latest (an invalid revision, NATS unreachable at boot). */
  note?: string;
}

/** Who the probe is and what it runs. */
export interface ProbeInfo {
  id: string;
  role: Role;
  parent?: string;
  version: string;
  startedAt: number;
  connectors: Array<{ scheme: string; summary: string; perDevice: boolean }>;
  counts: { indicators: number; devices: number; rules: number; series: number; values: number };
  /** Present for a probe whose configuration is flashed through NATS KV. */
  config?: ConfigRevisions;
}

/**
 * An alert raised by a component rather than a rule's decision — the store's (`store/unavailable`),
 * the mesh's dead-man (`rule: 'mesh', decision: 'stale', device: <child probe>`) — through the
 * same path: fired once, recorded, durable, delivered to every sink. `{value}`, `{device}`,
 * `{indicator}` and `{rule}` in `message` are filled in.
 */
export interface RaisedAlert {
  rule: string;
  decision: string;
  device?: string;
  indicator?: string;
  /** Default `warning`. */
  severity?: Severity;
  message: string;
  value?: Datum;
}

/** Filters for listing alerts. */
export interface AlertFilter {
  state?: AlertState;
  rule?: string;
  device?: string;
  since?: number;
  limit?: number;
}

/** A cheap snapshot of a probe's health, for heartbeats (`metrics()` also reads every series' newest value). */
export interface ProbeHealth {
  rules: RuleState[];
  rssBytes: number;
  heapUsedBytes: number;
  /** Values committed per second over the last minute. */
  valuesPerS: number;
  series: number;
  store: StoreHealth;
}

/** Self-metrics of a probe, for /metrics. */
export interface ProbeMetrics {
  ticks: number;
  tickErrors: number;
  valuesStored: number;
  alertsFired: number;
  storeBytes: number;
  series: number;
  rssBytes: number;
  /** V8 heap in use (of `rssBytes`). */
  heapUsedBytes: number;
  rules: RuleState[];
  /** Each started connector's `stats()`, by scheme. */
  connectors: Record<string, Record<string, number>>;
  /** By scheme, the names among `connectors[scheme]` that only grow (the connector's `counters`). */
  connectorCounters: Record<string, readonly string[]>;
  /** Whether the store takes writes; values held and given up while it does not. */
  store: StoreHealth;
  /** Each alert sink: transitions pending, delivered, retried, refused. */
  sinks: SinkStats[];
  /** What escaped every handler in this process, by kind (the probe's process guard), when one watches. */
  uncaughtErrors?: Record<string, number>;
  /** The mesh node's state under the probe's supervision (status, restarts of the whole node), in a mesh. */
  meshNode?: ChildState;
  /** The latest value of each series (numeric ones), bounded. */
  latest: Array<{ indicator: string; device?: string; instance?: string; datum: Datum; ts: number }>;
}

/**
 * What the HTTP API (and NATS query handler) needs from a running probe. Writes validate
 * everything first (schema, connector parameters, expressions, references) and change nothing
 * when they throw: ValidationError (400), NotFoundError (404), ConflictError (409),
 * UnprocessableError (422).
 */
export interface ProbeService {
  info(): ProbeInfo;
  list<K extends Kind>(kind: K): EntityOf[K][];
  get<K extends Kind>(kind: K, id: string): EntityOf[K];
  /** Creates or replaces; resolves once durable and applied (effective from the next tick). */
  put<K extends Kind>(kind: K, entity: unknown): Promise<{ created: boolean; entity: EntityOf[K] }>;
  remove(kind: Kind, id: string): Promise<void>;
  /** Sets the value of a static indicator (creating it when absent). */
  setStatic(id: string, value: Datum): Promise<void>;
  /** Answers a data-access query: records a page at a time (`limit`, `cursor` → `next`), aggregates, or `series` buckets. */
  query(q: Query): QueryResult;
  /** A text that changes whenever the answer to a query of these series may have changed: an answer kept with it is current while it is the same. */
  dataVersion(q: Query): string;
  /**
   * The records of `q` page by page (`q.limit` each, default 10,000), for exports and streamed
   * answers: one page in memory, nothing held open between pages. The first page is read at the
   * call, so a bad query throws before anything is sent.
   */
  scan(q: Query): Iterable<Value[]>;
  ruleStates(): RuleState[];
  /** Recent alert transitions (firing, resolved), newest last, filtered. */
  alerts(filter?: AlertFilter): Alert[];
  /** The alerts firing now, each as it fired, oldest first (those firing when the probe stopped are taken back at start). */
  active(): Alert[];
  /**
   * Calls `fn` with every alert transition (firing, resolved) from now on, live and in memory only
   * (for streams; durable delivery is a sink's); a throw is logged. Returns an unsubscribe.
   */
  onAlert(fn: (a: Alert) => void): () => void;
  /** Fires an alert that is not a rule's decision, once (undefined while it already fires). */
  raise(a: RaisedAlert): Alert | undefined;
  /** Resolves what `raise` fired (same rule, decision and device); undefined when it was not firing. */
  resolve(a: Pick<RaisedAlert, 'rule' | 'decision' | 'device'> & { message?: string }): Alert | undefined;
  /**
   * Adds a destination of alert transitions to the durable outbox: it gets what the store still
   * owes a sink of its name, then every transition, at least once. Resolves to a remover.
   */
  addSink(sink: AlertSink): () => Promise<void>;
  /**
   * Tries a formula, filter, transform or decision against the current values of a rule or device,
   * saving nothing: per device, the value, an evaluation error, or (a decision) the alert that would
   * fire. Text that does not compile throws what saving it would (UnprocessableError, line:column);
   * an unknown rule or device is a NotFoundError, a malformed request a ValidationError.
   */
  dryRun(req: DryRun): DryRunResult;
  /** A cheap snapshot for heartbeats: rule states, memory, values per second, series, the store's state. */
  health(): ProbeHealth;
  metrics(): ProbeMetrics;
  /** Schemas of each connector's indicator params and device settings, for docs. */
  connectorSchemas(): Array<{ scheme: string; params: TSchema; deviceParams?: TSchema }>;
}
