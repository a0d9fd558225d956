import { setMaxListeners } from 'node:events';
import type { Clock, ConnectorSession, ReadRequest, Reading, TimerHandle, Worker } from '@probemesh/core';
import { Actor, ConflictError, ProbemeshError, TimeoutError, messageOf } from '@probemesh/core';
import type { Expression } from '@probemesh/expr';
import type { Datum, Device, Value } from '@probemesh/model';
import { durationMs } from '@probemesh/model';
import type { Store } from '@probemesh/store';
import type { AlertBook } from './alerts.js';
import type { Catalog, CompiledIndicator, CompiledRule } from './catalog.js';
import { expressionEnv, roundKey, truthy } from './env.js';
import type { ConnectorRegistry } from './registry.js';
import { Round } from './round.js';
import type { StoreWriter } from './writer.js';

/** What every rule actor shares. */
export interface RuleContext {
  probe: string;
  clock: Clock;
  catalog: Catalog;
  connectors: ConnectorRegistry;
  store: Store;
  /** Where values are written: a full disk holds them instead of failing the tick. */
  writer: StoreWriter;
  alerts: AlertBook;
}

/** A tick on the period grid, or one asked for now (`done` hears how it ended). */
type Msg = { type: 'tick'; at: number; done?: { resolve(): void; reject(err: unknown): void } };

const MAX_PROBLEMS_SHOWN = 3;

/** Runs `jobs` with at most `limit` in flight. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
  return out;
}

/** Counters of one rule actor, kept across restarts by the probe. */
export interface RuleCounters {
  ticks: number;
  errors: number;
  overruns: number;
  lastTick?: number;
  tickMs?: number;
  lastError?: string;
  valuesStored: number;
}

/**
 * One actor per rule. Every period it acquires each (indicator × target) through the connectors,
 * filters, transforms and stores the readings, computes the rule's calculated indicators, and
 * applies its decisions. A failed reading or formula is data (counted, shown in the rule state);
 * only a bug escapes a tick, and that crashes the actor for its supervisor to restart.
 */
export class RuleActor implements Worker {
  private readonly actor: Actor<Msg>;
  private timer?: TimerHandle;
  /** The period time of the tick scheduled last. */
  private scheduledAt = -Infinity;
  private stopped = false;
  /** Previous raw reading per series, for `prev`/`dt` in filters and transforms (counter rates). */
  private readonly prev = new Map<string, { datum: Datum; ts: number }>();
  /** Periods in a row each target read by this rule has not answered, for `unanswered` decisions. */
  private readonly silent = new Map<string, number>();
  /** Ticks asked for with `tickNow` and not yet run: told when the actor stops first. */
  private readonly asked = new Set<{ resolve(): void; reject(err: unknown): void }>();

  constructor(
    private readonly ruleId: string,
    private readonly ctx: RuleContext,
    readonly counters: RuleCounters,
    crash: (err: unknown) => void,
  ) {
    this.actor = new Actor<Msg>(
      (m, signal) =>
        this.tick(m.at, signal).then(
          () => m.done?.resolve(),
          (err: unknown) => {
            m.done?.reject(err);
            throw err; // still a crash: the supervisor restarts the actor
          },
        ),
      crash,
      4,
    );
    this.schedule();
    // Continuous connectors start listening now, not at the first tick a period away.
    const rule = this.rule();
    if (rule && rule.def.enabled !== false) {
      Promise.resolve()
        .then(() => this.declare(this.plan(rule, ctx.catalog.targetsOf(rule.def), []).values()))
        .catch((err: unknown) => (counters.lastError = messageOf(err)));
    }
  }

  private rule(): CompiledRule | undefined {
    return this.ctx.catalog.rules.get(this.ruleId);
  }

  /** Next tick on the period grid, so windows line up across probes (run `offset` later, its values still stamped `at`). */
  private schedule(): void {
    if (this.stopped) return;
    const rule = this.rule();
    if (!rule || rule.def.enabled === false) return;
    const period = Math.max(1, durationMs(rule.def.period));
    const offset = rule.def.offset !== undefined ? durationMs(rule.def.offset) : 0;
    const now = this.ctx.clock.now();
    let at = Math.floor((now - offset) / period) * period + period;
    // A timer may fire a few ms early by the wall clock (libuv counts from the time its loop turn
    // began): the period it was set for is then still ahead, and must not be scheduled twice.
    while (at <= this.scheduledAt) at += period;
    this.scheduledAt = at;
    this.timer = this.ctx.clock.setTimeout(() => {
      if (this.actor.load.busy || this.actor.has('tick')) this.counters.overruns++;
      else this.actor.send({ type: 'tick', at });
      this.schedule();
    }, at + offset - now);
  }

