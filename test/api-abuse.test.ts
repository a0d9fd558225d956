// The HTTP API against slow, idle and greedy clients, on a real probe process (issue 9's rows).
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { waitUntil } from '@probemesh/testkit';
import { bigQueryScenario, percentile, sampleFor, seedValues, slowSseScenario, startAlertingProbe, startProbeProcess } from './probe-process.js';

/**
 * /health stays prompt: its median within 250 ms and its slowest within 5 s, each beyond three
 * times what it was just before on the same machine (so a loaded 2-core CI machine does not fail
 * it; the stalls these abuses caused were of 4.5 s and more, every time, on an idle machine).
 */
function healthPrompt(t: Test, ms: number[], before: number[]) {
  const p50 = percentile(ms, 0.5);
  const slowest = Math.max(...ms);
  const bound = { p50: 250 + 3 * percentile(before, 0.5), max: 5000 + 3 * Math.max(...before) };
  t.ok(p50 < bound.p50, `/health median ${p50.toFixed(0)} ms of ${ms.length} (bound ${bound.p50.toFixed(0)})`);
  t.ok(slowest < bound.max, `/health slowest ${slowest.toFixed(0)} ms (bound ${bound.max.toFixed(0)})`);
}

t.test('api abuse — 300 SSE clients that never read: RSS bounded, /health prompt, memory back after they leave', async (t) => {
  const p = await startAlertingProbe(t.teardown.bind(t));
  const r = await slowSseScenario(p, 300, 20);
  t.comment(JSON.stringify({ ...r, healthMs: { p50: percentile(r.healthMs, 0.5), p99: percentile(r.healthMs, 0.99), max: Math.max(...r.healthMs) } }));
  // 300 queues of 128 KiB are 37.5 MiB; sockets, parsers and the GC the rest: 58-64 MiB alone, up to
  // 104 MiB while the whole suite loads two cores. Unbounded queues would hold ~140 MiB of alerts alone.
  t.ok(r.rssPeakMiB - r.rssBeforeMiB < 128, `RSS grew by ${(r.rssPeakMiB - r.rssBeforeMiB).toFixed(1)} MiB (bound 128)`);
  healthPrompt(t, r.healthMs, r.healthBeforeMs);
  t.ok(r.readerAlerts > 0, `a client that reads kept receiving alerts (${r.readerAlerts})`);
  t.ok(r.ticksSteady[1] > r.ticksSteady[0], `the other rule kept ticking (${r.ticksSteady.join(' → ')})`);
  t.ok(r.heapAfterMiB < r.heapBeforeMiB + 16, `the heap came back after they left: ${r.heapBeforeMiB.toFixed(1)} → ${r.heapAfterMiB.toFixed(1)} MiB`);
});

t.test('api abuse — four parallel last=1000000 queries, pages of 100,000 and two exports of 1M records: RSS bounded, /health prompt, other rules tick', async (t) => {
  const p = await startProbeProcess(t.teardown.bind(t), { indicators: [{ id: 'racks', kind: 'static', value: 12 }], rules: [{ id: 'steady', indicators: ['racks'], period: '1s' }] }, (dir) => seedValues(dir, 1_000_000));
  const r = await bigQueryScenario(p);
  t.comment(JSON.stringify({ ...r, healthMs: { p50: percentile(r.healthMs, 0.5), p99: percentile(r.healthMs, 0.99), max: Math.max(...r.healthMs) } }));
  t.same(r.records, { last: [10_000, 10_000, 10_000, 10_000], page: [100_000, 100_000, 100_000, 100_000], exported: [1_000_000, 1_000_000] }, 'every answer whole: a default page, a page of 100,000, every record exported');
  t.ok(r.rssPeakMiB - r.rssBeforeMiB < 256, `RSS grew by ${(r.rssPeakMiB - r.rssBeforeMiB).toFixed(1)} MiB at most (bound 256, the store's pages read through the map included; it was ~1 GiB)`);
  healthPrompt(t, r.healthMs, r.healthBeforeMs);
  t.ok(r.ticksSteady[1] > r.ticksSteady[0], `the other rule kept ticking (${r.ticksSteady.join(' → ')})`);
});

/** A raw connection to the probe; `closed` resolves with the first line the server sent, if any. */
function rawClient(url: string, trickle: boolean) {
  const { hostname, port } = new URL(url);
  const s = connect(Number(port), hostname);
  let first = '';
  let timer: NodeJS.Timeout | undefined;
  s.on('data', (d) => (first ||= d.toString().split('\r\n')[0]!));
  s.on('error', () => undefined); // a reset is one way of being closed
  s.on('connect', () => {
    if (!trickle) return;
    s.write('GET /health HTTP/1.1\r\n');
    timer = setInterval(() => s.write('x-slow: 1\r\n'), 500); // a header line every half second, never the end
  });
  const closed = new Promise<string>((resolve) => s.on('close', () => (clearInterval(timer), resolve(first))));
  return { socket: s, closed };
}

t.test('api abuse — 100 slowloris connections (idle, or a header line every 500 ms) get 408 and are closed in about 10 s; /health stays prompt meanwhile', async (t) => {
  const p = await startProbeProcess(t.teardown.bind(t));
  const before = await sampleFor(3000, 200, () => p.healthMs());
  const clients = Array.from({ length: 100 }, (_, i) => rawClient(p.url, i % 2 === 1));
  t.teardown(() => clients.forEach((c) => c.socket.destroy()));
  let open = clients.length;
  void Promise.all(clients.map((c) => c.closed.then(() => open--)));
  const health: number[] = [];
  const started = Date.now();
  while (open > 0 && Date.now() - started < 60_000) {
    health.push(await p.healthMs());
    await new Promise((r) => setTimeout(r, 100));
  }
  const firstLines = await Promise.all(clients.map((c) => c.closed));
  t.equal(open, 0, 'every slow connection was closed by the probe');
  t.same([...new Set(firstLines)], ['HTTP/1.1 408 Request Timeout'], 'each was told 408 first');
  healthPrompt(t, health, before);
});

t.test('api abuse — past http.maxConnections new connections are closed at once; once the idle ones time out the probe answers again', async (t) => {
  const p = await startProbeProcess(t.teardown.bind(t), { http: { maxConnections: 20 } });
  const idle = Array.from({ length: 20 }, () => rawClient(p.url, false));
  t.teardown(() => idle.forEach((c) => c.socket.destroy()));
  await Promise.all(idle.map((c) => new Promise((r) => c.socket.once('connect', r))));
  await waitUntil('the probe counts the idle connections', async () => {
    const extra = rawClient(p.url, true);
    const first = await Promise.race([extra.closed, new Promise<string>((r) => setTimeout(() => r('still open'), 3000))]);
    extra.socket.destroy();
    return first === '';
  }, 30_000);
  t.pass('a connection past the cap is closed without an answer');
  const answers = await Promise.all(idle.map((c) => c.closed)); // the test's own keep-alive connection may hold a place: one idle may be refused
  t.ok(answers.filter((a) => a === 'HTTP/1.1 408 Request Timeout').length >= 18, `the idle ones time out with 408 (${answers.filter(Boolean).length} of ${answers.length}; the rest were refused)`);
  t.equal((await p.call('GET', '/health', undefined, null)).status, 200, 'and the probe answers again');
});
