import type { AlertSink, ChildState, Clock, Connector, TimerHandle } from '@probemesh/core';
import { NotFoundError, ProbemeshError, Supervisor, UnprocessableError, messageOf, systemClock } from '@probemesh/core';
import type { Alert, Datum, Device, Indicator, Query, QueryResult, Role, Rule, RuleState, TSchema, Value } from '@probemesh/model';
import { Datum as DatumSchema, DryRun as DryRunSchema, Query as QuerySchema, check, componentRules, type DryRun, type DryRunResult } from '@probemesh/model';
import { Store } from '@probemesh/store';
import { AlertBook } from './alerts.js';
import { Catalog } from './catalog.js';
import { ConnectorRegistry } from './registry.js';
import { RuleActor, type RuleCounters } from './rule-actor.js';
import { dryRun } from './dryrun.js';
import { AlertOutbox } from './outbox.js';
import { VERSION } from './version.js';
import { StoreWriter, type StoreHealth } from './writer.js';
import type { AlertFilter, ConfigRevisions, ProbeHealth, RaisedAlert, EntityOf, Kind, ProbeInfo, ProbeMetrics, ProbeService } from './service.js';
import { Kinds } from './service.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** How to start a probe. */
export interface ProbeOptions {
  id: string;
  role?: Role;
  parent?: string;
  dataDir: string;
  connectors: readonly Connector[];
  clock?: Clock;
  retention?: { maxAgeMs?: number; maxBytes?: number };
  version?: string;
  log?: LogFn;
  /** Restart policy of rule actors. */
  restart?: { initialMs?: number; maxMs?: number; maxRestarts?: number; withinMs?: number };
  /** What escaped every handler in this process, by kind, for `metrics()` (the process guard's counts). */
  uncaughtErrors?: () => Record<string, number>;
  /** The mesh node's state as the probe supervises it (running, backing-off while it restarts, failed), for `metrics()`. */
  meshNode?: () => ChildState | undefined;
  /** The flashed configuration revisions `info()` reports (a probe configured through NATS KV). */
  configRevisions?: () => ConfigRevisions;
  /** Destinations of alert transitions from the start (more with `addSink`). */
  sinks?: readonly AlertSink[];
}

/** Configuration entities as a config file declares them. */
export interface Entities {
  devices?: Device[];
  indicators?: Indicator[];
  rules?: Rule[];
}

const RETENTION_EVERY_MS = 60_000;

/** The store kind of the alerts firing now, by alert id: a restarted probe takes them back. */
const FIRING = 'alerts.firing';

/**
 * Puts a config's entities in dependency order — devices, indicators (formulas may use each
 * other: retried while that makes progress), then rules; `refused` hears each one `put` still
 * refuses, with its place in the config (`/indicators/2`), and may throw to stop.
 */
async function putInOrder(set: Entities, put: (kind: Kind, entity: unknown) => Promise<unknown>, refused: (err: unknown, kind: Kind, entity: unknown, path: string) => void): Promise<void> {
  const attempt = async (kind: Kind, entity: unknown, index: number, last: boolean) => {
    try {
      await put(kind, entity);
      return true;
    } catch (err) {
      if (last) refused(err, kind, entity, `/${kind}/${index}`);
      return false;
    }
  };
  for (const [i, d] of (set.devices ?? []).entries()) await attempt(Kinds.devices, d, i, true);
  let pending = [...(set.indicators ?? []).entries()];
  for (let progress = true; pending.length && progress; ) {
    const left: typeof pending = [];
    for (const [i, ind] of pending) if (!(await attempt(Kinds.indicators, ind, i, false))) left.push([i, ind]);
    progress = left.length < pending.length;
    pending = left;
  }
  for (const [i, ind] of pending) await attempt(Kinds.indicators, ind, i, true);
  for (const [i, r] of (set.rules ?? []).entries()) await attempt(Kinds.rules, r, i, true);
}

/** An entity of a configuration that a probe refuses: where it is (`/rules/0`) and the probe's own error. */
export interface EntityProblem {
  path: string;
  error: unknown;
}

/**
 * Checks a configuration's entities as a probe applies them — schemas, connector parameters and
 * device settings, expressions, references — without a store or any connector started: each one
 * a probe would refuse, with its error; [] when it would take them all.
 */
