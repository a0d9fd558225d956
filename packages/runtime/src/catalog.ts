import { ConflictError, NotFoundError, UnprocessableError } from '@probemesh/core';
import { compile, type Context, type Expression } from '@probemesh/expr';
import { Device, Indicator, Rule, check, componentRules, durationMs, issues, type Datum, type Decision, type TSchema } from '@probemesh/model';
import type { ConnectorRegistry } from './registry.js';
import type { EntityOf, Kind } from './service.js';

const schemaOf: Record<Kind, TSchema> = { indicators: Indicator, devices: Device, rules: Rule };
const singular: Record<Kind, string> = { indicators: 'indicator', devices: 'device', rules: 'rule' };

/**
 * Ids no entity of a kind may take, and what holds each: a component's alerts (a user rule of that
 * id would share their alert ids), or a fixed API route beside `/<kind>/{id}` (it would hide the entity).
 */
const RESERVED: { readonly [K in Kind]: Readonly<Record<string, string>> } = {
  indicators: {},
  devices: {},
  rules: {
    [componentRules.store]: "the store's own alerts (a full disk)",
    [componentRules.mesh]: "the mesh's dead-man alerts (a child probe gone quiet)",
    states: "the API's GET /rules/states (every rule's state)",
  },
};

/** Compiled forms of an indicator's expressions, made once when it is saved. */
export interface CompiledIndicator {
  def: Indicator;
  filter?: Expression;
  transform?: Expression;
  formula?: Expression;
  /** Source parameters without `scheme`, for atomic indicators. */
  params?: unknown;
}

/** Compiled decisions of a rule: a condition (`when`), or a dead-man (`def.unanswered`). */
export interface CompiledRule {
  def: Rule;
  decisions: Array<{ def: Decision; when?: Expression }>;
}

