import type { ProbeMetrics } from '@probemesh/runtime';
import type { SseStats } from './sse.js';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l: Record<string, string | undefined>) => {
  const parts = Object.entries(l)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}="${esc(v!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const metricName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/** The probe's health and latest values in the Prometheus text exposition format (0.0.4). */
export function prometheusText(probe: string, m: ProbeMetrics, sse?: SseStats): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string | undefined>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${labels({ probe, ...l })} ${Number.isFinite(v) ? v : 'NaN'}`);
  };
  metric('probemesh_ticks_total', 'counter', 'Rule ticks run.', m.rules.map((r) => [{ rule: r.rule }, r.ticks]));
  metric('probemesh_tick_errors_total', 'counter', 'Readings, formulas and decisions that failed.', m.rules.map((r) => [{ rule: r.rule }, r.errors]));
  metric('probemesh_rule_restarts_total', 'counter', 'Restarts of a crashed rule actor.', m.rules.map((r) => [{ rule: r.rule }, r.restarts]));
  metric('probemesh_tick_duration_seconds', 'gauge', 'Duration of the last tick.', m.rules.filter((r) => r.tickMs !== undefined).map((r) => [{ rule: r.rule }, r.tickMs! / 1000]));
  metric('probemesh_rule_up', 'gauge', '1 when the rule actor is running.', m.rules.map((r) => [{ rule: r.rule, status: r.status }, r.status === 'running' ? 1 : 0]));
  metric('probemesh_values_stored_total', 'counter', 'Values stored by rule ticks.', [[{}, m.valuesStored]]);
  metric('probemesh_alerts_fired_total', 'counter', 'Alerts that fired.', [[{}, m.alertsFired]]);
  metric('probemesh_store_bytes', 'gauge', 'Bytes the store uses.', [[{}, m.storeBytes]]);
  metric('probemesh_series', 'gauge', 'Series in the store.', [[{}, m.series]]);
  metric('probemesh_resident_memory_bytes', 'gauge', 'Resident memory of the probe process.', [[{}, m.rssBytes]]);
  metric('probemesh_heap_used_bytes', 'gauge', 'V8 heap in use.', [[{}, m.heapUsedBytes]]);
  if (sse) {
    metric('probemesh_sse_subscribers', 'gauge', 'Clients following /alerts/stream.', [[{}, sse.subscribers]]);
    metric('probemesh_sse_dropped_total', 'counter', 'Alert stream clients dropped because they did not read.', [[{}, sse.dropped]]);
  }
  const bySink = (f: (s: ProbeMetrics['sinks'][number]) => number) => m.sinks.map((s): [Record<string, string>, number] => [{ sink: s.name }, f(s)]);
  metric('probemesh_alert_sink_pending', 'gauge', 'Alert transitions a sink is still owed.', bySink((s) => s.pending));
  metric('probemesh_alert_sink_delivered_total', 'counter', 'Alert transitions a sink took.', bySink((s) => s.delivered));
  metric('probemesh_alert_sink_retries_total', 'counter', 'Failed deliveries to a sink, each tried again later.', bySink((s) => s.retries));
  metric('probemesh_alert_sink_rejected_total', 'counter', 'Alert transitions a sink refused for good (given up).', bySink((s) => s.rejected));
  if (m.uncaughtErrors) {
    metric('probemesh_uncaught_errors_total', 'counter', 'Errors that escaped every handler, by kind (the process guard: rejections and socket errors are survived, an uncaught exception restarts the probe).', Object.entries(m.uncaughtErrors).map(([kind, n]) => [{ kind }, n]));
  }
  for (const [scheme, stats] of Object.entries(m.connectors)) {
    for (const [k, v] of Object.entries(stats)) metric(`probemesh_connector_${metricName(scheme)}_${metricName(k)}`, 'gauge', `${scheme} connector: ${k}.`, [[{}, v]]);
  }
  metric(
    'probemesh_value',
    'gauge',
    'Latest value of each numeric series (index: the table row, e.g. an ifIndex).',
    // `index`, not `instance`: Prometheus sets `instance` to the scrape target and would rename ours.
    m.latest.map((v) => [{ indicator: v.indicator, device: v.device, index: v.instance }, v.datum as number]),
  );
  return out.join('\n') + '\n';
}