export async function checkEntities(connectors: readonly Connector[], entities: Entities): Promise<EntityProblem[]> {
  const catalog = new Catalog(
    new ConnectorRegistry(connectors, () => {
      throw new ProbemeshError('a configuration check starts no connector');
    }),
  );
  const problems: EntityProblem[] = [];
  await putInOrder(
    entities,
    async (kind, entity) => {
      const { id, compiled } = catalog.prepare(kind, entity);
      catalog.commit(kind, id, compiled);
    },
    (error, _kind, _entity, path) => problems.push({ path, error }),
  );
  return problems;
}

/**
 * A running probe: the monitoring coordinator (docs/ARCHITECTURE.md, Inside a probe). It owns the store, the connector
 * sessions, and one supervised actor per rule, and it is the ProbeService the API serves.
 */
export class Probe implements ProbeService {
  readonly catalog: Catalog;
  readonly alertBook: AlertBook;
  /** The one path of alert transitions to their sinks: durable, at least once, each sink on its own. */
  readonly outbox: AlertOutbox;
  private readonly listeners = new Set<(a: Alert) => void>();
  private readonly supervisor: Supervisor;
  private readonly actors = new Map<string, RuleActor>();
  private readonly counters = new Map<string, RuleCounters>();
  /** Every value stored goes through it: a full disk is a state (rules `store-unavailable`, the `store` alert), not a crash. */
  readonly writer: StoreWriter;
  private retentionTimer?: TimerHandle;
  private readonly startedAt: number;
  private stopped = false;
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: ProbeOptions,
    readonly store: Store,
    readonly connectors: ConnectorRegistry,
    private readonly clock: Clock,
  ) {
    this.catalog = new Catalog(connectors);
    this.startedAt = clock.now();
    const log = opts.log ?? (() => undefined);
    const firing = store.config.list<Alert>(FIRING).filter((a) => a.probe === opts.id);
    this.alertBook = new AlertBook(opts.id, (a) => this.transition(a), firing);
    this.outbox = new AlertOutbox(store, { clock, log, host: this.alertBook });
    for (const sink of opts.sinks ?? []) this.outbox.add(sink);
    this.writer = new StoreWriter(store, { clock, log, onChange: (h) => this.storeChanged(h) });
    this.supervisor = new Supervisor({
      clock,
      backoff: { initialMs: opts.restart?.initialMs ?? 1000, maxMs: opts.restart?.maxMs ?? 60_000, factor: 2, jitter: 0.2 },
      maxRestarts: opts.restart?.maxRestarts ?? 5,
      withinMs: opts.restart?.withinMs ?? 10 * 60_000,
      onEvent: (e) => {
        if (e.type === 'crashed') log('warn', `rule ${e.id} crashed, restarting in ${e.retryInMs} ms: ${e.error}`);
        if (e.type === 'failed') log('error', `rule ${e.id} failed (too many crashes): ${e.error}`);
      },
    });
  }

  /** Opens the store, loads the saved configuration, applies `entities`, and starts the rule actors. */
  static async start(opts: ProbeOptions, entities: Entities = {}): Promise<Probe> {
    const clock = opts.clock ?? systemClock;
    const log = opts.log ?? (() => undefined);
    const store = Store.open({ path: opts.dataDir, ...(opts.retention ? { retention: opts.retention } : {}), now: () => clock.now() });
    const connectors = new ConnectorRegistry(opts.connectors, (scheme) => ({
      clock,
      dataDir: opts.dataDir,
      log: (level, message, fields) => log(level, `[${scheme}] ${message}`, fields),
    }));
    const probe = new Probe(opts, store, connectors, clock);
    try {
      await probe.load(entities);
      probe.settleRestored();
    } catch (err) {
      await probe.stop();
      throw err;
    }
    probe.scheduleRetention();
    return probe;
  }

  /** Saved entities first (what the API changed survives restarts), then the file's, in dependency order. */
  private async load(entities: Entities): Promise<void> {
    const log = this.opts.log ?? (() => undefined);
    const saved: Entities = {
      devices: this.store.config.list<Device>(Kinds.devices),
      indicators: this.store.config.list<Indicator>(Kinds.indicators),
      rules: this.store.config.list<Rule>(Kinds.rules),
    };
    await this.putAll(saved, false, log);
    await this.putAll(entities, true, log);
  }

  /** Puts `set` in dependency order; a saved entity that no longer fits is logged and skipped, a config file's error is thrown. */
  private putAll(set: Entities, strict: boolean, log: LogFn): Promise<void> {
    return putInOrder(
      set,
      (kind, entity) => this.put(kind, entity),
      (err, kind, entity) => {
        if (strict) throw err;
        log('warn', `skipped ${kind} ${JSON.stringify((entity as { id?: string }).id)}: ${messageOf(err)}`);
      },
    );
  }

  /**
   * Resolves the alerts taken back from the store that nothing will judge again: those of a saved
   * rule that no longer loads (the others resolve at their rule's first round where they no longer
   * hold, or when the rule changed its decisions), and the store's own when it takes writes. What
   * another component raised stays for it to resolve.
   */
  private settleRestored(): void {
    const now = this.clock.now();
    for (const rule of new Set(this.alertBook.active().map((a) => a.rule)))
      if (!this.catalog.rules.has(rule) && this.store.config.get(Kinds.rules, rule) !== undefined) this.alertBook.resolveRule(rule, now);
    this.storeChanged(this.writer.health());
  }

  /**
   * Makes the configuration exactly `entities` (a flashed config): puts every entity, then removes
   * what is no longer there (rules first, then indicators, then devices). Stored values stay.
   */
  async replaceAll(entities: Entities): Promise<void> {
    await this.putAll(entities, true, () => undefined);
    const keep = (list?: Array<{ id: string }>) => new Set((list ?? []).map((e) => e.id));
    for (const [kind, ids] of [
      [Kinds.rules, keep(entities.rules)],
      [Kinds.indicators, keep(entities.indicators)],
      [Kinds.devices, keep(entities.devices)],
    ] as const) {
      // Formulas may use each other: remove in passes until nothing more can go.
      for (let gone = true; gone; ) {
        gone = false;
        for (const e of this.catalog.list(kind)) if (!ids.has(e.id)) gone = (await this.remove(kind, e.id).then(() => true, () => false)) || gone;
      }
    }
  }

  private scheduleRetention(): void {
    if (this.stopped) return;
    this.retentionTimer = this.clock.setTimeout(() => {
      this.store
        .enforceRetention()
        .catch((err: unknown) => this.opts.log?.('error', `retention failed: ${messageOf(err)}`))
        .finally(() => this.scheduleRetention());
    }, RETENTION_EVERY_MS);
  }

  /** Serializes configuration writes so validation always sees the state it commits against. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  info(): ProbeInfo {
    const st = this.store.stats();
    return {
      id: this.opts.id,
      role: this.opts.role ?? 'standalone',
      ...(this.opts.parent ? { parent: this.opts.parent } : {}),
      version: this.opts.version ?? VERSION,
      startedAt: this.startedAt,
      connectors: this.connectors.all().map((c) => ({ scheme: c.scheme, summary: c.summary, perDevice: c.perDevice })),
      counts: { indicators: this.catalog.indicators.size, devices: this.catalog.devices.size, rules: this.catalog.rules.size, series: st.series, values: st.values },
      ...(this.opts.configRevisions ? { config: this.opts.configRevisions() } : {}),
    };
  }

  list<K extends Kind>(kind: K): EntityOf[K][] {
    return this.catalog.list(kind);
  }

  get<K extends Kind>(kind: K, id: string): EntityOf[K] {
    return this.catalog.get(kind, id);
  }

  put<K extends Kind>(kind: K, entity: unknown): Promise<{ created: boolean; entity: EntityOf[K] }> {
    return this.serial(async () => {
      const { id, compiled } = this.catalog.prepare(kind, entity);
      if (kind === Kinds.indicators && this.catalog.has(Kinds.indicators, id)) {
        const before = this.catalog.get(Kinds.indicators, id);
        const def = compiled as { def: Indicator };
        if (before.kind !== def.def.kind && this.catalog.usersOf(Kinds.indicators, id).length)
          throw new UnprocessableError(`indicator '${id}' is ${before.kind} and in use; remove its users before making it ${def.def.kind}`);
      }
      const def = ('def' in compiled ? compiled.def : compiled) as EntityOf[K];
      await this.store.config.put(kind, id, def);
      const created = this.catalog.commit(kind, id, compiled);
      if (kind === Kinds.indicators && (def as Indicator).kind === 'static') {
        await this.writer.append([{ indicator: id, ts: this.clock.now(), datum: (def as Extract<Indicator, { kind: 'static' }>).value }]);
      }
      if (kind === Kinds.rules) await this.restartRule(id);
      return { created, entity: def };
    });
  }

  remove(kind: Kind, id: string): Promise<void> {
    return this.serial(async () => {
      this.catalog.remove(kind, id);
      await this.store.config.delete(kind, id);
      if (kind === Kinds.rules) {
        await this.supervisor.stop(id);
        this.actors.delete(id);
        this.counters.delete(id);
        this.alertBook.resolveRule(id, this.clock.now());
      }
    });
  }

  async setStatic(id: string, value: Datum): Promise<void> {
    check(DatumSchema, value, 'static value');
    const before = this.catalog.indicators.get(id)?.def;
    if (before && before.kind !== 'static') throw new UnprocessableError(`indicator '${id}' is ${before.kind}, not static`);
    await this.put(Kinds.indicators, { ...(before ?? { id, kind: 'static' }), value });
  }

  /** (Re)starts the actor of a rule under the supervisor; its counters survive restarts. */
  private async restartRule(id: string): Promise<void> {
    const rule = this.catalog.rules.get(id)!;
    this.alertBook.resolveRule(id, this.clock.now(), new Set(rule.decisions.map((d) => d.def.id)));
    let counters = this.counters.get(id);
    if (!counters) this.counters.set(id, (counters = { ticks: 0, errors: 0, overruns: 0, valuesStored: 0 }));
    const ctx = {
      probe: this.opts.id,
      clock: this.clock,
      catalog: this.catalog,
      connectors: this.connectors,
      store: this.store,
      writer: this.writer,
      alerts: this.alertBook,
    };
    await this.supervisor.start({
      id,
      start: (crash) => {
        const actor = new RuleActor(id, ctx, counters, crash);
        this.actors.set(id, actor);
        return actor;
      },
    });
  }

  /** Runs one tick of a rule now, outside its schedule (tests, "run now"). */
  async tickNow(rule: string): Promise<void> {
    const a = this.actors.get(rule);
    if (!a) throw new NotFoundError('rule', rule);
    await a.tickNow();
  }

  query(q: Query): QueryResult {
    return this.store.query(check(QuerySchema, q, 'query'));
  }

  dataVersion(q: Query): string {
    return this.store.version(q);
  }

  scan(q: Query): Iterable<Value[]> {
    return this.store.scan(check(QuerySchema, q, 'query'));
  }

  ruleStates(): RuleState[] {
    return [...this.catalog.rules.keys()].map((id) => {
      const s = this.supervisor.state(id);
      const c = this.counters.get(id) ?? { ticks: 0, errors: 0, overruns: 0, valuesStored: 0 };
      const held = this.writer.blocks(id);
      const status = this.catalog.rules.get(id)?.def.enabled === false ? 'stopped' : held ? 'store-unavailable' : (s?.status ?? 'stopped');
      return {
        rule: id,
        status,
        ticks: c.ticks,
        errors: c.errors,
        overruns: c.overruns,
        restarts: s?.restarts ?? 0,
        ...(c.lastTick !== undefined ? { lastTick: c.lastTick } : {}),
        ...(c.tickMs !== undefined ? { tickMs: c.tickMs } : {}),
        ...((s?.status === 'backing-off' || s?.status === 'failed') && s.lastError
          ? { lastError: s.lastError }
          : held
            ? { lastError: `its values are held: ${this.writer.health().error}` }
            : c.lastError
              ? { lastError: c.lastError }
              : {}),
        ...(s?.nextRetry !== undefined ? { nextRetry: s.nextRetry } : {}),
      };
    });
  }

  /** The `store` alert: raised when the store stops taking writes, resolved when it takes them again. */
  private storeChanged(h: StoreHealth): void {
    const alert = { rule: componentRules.store, decision: 'unavailable' };
    if (h.available) this.resolve({ ...alert, message: 'the store takes writes again; held values are written' });
    else this.raise({ ...alert, severity: 'critical', message: `the store cannot commit values (${h.error ?? ''}): rules keep running, their values are held and written when space returns` });
  }

  /** Every alert transition: durable for the sinks and for a restart, then live to the listeners. */
  private transition(a: Alert): void {
    void this.outbox.enqueue(a);
    (a.state === 'firing' ? this.store.config.put(FIRING, a.id, a) : this.store.config.delete(FIRING, a.id)).catch((err: unknown) =>
      this.opts.log?.('warn', `alert ${a.id} ${a.state} but not recorded so in the store (${a.state === 'firing' ? 'a restart before it resolves forgets it' : 'a restart resolves it again'}): ${messageOf(err)}`),
    );
    for (const fn of this.listeners) {
      try {
        fn(a);
      } catch (err) {
        this.opts.log?.('error', `an alert listener failed on ${a.id}: ${messageOf(err)}`);
      }
    }
  }

  raise(a: RaisedAlert): Alert | undefined {
    return this.alertBook.raise(a, this.clock.now());
  }

  resolve(a: Pick<RaisedAlert, 'rule' | 'decision' | 'device'> & { message?: string }): Alert | undefined {
    return this.alertBook.resolve(a, this.clock.now());
  }

  addSink(sink: AlertSink): () => Promise<void> {
    this.outbox.add(sink);
    return () => this.outbox.remove(sink.name);
  }

  alerts(filter?: AlertFilter): Alert[] {
    return this.alertBook.list(filter);
  }

  active(): Alert[] {
    return this.alertBook.active();
  }

  onAlert(fn: (a: Alert) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dryRun(req: DryRun): DryRunResult {
    return dryRun({ probe: this.opts.id, catalog: this.catalog, store: this.store, now: this.clock.now() }, check(DryRunSchema, req, 'dry run'));
  }

  health(): ProbeHealth {
    const m = process.memoryUsage();
    return { rules: this.ruleStates(), rssBytes: m.rss, heapUsedBytes: m.heapUsed, valuesPerS: this.writer.valuesPerS(), series: this.store.stats().series, store: this.writer.health() };
  }

  metrics(): ProbeMetrics {
    const st = this.store.stats();
    let ticks = 0;
    let tickErrors = 0;
    let valuesStored = 0;
    for (const c of this.counters.values()) {
      ticks += c.ticks;
      tickErrors += c.errors;
      valuesStored += c.valuesStored;
    }
    const latest: ProbeMetrics['latest'] = [];
    for (const sel of this.store.series().slice(0, 10_000)) {
      const v = this.store.latest(sel);
      if (v && typeof v.datum === 'number') latest.push({ indicator: v.indicator, ...(v.device ? { device: v.device } : {}), ...(v.instance ? { instance: v.instance } : {}), datum: v.datum, ts: v.ts });
    }
    return {
      ticks,
      tickErrors,
      valuesStored,
      alertsFired: this.alertBook.fired,
      storeBytes: st.bytes,
      series: st.series,
      ...((m) => ({ rssBytes: m.rss, heapUsedBytes: m.heapUsed }))(process.memoryUsage()),
      rules: this.ruleStates(),
      connectors: this.connectors.stats(),
      connectorCounters: Object.fromEntries(this.connectors.all().flatMap((c) => (c.counters ? [[c.scheme, c.counters]] : []))),
      store: this.writer.health(),
      sinks: this.outbox.stats(),
      ...(this.opts.uncaughtErrors ? { uncaughtErrors: this.opts.uncaughtErrors() } : {}),
      ...((n) => (n ? { meshNode: n } : {}))(this.opts.meshNode?.()),
      latest,
    };
  }

  connectorSchemas(): Array<{ scheme: string; params: TSchema; deviceParams?: TSchema }> {
    return this.connectors.all().map((c) => ({ scheme: c.scheme, params: c.params, ...(c.deviceParams ? { deviceParams: c.deviceParams } : {}) }));
  }

  /** Stops the actors, the connectors and the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retentionTimer) this.clock.clearTimeout(this.retentionTimer);
    await this.supervisor.stopAll();
    await this.connectors.stop();
    await this.writes.catch(() => undefined);
    await this.writer.stop();
    await this.outbox.stop();
    await this.store.close();
  }
}
