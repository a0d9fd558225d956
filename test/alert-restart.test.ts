// Firing alerts across a restart of a real probe process on the same store, seen where an operator
// sees them: a webhook receiver, a real Alertmanager, and the probe's own /alerts.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import { transitionId } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import type { WebhookBody } from '@probemesh/sinks';
import { alertmanagerAlerts, startAlertmanager, startJsonDevice, tempDir, waitUntil, type StartedServer } from '@probemesh/testkit';
import { READ, startProbeProcess, type ProbeProcess } from './probe-process.js';

/** A real HTTP receiver that keeps each transition it is sent. */
async function receiver(t: Test) {
  const got: WebhookBody[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push(JSON.parse(Buffer.concat(chunks).toString()) as WebhookBody);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, got };
}

/**
 * A room whose inlet temperature the test sets, a receiver, an Alertmanager, and `start()`: a probe
 * process (rule `cooling` every second: `hot` while the inlet is above 35 °C) on one data directory,
 * so a second `start()` after `stop()` is a restart on the same store.
 */
async function hall(t: Test) {
  const inlet = { celsius: 41.5 };
  const room = await startJsonDevice((path) => (path === '/inlet' ? { c: inlet.celsius } : undefined));
  t.teardown(() => room.stop());
  const hook = await receiver(t);
  const am = await startAlertmanager();
  t.teardown(() => am.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const config = {
    id: 'hall-b',
    dataDir: dir.path,
    alerts: { sinks: [{ type: 'webhook', url: hook.url }, { type: 'alertmanager', url: am.url, resend: '1s' }] },
    devices: [{ id: 'room', address: '127.0.0.1', protocols: { http: { baseUrl: room.url } } }],
    indicators: [{ id: 'inlet_temp', kind: 'atomic', unit: 'Cel', source: { scheme: 'http', path: '/inlet', json: '$.c' } }],
    rules: [{ id: 'cooling', period: '1s', indicators: ['inlet_temp'], targets: { devices: ['room'] }, decisions: [{ id: 'hot', when: 'inlet_temp > 35', severity: 'critical', indicator: 'inlet_temp' }] }],
  };
  const start = () => startProbeProcess((fn) => t.teardown(fn), config);
  return { inlet, hook, am, start };
}

/** The probe's /alerts, oldest first. */
const alerts = async (p: ProbeProcess) => (await p.call('GET', '/alerts', undefined, READ)).body as Alert[];
/** Ticks of rule `cooling` so far. */
const ticks = async (p: ProbeProcess) => ((await p.call('GET', '/rules/states', undefined, READ)).body as Array<{ rule: string; ticks: number }>).find((r) => r.rule === 'cooling')?.ticks ?? 0;
/** Transitions owed to each sink, from /metrics. */
const owed = async (p: ProbeProcess) => [...((await p.call('GET', '/metrics', undefined, READ)).body as string).matchAll(/^probemesh_alert_sink_pending\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
/** Whether Alertmanager lists the room's alert as active. */
const listed = async (am: StartedServer) => (await alertmanagerAlerts(am)).some((a) => a.labels.alertname === 'cooling/hot' && a.labels.device === 'room');

/** Starts the probe, waits until the alert fired and both sinks have it, and stops the probe. */
async function fireThenStop(t: Test, h: Awaited<ReturnType<typeof hall>>): Promise<Alert> {
  const p = await h.start();
  await waitUntil('the webhook receives the firing alert', () => h.hook.got.length === 1, 60_000, p.proc);
  await waitUntil('Alertmanager lists it', () => listed(h.am), 30_000, p.proc);
  await waitUntil('nothing is owed to either sink', async () => (await owed(p)).join() === '0,0', 30_000, p.proc);
  const [fired] = await alerts(p);
  t.match(fired, { id: 'hall-b.cooling.hot.room', state: 'firing' });
  await p.proc.stop();
  return fired!;
}

t.test('alerts across a restart — cleared while the probe was down: exactly one resolution after it restarts', async (t) => {
  const h = await hall(t);
  const fired = await fireThenStop(t, h);
  h.inlet.celsius = 24;
  const p = await h.start();
  await waitUntil('the webhook receives the resolution', () => h.hook.got.length === 2, 60_000, p.proc);
  await waitUntil('Alertmanager no longer lists the alert', async () => !(await listed(h.am)), 30_000, p.proc);
  const after = await ticks(p);
  await waitUntil('three more rounds with the inlet cool', async () => (await ticks(p)) >= after + 3, 30_000, p.proc);
  const resolved = h.hook.got[1]!.alert;
  t.match(resolved, { id: fired.id, state: 'resolved', since: fired.since, value: 24 }, 'the alert that fired before the restart, resolved');
  t.same(
    h.hook.got.map((g) => g.id),
    [transitionId(fired), transitionId(resolved)],
    'the receiver got the firing once and one resolution, nothing more',
  );
  t.same(await alerts(p), [fired, resolved], '/alerts: the firing from before the restart, then its resolution');
  t.notOk(await listed(h.am), 'Alertmanager does not get it back: nothing re-sends it');
});

t.test('alerts across a restart — still true after the restart: no second firing; it fires on and resolves once', async (t) => {
  const h = await hall(t);
  const fired = await fireThenStop(t, h);
  const p = await h.start();
  const restartedAt = Date.now();
  const after = await ticks(p);
  await waitUntil('three rounds with the inlet still hot', async () => (await ticks(p)) >= after + 3, 30_000, p.proc);
  t.same(h.hook.got.map((g) => g.id), [transitionId(fired)], 'no second firing at the receiver');
  t.same(await alerts(p), [fired], '/alerts: the one firing, as it fired before the restart');
  // Each re-send is valid for 4 intervals: an end after restart + 4 s is a re-send of this run.
  await waitUntil(
    'Alertmanager gets the alert again from the restarted probe',
    async () => (await alertmanagerAlerts(h.am)).some((a) => a.labels.device === 'room' && Date.parse(a.endsAt) > restartedAt + 4000),
    30_000,
    p.proc,
  );
  h.inlet.celsius = 24;
  await waitUntil('the webhook receives the resolution', () => h.hook.got.length === 2, 60_000, p.proc);
  await waitUntil('Alertmanager no longer lists the alert', async () => !(await listed(h.am)), 30_000, p.proc);
  t.match(h.hook.got[1]!.alert, { id: fired.id, state: 'resolved', since: fired.since }, 'then it resolves, once');
});
