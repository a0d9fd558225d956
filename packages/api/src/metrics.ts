import { RuleStatus } from '@probemesh/model';
import type { ProbeMetrics } from '@probemesh/runtime';
import type { AnswerCache } from './records.js';
import type { SseStats } from './sse.js';

type Labels = Record<string, string | undefined>;
type Sample = [Labels, number];

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l: Labels) => {
  const parts = Object.entries(l)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}="${esc(v!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const metricName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/** Every status a rule can be in, for the one-hot `probemesh_rule_status`. */
const RULE_STATUSES = RuleStatus.anyOf.map((s) => s.const as string);

/**
 * A connector stat as Prometheus names it: `probemesh_connector_<stat>`, a stat in ms read in
 * seconds (`_ms` → `_seconds`), and `_total` on the ones the connector declares counters.
 */
function connectorMetric(stat: string, counter: boolean): { name: string; unit: string; scale: number } {
  const ms = stat.endsWith('_ms');
  const base = `probemesh_connector_${metricName(ms ? `${stat.slice(0, -3)}_seconds` : stat)}`;
  return { name: counter ? `${base}_total` : base, unit: ms ? ' (in seconds)' : '', scale: ms ? 1e-3 : 1 };
}

/**
 * The probe's health and latest values in the Prometheus text exposition format (0.0.4). Names
 * follow Prometheus conventions: base units in the name (seconds, bytes), `_total` on counters,
 * one family per name whatever adds to it (connectors share theirs, told apart by `scheme`).
 */