  /** Runs one tick now, through the mailbox so it never overlaps another (tests, and "run now" from the API). */
  tickNow(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = {
        resolve: () => (this.asked.delete(done), resolve()),
        reject: (err: unknown) => (this.asked.delete(done), reject(err)),
      };
      this.asked.add(done);
      if (!this.actor.send({ type: 'tick', at: this.ctx.clock.now(), done })) done.reject(new ConflictError(`rule '${this.ruleId}' is ${this.stopped ? 'stopped' : 'busy: its mailbox is full'}; try again`));
    });
  }

  private async tick(at: number, stop: AbortSignal): Promise<void> {
    const rule = this.rule();
    if (!rule) return;
    const { clock } = this.ctx;
    const started = clock.now();
    const period = durationMs(rule.def.period);
    const timeoutMs = rule.def.timeout !== undefined ? durationMs(rule.def.timeout) : Math.min(period, 10_000);
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // every read of the tick listens to it: one per device is expected
    const onStop = () => controller.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    const timer = clock.setTimeout(() => controller.abort(new TimeoutError(`rule '${this.ruleId}' tick timed out after ${timeoutMs} ms`)), timeoutMs);
    const problems: string[] = [];
    try {
      const round = new Round(at);
      const targets = this.ctx.catalog.targetsOf(rule.def);
      const acquired = await this.acquire(rule, targets, at, controller.signal, round, problems);
      if (stop.aborted) return;
      await this.ctx.writer.append(acquired, this.ruleId);
      const calculated = await this.calculate(rule, targets, round, problems);
      this.decide(rule, targets, at, round.now.values, problems);
      this.counters.valuesStored += acquired.length + calculated.length;
    } finally {
      clock.clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      const c = this.counters;
      c.ticks++;
      c.errors += problems.length;
      c.lastTick = at;
      c.tickMs = clock.now() - started;
      if (problems.length) c.lastError = problems.slice(0, MAX_PROBLEMS_SHOWN).join('; ') + (problems.length > MAX_PROBLEMS_SHOWN ? ` (+${problems.length - MAX_PROBLEMS_SHOWN} more)` : '');
      else c.lastError = undefined;
    }
  }

  /** The reads a rule makes on its targets, grouped per (scheme, device); problems say what cannot be read. */
  private plan(rule: CompiledRule, targets: Device[], problems: string[]): Map<string, { scheme: string; requests: ReadRequest[]; indicators: CompiledIndicator[] }> {
    const { catalog, connectors } = this.ctx;
    const groups = new Map<string, { scheme: string; requests: ReadRequest[]; indicators: CompiledIndicator[] }>();
    for (const id of rule.def.indicators) {
      const ind = catalog.indicators.get(id);
      if (!ind || ind.def.kind !== 'atomic') continue;
      const scheme = ind.def.source.scheme;
      if (!connectors.has(scheme)) {
        problems.push(`${id}: no connector for scheme '${scheme}'`);
        continue;
      }
      const connector = connectors.get(scheme);
      // A device that declares its protocols is read only over those; one that declares none gets defaults.
      const speakers = targets.filter((d) => !d.protocols || scheme in d.protocols);
      for (const device of connector.perDevice ? speakers : [undefined]) {
        const gk = `${scheme}\u0000${device?.id ?? ''}`;
        let g = groups.get(gk);
        if (!g) groups.set(gk, (g = { scheme, requests: [], indicators: [] }));
        g.requests.push({ indicator: id, device, params: ind.params, deviceParams: device?.protocols?.[scheme], rule: rule.def.id });
        g.indicators.push(ind);
      }
      if (connector.perDevice && speakers.length === 0) problems.push(`${id}: no target of rule '${rule.def.id}' speaks ${scheme}`);
    }
    return groups;
  }

  /** Tells the connectors what this rule reads (so captures and listeners run between ticks). */
  private declare(groups: Iterable<{ scheme: string; requests: ReadRequest[] }>): Promise<void> {
    const { connectors } = this.ctx;
    const byScheme = new Map<string, ReadRequest[]>();
    for (const g of groups) {
      if (connectors.get(g.scheme).perDevice) continue; // per-device reads keep nothing open
      const list = byScheme.get(g.scheme);
      if (list) list.push(...g.requests);
      else byScheme.set(g.scheme, [...g.requests]);
    }
    return connectors.declare(this.ruleId, byScheme);
  }

  /** Reads every atomic indicator on every target, batched per (scheme, device), bounded in concurrency. */
  private async acquire(rule: CompiledRule, targets: Device[], at: number, signal: AbortSignal, round: Round, problems: string[]): Promise<Value[]> {
    const { connectors } = this.ctx;
    const groups = this.plan(rule, targets, problems);
    const declared = this.declare(groups.values()).then(
      () => undefined,
      (err: unknown) => messageOf(err),
    );
    const asked = new Set<string>();
    const answered = new Set<string>();
    const jobs = [...groups.values()].map((g) => async () => {
      let readings: Reading[];
      try {
        const session: ConnectorSession = await connectors.session(g.scheme);
        if (session.sync) {
          const syncError = await declared; // per-device reads do not wait for other schemes' syncs
          if (syncError) throw new ProbemeshError(syncError, { retryable: true });
        }
        readings = await session.read(g.requests, signal);
      } catch (err) {
        const error = signal.aborted ? messageOf(signal.reason) : messageOf(err);
        readings = g.requests.map(() => ({ ok: false as const, kind: 'unreachable' as const, error, retryable: true }));
      }
      const out: Value[] = [];
      g.requests.forEach((req, i) => {
        const r = readings[i];
        const where = `${req.indicator}${req.device ? `@${req.device.id}` : ''}`;
        if (req.device) asked.add(req.device.id);
        if (req.device && r?.ok) answered.add(req.device.id);
        if (!r) return void problems.push(`${where}: connector returned no reading`);
        if (!r.ok) return void problems.push(`${where}: ${r.error}`);
        const device = req.device?.id;
        for (const s of r.samples) {
          const key = roundKey(req.indicator, device, s.instance);
          const ts = s.ts ?? at;
          const v = this.refine(g.indicators[i]!, key, device, s.instance, s.datum, ts, problems);
          if (v === undefined) continue;
          round.set(ts, req.indicator, key, v, s.incomplete);
          // Built field by field: a table of 20,000 rows makes as many values each tick.
          const value: Value = { indicator: req.indicator, rule: rule.def.id, ts, datum: v };
          if (device) value.device = device;
          if (s.instance) value.instance = s.instance;
          if (s.incomplete) value.incomplete = true;
          out.push(value);
        }
      });
      return out;
    });
    const values = (await pool(jobs, rule.def.concurrency ?? 32)).flat();
    for (const d of [...this.silent.keys()]) if (!asked.has(d)) this.silent.delete(d);
    for (const d of asked) this.silent.set(d, answered.has(d) ? 0 : (this.silent.get(d) ?? 0) + 1);
    return values;
  }

  /** Filter, then transform, one raw reading; undefined when dropped. */
  private refine(ind: CompiledIndicator, key: string, device: string | undefined, instance: string | undefined, raw: Datum, ts: number, problems: string[]): Datum | undefined {
    if (!ind.filter && !ind.transform) return raw; // only expressions read `prev` and `dt`
    const prev = this.prev.get(key);
    const prevDatum = prev?.datum ?? null;
    const prevTs = prev?.ts;
    if (!prev) this.prev.set(key, { datum: raw, ts });
    else {
      // Updated in place: no new long-lived object per reading each tick.
      prev.datum = raw;
      prev.ts = ts;
    }
    const env = expressionEnv(this.ctx, ts, device, {
      value: raw,
      prev: prevDatum,
      dt: prevTs !== undefined ? (ts - prevTs) / 1000 : null,
      indicator: ind.def.id,
      ...(instance ? { instance } : {}),
    });
    const where = `${ind.def.id}${device ? `@${device}` : ''}`;
    try {
      if (ind.filter && !truthy(ind.filter.evaluate(env))) return undefined;
      if (!ind.transform) return raw;
      const out = ind.transform.evaluate(env);
      if (out === null || out === undefined) return undefined; // e.g. a rate on the first reading
      if (typeof out === 'boolean') return out ? 1 : 0;
      if (typeof out === 'number' && !Number.isFinite(out)) {
        problems.push(`${where}: transform gave ${out}`);
        return undefined;
      }
      return out;
    } catch (err) {
      problems.push(`${where}: ${messageOf(err)}`);
      return undefined;
    }
  }

  /**
   * Computes the rule's calculated indicators in the order listed, per device or once for the
   * rule. A formula follows the inputs this rule reads or computes: it is computed at each time at
   * which one of them has a new reading this round (under that time: a merged window's start), from
   * every input as it was then, and only where it reads a new one — never again under a new time
   * from old readings; an earlier time read again (a late window) is computed again. A formula over
   * none of them (statics, other rules' values) is computed at each tick. A figure computed from an
   * incomplete input is incomplete.
   */
  private async calculate(rule: CompiledRule, targets: Device[], round: Round, problems: string[]): Promise<Value[]> {
    const { catalog } = this.ctx;
    const out: Value[] = [];
    let stored = 0;
    const formulas = rule.def.indicators.map((id) => catalog.indicators.get(id)?.formula);
    const own = new Set(rule.def.indicators.filter((id) => catalog.indicators.get(id)?.def.kind !== 'static'));
    for (const [i, id] of rule.def.indicators.entries()) {
      const formula = formulas[i];
      if (!formula) continue;
      const follows = new Set(formula.refs.map((r) => r.name).filter((n) => own.has(n)));
      const scopes: Array<string | undefined> = catalog.readsDevices(formula) ? targets.map((d) => d.id) : [undefined];
      for (const ts of follows.size ? round.timesOf(follows) : [round.at]) {
        const slot = round.slot(ts);
        for (const device of scopes) {
          const where = `${id}${device ? `@${device}` : ''}`;
          const read = { fresh: follows.size === 0, incomplete: false };
          try {
            const r = formula.evaluate(expressionEnv(this.ctx, ts, device, { indicator: id }, undefined, { slot, asOf: ts < round.at, read }));
            if (!read.fresh) continue; // nothing new for this device at this time
            if (r === null || r === undefined) continue; // an input is missing
            const datum = typeof r === 'boolean' ? (r ? 1 : 0) : r;
            if (typeof datum === 'number' && !Number.isFinite(datum)) {
              problems.push(`${where}: formula gave ${datum}`);
              continue;
            }
            round.set(ts, id, roundKey(id, device), datum, read.incomplete);
            const v: Value = { indicator: id, rule: rule.def.id, ts, datum };
            if (device) v.device = device;
            if (read.incomplete) v.incomplete = true;
            out.push(v);
          } catch (err) {
            if (read.fresh) problems.push(`${where}: ${messageOf(err)}`);
          }
        }
      }
      // A later formula reading this one's history must see this round's value: store it first.
      if (out.length > stored && formulas.slice(i + 1).some((f) => f?.refs.some((r) => r.form === 'window' && r.name === id))) {
        await this.ctx.writer.append(out.slice(stored), this.ruleId);
        stored = out.length;
      }
    }
    await this.ctx.writer.append(out.slice(stored), this.ruleId);
    return out;
  }

  /** Applies each decision per device (when it reads device values) or once for the rule; a dead-man per target read. */
  private decide(rule: CompiledRule, targets: Device[], at: number, round: ReadonlyMap<string, Datum>, problems: string[]): void {
    for (const { def: decision, when } of rule.decisions) {
      const id = decision.id;
      if (!when) {
        for (const [device, periods] of this.silent) {
          // Silent for fewer than N periods is not judged yet: an alert taken back after a restart stays as it is.
          if (periods > 0 && periods < decision.unanswered!) continue;
          this.ctx.alerts.apply({ rule: rule.def.id, decision, device, holds: periods > 0, value: periods }, at);
        }
        continue;
      }
      const perDevice = this.ctx.catalog.readsDevices(when) || (decision.indicator !== undefined && this.ctx.catalog.isPerDevice(decision.indicator));
      for (const device of perDevice ? targets.map((d) => d.id) : [undefined]) {
        try {
          const env = expressionEnv(this.ctx, at, device, {}, round);
          const r = when.evaluate(env);
          if (r === null || r === undefined) continue; // no data: keep the alert as it is
          const value = decision.indicator ? env.get(decision.indicator) : undefined;
          this.ctx.alerts.apply({ rule: rule.def.id, decision, ...(device ? { device } : {}), holds: truthy(r), ...(value !== null && value !== undefined ? { value } : {}) }, at);
        } catch (err) {
          problems.push(`decision ${id}${device ? `@${device}` : ''}: ${messageOf(err)}`);
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    await this.actor.stop(`rule '${this.ruleId}' stopped`);
    for (const done of [...this.asked]) done.reject(new ConflictError(`rule '${this.ruleId}' stopped before its tick ran`));
    await this.ctx.connectors.declare(this.ruleId, new Map()).catch(() => undefined);
  }
}
