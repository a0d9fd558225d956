import t from 'tap';
import { ManualClock, transitionId } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import { AlertmanagerSink, SinkUnavailableError } from '@probemesh/sinks';
import { waitUntil } from '@probemesh/testkit';
import { startAlertmanager, type Started } from './prometheus-stack.js';

/** One alert as Alertmanager's own GET /api/v2/alerts lists it. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

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

/** What Alertmanager lists as active now. */
const listed = async (am: Started) => (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as GettableAlert[];

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

t.test('alertmanager sink — while Alertmanager is down a delivery is retryable; restarted (it keeps no alerts), it lists the firing alert again at the next re-send', async (t) => {
  let am = await startAlertmanager();
  t.teardown(() => am.stop());
  // Re-sends happen only when this clock is advanced, so what Alertmanager lists is never a race.
  const clock = new ManualClock(Date.now());
  const logged: string[] = [];
  const sink = new AlertmanagerSink({ url: am.url, resendMs: 60_000, clock, log: (_l, m) => logged.push(m) });
  t.teardown(() => sink.stop());
  const firing = hot(clock.now() - 60_000);
  const id = transitionId(firing);

  await am.kill();
  const err = await sink.deliver(firing, id, never).catch((e: unknown) => e);
  t.type(err, SinkUnavailableError, 'Alertmanager down');
  t.equal((err as SinkUnavailableError).retryable, true);
  am = await am.restart();
  await sink.deliver(firing, id, never); // the outbox's retry
  await waitUntil('listed after the retry', async () => (await listed(am)).length === 1, 30_000, am.process);

  await am.kill();
  am = await am.restart();
  t.same(await listed(am), [], 'a restarted Alertmanager has forgotten the alert');
  await clock.advance(60_000);
  await waitUntil('listed again after the re-send', async () => (await listed(am)).length === 1, 30_000, am.process);
  t.equal((await listed(am))[0]!.labels.alertname, 'cooling/hot');
  t.same(logged, [], 'the re-send succeeded');
});
