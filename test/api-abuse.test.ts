// The HTTP API against slow, idle and greedy clients, on a real probe process (issue 9's rows).
import t from 'tap';
import { percentile, slowSseScenario, startAlertingProbe } from './probe-process.js';

t.test('api abuse — 300 SSE clients that never read: RSS bounded, /health prompt, memory back after they leave', async (t) => {
  const p = await startAlertingProbe(t.teardown.bind(t));
  const r = await slowSseScenario(p, 300, 20);
  t.comment(JSON.stringify({ ...r, healthMs: { p50: percentile(r.healthMs, 0.5), p99: percentile(r.healthMs, 0.99), max: Math.max(...r.healthMs) } }));
  t.ok(r.rssPeakMiB - r.rssBeforeMiB < 96, `RSS grew by ${(r.rssPeakMiB - r.rssBeforeMiB).toFixed(1)} MiB (bound 96)`);
  t.ok(Math.max(...r.healthMs) < 2000, `every /health answered within 2 s (slowest ${Math.max(...r.healthMs).toFixed(0)} ms)`);
  t.ok(r.readerAlerts > 0, `a client that reads kept receiving alerts (${r.readerAlerts})`);
  t.ok(r.ticksSteady[1] > r.ticksSteady[0], `the other rule kept ticking (${r.ticksSteady.join(' → ')})`);
  t.ok(r.heapAfterMiB < r.heapBeforeMiB + 16, `the heap came back after they left: ${r.heapBeforeMiB.toFixed(1)} → ${r.heapAfterMiB.toFixed(1)} MiB`);
});
