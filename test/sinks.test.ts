import t, { type Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { ManualClock, transitionId } from '@probemesh/core';
import type { Alert, AlertSinkConfig } from '@probemesh/model';
import { loadConfig, runProbe } from '@probemesh/probe';
import { AlertmanagerSink, verifySignature, type WebhookBody } from '@probemesh/sinks';
import { alertmanagerAlerts as listed, freeTcpPort, startAlertmanager, startJsonDevice, tempDir, waitUntil } from '@probemesh/testkit';

const never = new AbortController().signal;

/** srv042 running hot for a minute, as the probe hall-b raised it. */
const hot = (since: number): Alert => ({
  id: 'hall-b.cooling.hot.srv042',
  probe: 'hall-b',
  rule: 'cooling',
  decision: 'hot',
  indicator: 'inlet_temp',
  device: 'srv042',
  value: 41.5,
  threshold: 35,
  severity: 'critical',
  state: 'firing',
  message: 'srv042 inlet at 41.5 °C',
  since,
  ts: since + 30_000,
});

t.test('alertmanager sink — a real Alertmanager lists the alert while it fires and drops it once resolved', async (t) => {
  const am = await startAlertmanager();
  t.teardown(() => am.stop());
  const sink = new AlertmanagerSink({ url: am.url, labels: { site: 'paris' } });
  t.teardown(() => sink.stop());
  const since = Date.now() - 60_000;
  const firing = hot(since);
  await sink.deliver(firing, transitionId(firing), never);
  await waitUntil('Alertmanager lists the firing alert', async () => (await listed(am)).length === 1, 30_000, am.process);
  const [got] = await listed(am);
  t.same(got!.labels, {
    alertname: 'cooling/hot',
    probe: 'hall-b',
    rule: 'cooling',
    decision: 'hot',
    severity: 'critical',
    instance: 'srv042',
    device: 'srv042',
    indicator: 'inlet_temp',
    site: 'paris',
  });
  t.same(got!.annotations, { message: 'srv042 inlet at 41.5 °C', value: '41.5', threshold: '35' });
  t.equal(got!.startsAt, new Date(since).toISOString());
  t.equal(got!.status.state, 'active');
  t.ok(Date.parse(got!.endsAt) > Date.now(), 'valid until a later re-send');

  const resolved: Alert = { ...firing, state: 'resolved', value: 31, ts: Date.now() };
  await sink.deliver(resolved, transitionId(resolved), never);
  await waitUntil('Alertmanager drops the resolved alert', async () => (await listed(am)).length === 0, 30_000, am.process);
  t.same(await listed(am), [], 'nothing active after the resolution');
});

t.test('alertmanager sink — a restarted Alertmanager (it keeps no alerts) lists the firing alert again at the next re-send', async (t) => {
  let am = await startAlertmanager();
  t.teardown(() => am.stop());
  // Re-sends happen only when this clock is advanced, so what Alertmanager lists is never a race.
  const clock = new ManualClock(Date.now());
  const logged: string[] = [];
  const sink = new AlertmanagerSink({ url: am.url, resendMs: 60_000, clock, log: (_l, m) => logged.push(m) });
  t.teardown(() => sink.stop());
  const firing = hot(clock.now() - 60_000);
  sink.start({ active: () => [firing] }); // what the probe says fires now
  await sink.deliver(firing, transitionId(firing), never);
  await waitUntil('listed after the delivery', async () => (await listed(am)).length === 1, 30_000, am.process);

  await am.kill();
  am = await am.restart();
  t.same(await listed(am), [], 'a restarted Alertmanager has forgotten the alert');
  await clock.advance(60_000);
  await waitUntil('listed again after the re-send', async () => (await listed(am)).length === 1, 30_000, am.process);
  t.equal((await listed(am))[0]!.labels.alertname, 'cooling/hot');
  t.same(logged, [], 'the re-send succeeded');
});

const SECRET = 'end-to-end-webhook-secret';
const TOKEN = 'sinks-test-read-token-01';

/**
 * A probe whose rule `cooling` fires `hot` while the room's inlet is above 35 °C, with `sinks`;
 * `dataDir` reuses a store (a restart). `stop()` stops it once, and teardown stops it otherwise.
 */
async function hallProbe(t: Test, sinks: AlertSinkConfig[], dataDir?: string) {
  const inlet = { celsius: 41.5 };
  const room = await startJsonDevice((path) => (path === '/inlet' ? { c: inlet.celsius } : undefined));
  t.teardown(() => room.stop());
  const dir = dataDir ? { path: dataDir } : await tempDir();
  if ('remove' in dir) t.teardown(() => dir.remove());
  const log: string[] = [];
  const running = await runProbe(
    {
      id: 'hall-b',
      dataDir: dir.path,
      http: { port: 0 },
      tokens: [{ name: 'ops', role: 'read', token: TOKEN }],
      alerts: { sinks },
      devices: [{ id: 'room', address: '127.0.0.1', protocols: { http: { baseUrl: room.url } } }],
      indicators: [{ id: 'inlet_temp', kind: 'atomic', unit: 'Cel', source: { scheme: 'http', path: '/inlet', json: '$.c' } }],
      rules: [
        {
          id: 'cooling',
          period: '1s',
          indicators: ['inlet_temp'],
          targets: { devices: ['room'] },
          decisions: [{ id: 'hot', when: 'inlet_temp > 35', severity: 'critical', indicator: 'inlet_temp', message: '{device} inlet at {value} °C' }],
        },
      ],
    },
    { log: (level, message) => log.push(`${level} ${message}`) },
  );
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= running.stop());
  t.teardown(stop);
  return { probe: running.probe, url: running.url, inlet, log, stop };
}