export function prometheusText(probe: string, m: ProbeMetrics, api: { sse?: SseStats; answers?: Pick<AnswerCache, 'hits' | 'held'> } = {}): string {
  const { sse, answers } = api;
  const families = new Map<string, { type: 'counter' | 'gauge'; help: string; samples: Sample[] }>();
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => {
    const f = families.get(name);
    if (!f) families.set(name, { type, help, samples: [...samples] });
    else if (f.type === type) f.samples.push(...samples);
    // A name taken by a family of another type is left out: Prometheus would refuse the whole scrape.
  };
  metric('probemesh_ticks_total', 'counter', 'Rule ticks run.', m.rules.map((r) => [{ rule: r.rule }, r.ticks]));
  metric('probemesh_tick_errors_total', 'counter', 'Readings, formulas and decisions that failed.', m.rules.map((r) => [{ rule: r.rule }, r.errors]));
  metric('probemesh_rule_tick_overruns_total', 'counter', 'Ticks skipped because the one before was still running (reads slower than the period).', m.rules.map((r) => [{ rule: r.rule }, r.overruns ?? 0]));
  metric('probemesh_rule_restarts_total', 'counter', 'Restarts of a crashed rule actor.', m.rules.map((r) => [{ rule: r.rule }, r.restarts]));
  metric('probemesh_tick_duration_seconds', 'gauge', 'Duration of the last tick.', m.rules.filter((r) => r.tickMs !== undefined).map((r) => [{ rule: r.rule }, r.tickMs! / 1000]));
  metric('probemesh_rule_up', 'gauge', '1 when the rule actor is running, else 0 (probemesh_rule_status says which status).', m.rules.map((r) => [{ rule: r.rule }, r.status === 'running' ? 1 : 0]));
  metric(
    'probemesh_rule_status',
    'gauge',
    `The status of each rule, one-hot: 1 for the one it is in, 0 for the others (${RULE_STATUSES.join(', ')}).`,
    m.rules.flatMap((r) => RULE_STATUSES.map((status): Sample => [{ rule: r.rule, status }, r.status === status ? 1 : 0])),
  );
  metric('probemesh_values_stored_total', 'counter', 'Values stored by rule ticks.', [[{}, m.valuesStored]]);
  metric('probemesh_alerts_fired_total', 'counter', 'Alerts that fired.', [[{}, m.alertsFired]]);
  metric('probemesh_store_bytes', 'gauge', 'Bytes the store uses.', [[{}, m.storeBytes]]);
  metric('probemesh_store_series', 'gauge', 'Series in the store.', [[{}, m.series]]);
  metric('probemesh_resident_memory_bytes', 'gauge', 'Resident memory of the probe process.', [[{}, m.rssBytes]]);
  metric('probemesh_heap_used_bytes', 'gauge', 'V8 heap in use.', [[{}, m.heapUsedBytes]]);
  if (sse) {
    metric('probemesh_sse_subscribers', 'gauge', 'Clients following /alerts/stream.', [[{}, sse.subscribers]]);
    metric('probemesh_sse_dropped_total', 'counter', 'Alert stream clients dropped because they did not read.', [[{}, sse.dropped]]);
  }
  if (answers) {
    metric('probemesh_api_answers_kept_bytes', 'gauge', 'Bytes of large query answers kept until their series change.', [[{}, answers.held]]);
    metric('probemesh_api_answers_reused_total', 'counter', 'Query answers sent from those kept, not read and encoded again.', [[{}, answers.hits]]);
  }
  const bySink = (f: (s: ProbeMetrics['sinks'][number]) => number) => m.sinks.map((s): Sample => [{ sink: s.name }, f(s)]);
  metric('probemesh_alert_sink_pending', 'gauge', 'Alert transitions a sink is still owed.', bySink((s) => s.pending));
  metric('probemesh_alert_sink_delivered_total', 'counter', 'Alert transitions a sink took.', bySink((s) => s.delivered));
  metric('probemesh_alert_sink_retries_total', 'counter', 'Failed deliveries to a sink, each tried again later.', bySink((s) => s.retries));
  metric('probemesh_alert_sink_rejected_total', 'counter', 'Alert transitions a sink refused for good (given up).', bySink((s) => s.rejected));
  if (m.uncaughtErrors) {
    metric('probemesh_uncaught_errors_total', 'counter', 'Errors that escaped every handler, by kind (the process guard: rejections and socket errors are survived, an uncaught exception restarts the probe).', Object.entries(m.uncaughtErrors).map(([kind, n]) => [{ kind }, n]));
  }
  if (m.meshNode) {
    metric('probemesh_mesh_node_up', 'gauge', '1 while the mesh node runs, 0 while it is restarted whole after one of its children failed, or after it failed past its own restart limit.', [[{}, m.meshNode.status === 'running' ? 1 : 0]]);
    metric('probemesh_mesh_node_restarts_total', 'counter', 'Restarts of the whole mesh node, each after one of its children crashed past its restart limit.', [[{}, m.meshNode.restarts]]);
  }
  for (const [scheme, stats] of Object.entries(m.connectors)) {
    const counters = new Set(m.connectorCounters[scheme]);
    for (const [stat, v] of Object.entries(stats)) {
      const counter = counters.has(stat);
      const { name, unit, scale } = connectorMetric(stat, counter);
      metric(name, counter ? 'counter' : 'gauge', `Connector self-metric ${stat}${unit}, by scheme.`, [[{ scheme }, v * scale]]);
    }
  }
  metric(
    'probemesh_value',
    'gauge',
    'Latest value of each numeric series (index: the table row, e.g. an ifIndex).',
    // `index`, not `instance`: Prometheus sets `instance` to the scrape target and would rename ours.
    m.latest.map((v) => [{ indicator: v.indicator, device: v.device, index: v.instance }, v.datum as number]),
  );
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
    // One sample per label set: a repeated one (two stats that clean up to one name) would fail the scrape.
    const seen = new Set<string>();
    for (const [l, v] of f.samples) {
      const line = `${name}${labels({ probe, ...l })}`;
      if (seen.has(line)) continue;
      seen.add(line);
      out.push(`${line} ${Number.isFinite(v) ? v : 'NaN'}`);
    }
  }
  return out.join('\n') + '\n';
}
