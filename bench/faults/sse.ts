// A scenario of `npm run bench -- faults`: 300 SSE clients of /alerts/stream that never read,
// while a real probe process raises ~80 alerts/s (20 devices flipping every 250 ms). Reports how
// far its resident memory grew (value) beside /health latency, the clients dropped and what a
// client that does read still received.
import { percentile, slowSseScenario, startAlertingProbe } from '../../test/probe-process.js';

/** Runs the scenario; returns its bench lines. */
export async function run(opts: { quick: boolean }): Promise<Array<Record<string, unknown>>> {
  const undo: Array<() => unknown> = [];
  try {
    const p = await startAlertingProbe((fn) => undo.push(fn));
    const seconds = opts.quick ? 15 : 40;
    const r = await slowSseScenario(p, 300, seconds);
    return [
      {
        metric: 'rss_growth_mib_slow_sse_300',
        value: +(r.rssPeakMiB - r.rssBeforeMiB).toFixed(1),
        unit: 'MiB',
        rss_before_mib: +r.rssBeforeMiB.toFixed(1),
        seconds,
        health_p50_ms: +percentile(r.healthMs, 0.5).toFixed(1),
        health_p99_ms: +percentile(r.healthMs, 0.99).toFixed(1),
        health_before_p99_ms: +percentile(r.healthBeforeMs, 0.99).toFixed(1),
        dropped: r.dropped,
        reader_alerts: r.readerAlerts,
        heap_before_mib: +r.heapBeforeMiB.toFixed(1),
        heap_after_mib: +r.heapAfterMiB.toFixed(1),
      },
    ];
  } finally {
    for (const fn of undo.reverse()) await fn();
  }
}
