// A scenario of `npm run bench -- faults`: a real probe process holding 1M values answers four
// parallel `last=1000000` queries, four pages of 100,000 and two exports of every record (read
// token). Reports its peak resident memory (value) beside /health latency and the other rule's ticks.
import { bigQueryScenario, percentile, seedValues, startProbeProcess } from '../../test/probe-process.js';

/** Runs the scenario; returns its bench lines. */
export async function run(opts: { quick: boolean }): Promise<Array<Record<string, unknown>>> {
  const undo: Array<() => unknown> = [];
  try {
    const values = 1_000_000;
    const p = await startProbeProcess(
      (fn) => undo.push(fn),
      { indicators: [{ id: 'racks', kind: 'static', value: 12 }], rules: [{ id: 'steady', indicators: ['racks'], period: '1s' }] },
      (dir) => seedValues(dir, values),
    );
    void opts; // the same load either way: the figure is for 1M values
    const r = await bigQueryScenario(p);
    return [
      {
        metric: 'rss_peak_mib_query_1m_x4',
        value: +r.rssPeakMiB.toFixed(1),
        unit: 'MiB',
        rss_before_mib: +r.rssBeforeMiB.toFixed(1),
        values,
        health_p50_ms: +percentile(r.healthMs, 0.5).toFixed(1),
        health_p99_ms: +percentile(r.healthMs, 0.99).toFixed(1),
        health_before_p99_ms: +percentile(r.healthBeforeMs, 0.99).toFixed(1),
        steady_ticks: r.ticksSteady[1] - r.ticksSteady[0],
      },
    ];
  } finally {
    for (const fn of undo.reverse()) await fn();
  }
}
