import { UnprocessableError, messageOf } from '@probemesh/core';
import type { Datum, Decision, DryRun, DryRunOutcome, DryRunResult } from '@probemesh/model';
import type { Store } from '@probemesh/store';
import { makeAlert } from './alerts.js';
import { compileExpr, type Catalog } from './catalog.js';
import { expressionEnv, roundKey, truthy } from './env.js';

/** What a dry run reads: the configuration and the stored values, at `now`. */
export interface DryRunScope {
  probe: string;
  catalog: Catalog;
  store: Store;
  now: number;
}

/**
 * Tries a formula, filter, transform or decision against the current values, saving nothing. It
 * is compiled as saving compiles it (the same UnprocessableError, with line:column, when it does
 * not), then evaluated on each device it would run on — the rule's targets, or `device` — with the
 * newest stored values as the round. An evaluation error is an outcome, not a throw; a decision
 * that holds gives the alert that would fire (its hold time aside).
 */
export function dryRun(scope: DryRunScope, req: DryRun): DryRunResult {
  const { catalog, store, now } = scope;
  const rule = req.rule === undefined ? undefined : catalog.get('rules', req.rule);
  if (req.device !== undefined) catalog.get('devices', req.device);
  const reading = req.context === 'filter' || req.context === 'transform';
  const id = req.indicator ?? 'draft';
  const where = req.context === 'decision' ? `rule '${req.rule ?? 'draft'}' decision '${req.decision?.id ?? 'draft'}'` : `indicator '${id}' ${req.context === 'calculated' ? 'formula' : req.context}`;
  const expr = compileExpr(req.expr, req.context, (x) => catalog.indicators.has(x) || (req.context !== 'decision' && x === id), where);
  if (req.context === 'calculated' && expr.refs.some((r) => r.name === id)) throw new UnprocessableError(`${where} refers to itself`);
  const shown = req.decision?.indicator;
  if (shown !== undefined && !catalog.indicators.has(shown)) throw new UnprocessableError(`${where}: unknown indicator ${shown}`);
  if (reading && req.indicator !== undefined && catalog.indicators.get(req.indicator)?.def.kind !== 'atomic') throw new UnprocessableError(`${where}: '${req.indicator}' is not an atomic indicator, so it has no readings to filter or transform`);

  const scopeDevices = (rule ? catalog.targetsOf(rule) : [...catalog.devices.values()]).map((d) => d.id);
  const perDevice = reading ? req.indicator !== undefined && catalog.isPerDevice(req.indicator) : catalog.readsDevices(expr) || (shown !== undefined && catalog.isPerDevice(shown));
  const devices: Array<string | undefined> = req.device !== undefined ? [req.device] : perDevice ? scopeDevices : [undefined];
  const round = currentRound(store, expr.refs.filter((r) => r.form === 'round-aggregate').map((r) => r.name), new Set(scopeDevices));
  const decision: Decision | undefined = req.context === 'decision' ? { id: req.decision?.id ?? 'draft', when: req.expr, ...req.decision } : undefined;

  const results = devices.map((device): DryRunOutcome => {
    const on = device === undefined ? {} : { device };
    try {
      const extra = reading ? { value: req.value ?? (req.indicator ? (store.latest({ indicator: req.indicator, ...on })?.datum ?? null) : null), prev: null, dt: null, indicator: id } : {};
      const env = expressionEnv(scope, now, device, extra, round);
      const value = expr.evaluate(env);
      if (typeof value === 'number' && !Number.isFinite(value)) return { ...on, error: `${req.context === 'decision' ? 'it' : 'the formula'} gave ${value}` };
      if (!decision || !truthy(value)) return { ...on, value };
      const shownValue = shown === undefined ? null : env.get(shown);
      const verdict = { rule: req.rule ?? 'draft', decision, ...on, holds: true, ...(shownValue !== null && shownValue !== undefined ? { value: shownValue } : {}) };
      return { ...on, value, alert: makeAlert(scope.probe, verdict, 'firing', now, now) };
    } catch (err) {
      return { ...on, error: messageOf(err) };
    }
  });
  return { context: req.context, results };
}

/** This round as a tick would see it: the newest stored value of each series of `indicators` on the devices in scope. */
function currentRound(store: Store, indicators: string[], devices: ReadonlySet<string>): Map<string, Datum> {
  const round = new Map<string, Datum>();
  for (const indicator of new Set(indicators)) {
    for (const s of store.series({ indicator })) {
      if (!devices.has(s.device!)) continue;
      const v = store.latest(s);
      if (v) round.set(roundKey(indicator, s.device, s.instance), v.datum);
    }
  }
  return round;
}