/** A real HTTP receiver on `port` that keeps what it is sent and answers 204. */
async function receiver(t: Test, port: number) {
  const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return got;
}

t.test('webhook sink, end to end — an alert raised while the receiver is down is delivered once when it returns, signed; then its resolution', async (t) => {
  const port = await freeTcpPort();
  const { probe, url, inlet, log } = await hallProbe(t, [{ type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: SECRET }]);
  const sink = () => probe.metrics().sinks.find((s) => s.name === 'webhook')!;
  await waitUntil('the alert fires and its delivery fails (nothing listens)', () => probe.alerts({ state: 'firing' }).length === 1 && sink().retries >= 1, 30_000);
  const firing = probe.alerts({ state: 'firing' })[0]!;

  // The receiver comes up on the port the probe was configured with.
  const got = await receiver(t, port);
  await waitUntil('the firing transition reaches the receiver', () => got.length >= 1, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${log.join('\n')}`);
  });
  t.equal(got[0]!.headers['idempotency-key'], transitionId(firing));
  t.same(JSON.parse(got[0]!.body) as WebhookBody, { id: transitionId(firing), alert: firing }, 'the transition as the probe lists it');
  t.equal(firing.message, 'room inlet at 41.5 °C');
  t.ok(verifySignature(SECRET, got[0]!.body, got[0]!.headers['x-probemesh-signature'] as string), 'the HMAC verifies');

  inlet.celsius = 24;
  await waitUntil('the resolution reaches the receiver', () => got.length >= 2, 60_000);
  const resolved = probe.alerts({ state: 'resolved' })[0]!;
  // Deliveries go in order: had the firing transition been sent twice, its repeat would be here by now.
  t.same(
    got.map((g) => g.headers['idempotency-key']),
    [transitionId(firing), transitionId(resolved)],
    'each transition exactly once, in order',
  );
  // The receiver has both; the probe counts each once the receiver's answer is back.
  await waitUntil('the probe has the answer to both', () => sink().pending === 0, 30_000);
  t.match(sink(), { name: 'webhook', pending: 0, delivered: 2, rejected: 0 });
  const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  t.match(metrics, /^probemesh_alert_sink_pending\{probe="hall-b",sink="webhook"\} 0$/m);
  t.match(metrics, /^probemesh_alert_sink_delivered_total\{probe="hall-b",sink="webhook"\} 2$/m);
  t.match(metrics, new RegExp(`^probemesh_alert_sink_retries_total\\{probe="hall-b",sink="webhook"\\} ${sink().retries}$`, 'm'), 'the failed attempts, counted');
  t.ok(log.some((l) => l.startsWith('warn alert sink webhook: webhook: cannot reach')), 'the failed attempts were logged');
});

t.test('alertmanager sink, end to end — a probe’s alert firing, then resolved, in Alertmanager’s own GET /api/v2/alerts', async (t) => {
  const am = await startAlertmanager();
  t.teardown(() => am.stop());
  const { probe, inlet } = await hallProbe(t, [{ type: 'alertmanager', url: am.url, labels: { site: 'paris' } }]);
  await waitUntil('Alertmanager lists the firing alert', async () => (await listed(am)).length === 1, 60_000, am.process);
  const firing = probe.alerts({ state: 'firing' })[0]!;
  const [got] = await listed(am);
  t.match(got, {
    labels: { alertname: 'cooling/hot', probe: 'hall-b', rule: 'cooling', decision: 'hot', severity: 'critical', instance: 'room', device: 'room', indicator: 'inlet_temp', site: 'paris' },
    annotations: { message: 'room inlet at 41.5 °C', value: '41.5' },
    startsAt: new Date(firing.since).toISOString(),
    status: { state: 'active' },
  });
  inlet.celsius = 24;
  await waitUntil('Alertmanager no longer lists it', async () => (await listed(am)).length === 0, 60_000, am.process);
  t.equal(probe.alerts({ state: 'resolved' }).length, 1, 'resolved at the probe');
  t.match(probe.metrics().sinks, [{ name: 'alertmanager', pending: 0, delivered: 2, rejected: 0 }]);
});

t.test('webhook sink, end to end — a transition still owed when the probe stops is delivered after it restarts, once', async (t) => {
  const port = await freeTcpPort();
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const sinks: AlertSinkConfig[] = [{ type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: SECRET }];
  const first = await hallProbe(t, sinks, dir.path);
  await waitUntil('the alert fires and its delivery fails', () => first.probe.alerts({ state: 'firing' }).length === 1 && first.probe.metrics().sinks[0]!.retries >= 1, 30_000);
  const owed = first.probe.alerts({ state: 'firing' })[0]!;
  await first.stop();

  const got = await receiver(t, port);
  const second = await hallProbe(t, sinks, dir.path);
  await waitUntil('the owed transition arrives', () => got.length >= 1, 60_000);
  t.equal(got[0]!.headers['idempotency-key'], transitionId(owed), 'what the stopped probe owed comes first');
  t.ok(verifySignature(SECRET, got[0]!.body, got[0]!.headers['x-probemesh-signature'] as string));
  // The restarted probe took the alert back: still firing, not fired anew.
  t.same(second.probe.active(), [owed], 'the restarted probe fires the alert as it fired');
  second.inlet.celsius = 24;
  await waitUntil('a resolution follows', () => got.some((g) => (JSON.parse(g.body) as WebhookBody).alert.state === 'resolved'), 60_000);
  t.equal(got.filter((g) => g.headers['idempotency-key'] === transitionId(owed)).length, 1, 'delivered once');
  t.same(
    got.map((g) => (JSON.parse(g.body) as WebhookBody).alert.state),
    ['firing', 'resolved'],
    'then its resolution, and no second firing',
  );
});

t.test('sinks config — a probe config with wrong sinks, or names the probe keeps for itself, is refused before anything starts, each problem at its line', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const file = join(dir.path, 'probe.yaml');
  await writeFile(
    file,
    [
      'id: hall-b',
      'alerts:',
      '  sinks:',
      '    - { type: webhook, url: "http://127.0.0.1:9/hook", headers: { Idempotency-Key: mine } }',
      '    - type: alertmanager',
      '      url: http://127.0.0.1:9093',
      '      labels: { alertname: mine }',
      '    - { type: webhook, name: jetstream, url: "http://127.0.0.1:9/hook" }',
      'indicators: [{ id: racks, kind: static, value: 12 }]',
      'rules:',
      '  - { id: store, indicators: [racks], period: 1m }',
      '',
    ].join('\n'),
  );
  const err = (await loadConfig(file, { connectors: [] }).catch((e: unknown) => e)) as Error;
  t.equal(
    err.message,
    [
      `${file} is not a valid probe config:`,
      `  ${file}:11:5 /rules/0: rule 'store': the id 'store' is reserved for the store's own alerts (a full disk); give the rule another id`,
      `  ${file}:4:67 /alerts/sinks/0/headers/Idempotency-Key: set by the webhook sink itself; it cannot be configured`,
      `  ${file}:7:17 /alerts/sinks/1/labels/alertname: set by the alertmanager sink itself; it cannot be configured`,
      `  ${file}:8:24 /alerts/sinks/2/name: 'jetstream' is the name of the probe's own sink to the mesh; give this sink another name`,
    ].join('\n'),
  );
});
