import t from 'tap';
import type { Alert } from '@probemesh/model';
import { AlertmanagerSink } from '@probemesh/sinks';
import { waitUntil } from '@probemesh/testkit';
import { startAlertmanager } from './prometheus-stack.js';

/** One alert as Alertmanager's own GET /api/v2/alerts lists it. */
interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

const never = new AbortController().signal;

t.test('alertmanager sink — a real Alertmanager lists the alert while it fires and drops it once resolved', async (t) => {
  const am = await startAlertmanager();
  t.teardown(() => am.stop());
  const sink = new AlertmanagerSink({ url: am.url, labels: { site: 'paris' } });
  t.teardown(() => sink.stop());
  const listed = async () => (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as GettableAlert[];
  const since = Date.now() - 60_000;
  const firing: Alert = {
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
  };
  await sink.deliver(firing, `${firing.id}.firing.${firing.ts}`, never);
  await waitUntil('Alertmanager lists the firing alert', async () => (await listed()).length === 1, 30_000, am.process);
  const [got] = await listed();
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
  await sink.deliver(resolved, `${firing.id}.resolved.${resolved.ts}`, never);
  await waitUntil('Alertmanager drops the resolved alert', async () => (await listed()).length === 0, 30_000, am.process);
  t.same(await listed(), [], 'nothing active after the resolution');
});