/** Compiles an expression as saving does: its error (with line:column) prefixed by `where`, an UnprocessableError. */
export function compileExpr(src: string, context: Context, known: (id: string) => boolean, where: string): Expression {
  try {
    return compile(src, { context, known });
  } catch (err) {
    throw new UnprocessableError(`${where}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The probe's configuration in memory: indicators, devices and rules, each validated and compiled
 * when saved, with the references between them checked both ways (no rule over a missing
 * indicator, no removing an indicator a rule or formula still uses).
 */
export class Catalog {
  readonly indicators = new Map<string, CompiledIndicator>();
  readonly devices = new Map<string, Device>();
  readonly rules = new Map<string, CompiledRule>();

  constructor(private readonly connectors: ConnectorRegistry) {}

  list<K extends Kind>(kind: K): EntityOf[K][] {
    const m = this.map(kind);
    return [...m.values()].map((e) => ('def' in e ? e.def : e)) as EntityOf[K][];
  }

  get<K extends Kind>(kind: K, id: string): EntityOf[K] {
    const e = this.map(kind).get(id);
    if (!e) throw new NotFoundError(singular[kind], id);
    return ('def' in e ? e.def : e) as EntityOf[K];
  }

  has(kind: Kind, id: string): boolean {
    return this.map(kind).has(id);
  }

  private map(kind: Kind): Map<string, CompiledIndicator | Device | CompiledRule> {
    return this[kind] as Map<string, CompiledIndicator | Device | CompiledRule>;
  }

  /** Validates and compiles `entity` as a `kind` without saving it; throws what is wrong. */
  prepare<K extends Kind>(kind: K, entity: unknown): { id: string; compiled: CompiledIndicator | Device | CompiledRule } {
    const what = singular[kind];
    const def = check(schemaOf[kind], entity, what) as EntityOf[K];
    const reserved = Object.hasOwn(RESERVED[kind], def.id) ? RESERVED[kind][def.id] : undefined;
    if (reserved) throw new UnprocessableError(`${what} '${def.id}': the id '${def.id}' is reserved for ${reserved}; give the ${what} another id`);
    const known = (id: string) => this.indicators.has(id) || id === def.id;
    switch (kind) {
      case 'indicators':
        return { id: def.id, compiled: this.prepareIndicator(def as Indicator, known) };
      case 'devices':
        return { id: def.id, compiled: this.prepareDevice(def as Device) };
      case 'rules':
        return { id: def.id, compiled: this.prepareRule(def as Rule) };
    }
    throw new UnprocessableError(`unknown kind ${kind as string}`);
  }

  private prepareIndicator(def: Indicator, known: (id: string) => boolean): CompiledIndicator {
    const where = `indicator '${def.id}'`;
    switch (def.kind) {
      case 'atomic': {
        const connector = this.connectors.get(def.source.scheme);
        const { scheme: _scheme, ...params } = def.source;
        const bad = issues(connector.params, params);
        if (bad.length) throw new UnprocessableError(`${where}: ${def.source.scheme} parameters: ${bad.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`);
        const problem = connector.check?.(params); // the connector's own save-time check (e.g. a pattern RE2 cannot run)
        if (problem) throw new UnprocessableError(`${where}: ${def.source.scheme} parameters: ${problem}`);
        return {
          def,
          params,
          ...(def.filter ? { filter: compileExpr(def.filter, 'filter', known, `${where} filter`) } : {}),
          ...(def.transform ? { transform: compileExpr(def.transform, 'transform', known, `${where} transform`) } : {}),
        };
      }
      case 'calculated': {
        const formula = compileExpr(def.formula, 'calculated', known, `${where} formula`);
        if (formula.refs.some((r) => r.name === def.id)) throw new UnprocessableError(`${where} formula refers to itself`);
        return { def, formula };
      }
      case 'static':
        return { def };
    }
  }

  private prepareDevice(def: Device): Device {
    for (const [scheme, settings] of Object.entries(def.protocols ?? {})) {
      if (!this.connectors.has(scheme)) continue; // settings for a scheme this probe lacks are kept, not used
      const schema = this.connectors.get(scheme).deviceParams;
      const bad = schema ? issues(schema, settings) : [];
      if (bad.length) throw new UnprocessableError(`device '${def.id}': ${scheme} settings: ${bad.map((i) => `${i.path || '/'} ${i.message}`).join('; ')}`);
    }
    return def;
  }

  private prepareRule(def: Rule): CompiledRule {
    const where = `rule '${def.id}'`;
    const missing = def.indicators.filter((i) => !this.indicators.has(i));
    if (missing.length) throw new UnprocessableError(`${where}: unknown indicator(s) ${missing.join(', ')}`);
    const missingDevices = (def.targets?.devices ?? []).filter((d) => !this.devices.has(d));
    if (missingDevices.length) throw new UnprocessableError(`${where}: unknown device(s) ${missingDevices.join(', ')}`);
    if (def.offset !== undefined && durationMs(def.offset) > durationMs(def.period) / 2)
      throw new UnprocessableError(`${where}: offset ${def.offset} is more than half the period (${def.period}): a round would run too close to the next period's`);
    const known = (id: string) => this.indicators.has(id);
    const decisions = (def.decisions ?? []).map((d) => {
      if ((d.when === undefined) === (d.unanswered === undefined))
        throw new UnprocessableError(`${where} decision '${d.id}': give either when (a condition) or unanswered (periods without an answer from a target), ${d.when === undefined ? 'not neither' : 'not both'}`);
      return { def: d, ...(d.when !== undefined ? { when: compileExpr(d.when, 'decision', known, `${where} decision '${d.id}'`) } : {}) };
    });
    const ids = new Set<string>();
    for (const d of def.decisions ?? []) {
      if (ids.has(d.id)) throw new UnprocessableError(`${where}: decision id '${d.id}' is used twice`);
      ids.add(d.id);
      if (d.indicator && !this.indicators.has(d.indicator)) throw new UnprocessableError(`${where} decision '${d.id}': unknown indicator ${d.indicator}`);
    }
    return { def, decisions };
  }

  /** Saves what `prepare` made. */
  commit(kind: Kind, id: string, compiled: CompiledIndicator | Device | CompiledRule): boolean {
    const m = this.map(kind);
    const created = !m.has(id);
    m.set(id, compiled);
    return created;
  }

  /** Throws a ConflictError when something still uses `id`; else forgets it. */
  remove(kind: Kind, id: string): void {
    if (!this.has(kind, id)) throw new NotFoundError(singular[kind], id);
    const users = this.usersOf(kind, id);
    if (users.length) throw new ConflictError(`${singular[kind]} '${id}' is still used by ${users.join(', ')}`);
    this.map(kind).delete(id);
  }

  /** What refers to `id`: rules naming it, formulas and expressions using it. */
  usersOf(kind: Kind, id: string): string[] {
    const out: string[] = [];
    if (kind === 'indicators') {
      for (const r of this.rules.values()) {
        if (r.def.indicators.includes(id) || r.def.decisions?.some((d) => d.indicator === id) || r.decisions.some((d) => d.when?.refs.some((x) => x.name === id)))
          out.push(`rule '${r.def.id}'`);
      }
      for (const i of this.indicators.values()) {
        const exprs = [i.formula, i.filter, i.transform].filter((e): e is Expression => !!e);
        if (i.def.id !== id && exprs.some((e) => e.refs.some((x) => x.name === id))) out.push(`indicator '${i.def.id}'`);
      }
    } else if (kind === 'devices') {
      for (const r of this.rules.values()) if (r.def.targets?.devices?.includes(id)) out.push(`rule '${r.def.id}'`);
    }
    return out;
  }

  /** Whether an expression reads a per-device value by a bare name, so it is evaluated once per target. */
  readsDevices(e: Expression, seen = new Set<string>()): boolean {
    return e.refs.some((r) => r.form === 'bare' && this.isPerDevice(r.name, seen));
  }

  /** Whether an indicator has a value per device: per-device atomic ones, and formulas over them. */
  isPerDevice(indicator: string, seen = new Set<string>()): boolean {
    if (seen.has(indicator)) return false;
    seen.add(indicator);
    const ind = this.indicators.get(indicator);
    if (!ind) return false;
    if (ind.def.kind === 'atomic') return this.connectors.has(ind.def.source.scheme) && this.connectors.get(ind.def.source.scheme).perDevice;
    return ind.formula ? this.readsDevices(ind.formula, seen) : false;
  }

  /** The value of a static indicator, if `id` is one. */
  staticValue(id: string): Datum | undefined {
    const i = this.indicators.get(id)?.def;
    return i?.kind === 'static' ? i.value : undefined;
  }

  /** The devices a rule runs on: listed ids, plus devices whose tags match every tag of the selector. */
  targetsOf(rule: Rule): Device[] {
    const out = new Map<string, Device>();
    for (const id of rule.targets?.devices ?? []) {
      const d = this.devices.get(id);
      if (d) out.set(id, d);
    }
    const tags = rule.targets?.tags;
    if (tags && Object.keys(tags).length) {
      for (const d of this.devices.values()) if (Object.entries(tags).every(([k, v]) => d.tags?.[k] === v)) out.set(d.id, d);
    }
    return [...out.values()];
  }
}
