import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import { ManualClock } from '@probemesh/core';
import type { Alert } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { WebhookSink } from '@probemesh/sinks';
import { freeTcpPort, tempDir, waitUntil } from '@probemesh/testkit';

/** A real HTTP receiver of webhook posts on a fixed loopback port: answers `status`, keeps what came, can go down and come back. */
async function receiver(t: Test, port?: number) {
  const r = {
    port: port ?? (await freeTcpPort()),
    status: 200,
    got: [] as Array<{ key: string; id: string; alert: Alert }>,
    /** Called as each post arrives, before it is answered. */
    onPost: (_alert: Alert) => undefined as void,
    server: undefined as Server | undefined,
    get url() {
      return `http://127.0.0.1:${this.port}/hook`;
    },
    async up() {
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const b = JSON.parse(body) as { id: string; alert: Alert };
          r.onPost(b.alert);
          r.got.push({ key: String(req.headers['idempotency-key']), ...b });
          res.writeHead(r.status, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((ok) => server.listen(r.port, '127.0.0.1', ok));
      r.server = server;
    },
    async down() {
      const s = r.server;
      r.server = undefined;
      if (s) await new Promise<void>((ok) => (s.closeAllConnections(), s.close(() => ok())));
    },
  };
  await r.up();
  t.teardown(() => r.down());
  return r;
}

async function startProbe(t: Test, dataDir: string, clock: ManualClock, sinks: WebhookSink[]) {
  const probe = await Probe.start({ id: 'p1', dataDir, connectors: [], clock, sinks });
  t.teardown(() => probe.stop());
  return probe;
}

const hot = (device: string) => ({ rule: 'cooling', decision: 'hot', device, severity: 'critical' as const, message: '{device} runs hot' });
const sink = (name: string, url: string) => new WebhookSink({ name, url, timeoutMs: 5000 });

t.test('outbox — a transition is in the store before a sink sees it; every sink gets each, in order, with a stable id', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const a = await receiver(t);
  const b = await receiver(t);
  const clock = new ManualClock(1_700_000_000_000);
  const probe = await startProbe(t, dir.path, clock, [sink('a', a.url), sink('b', b.url)]);
  const saved: boolean[] = [];
  a.onPost = (alert) => void saved.push(probe.store.config.entries<Alert>('outbox.a').some(([, x]) => x.id === alert.id && x.state === alert.state));
  probe.raise(hot('srv1'));
  await clock.advance(1000);
  probe.resolve(hot('srv1'));
  probe.raise(hot('srv2'));
  await waitUntil('both sinks got three transitions', () => a.got.length === 3 && b.got.length === 3, 30_000);
  t.same(saved, [true, true, true], 'each transition was durable when the sink received it');
  const seen = (r: typeof a) => r.got.map((g) => `${g.alert.device} ${g.alert.state}`);
  t.same(seen(a), ['srv1 firing', 'srv1 resolved', 'srv2 firing'], 'in order');
  t.same(seen(b), seen(a), 'the other sink too');
  t.same(
    a.got.map((g) => g.id),
    ['p1.cooling.hot.srv1.firing.1700000000000', 'p1.cooling.hot.srv1.resolved.1700000001000', 'p1.cooling.hot.srv2.firing.1700000001000'],
    'ids name the transition',
  );
  t.same(a.got.map((g) => g.key), a.got.map((g) => g.id), 'and travel as the idempotency key');
  await waitUntil('delivered records are removed', () => probe.store.config.entries('outbox.a').length === 0 && probe.store.config.entries('outbox.b').length === 0, 10_000);
  t.same(probe.metrics().sinks.map((s) => [s.name, s.pending, s.delivered]), [['a', 0, 3], ['b', 0, 3]], 'metrics count per sink');
  t.equal(probe.raise(hot('srv2')), undefined, 'a raised alert fires once');
});

t.test('outbox — a sink that is down is retried with back-off and never delays another; what it is owed survives a restart and arrives once', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const good = await receiver(t);
  const flaky = await receiver(t);
  await flaky.down();
  const clock = new ManualClock(1_700_000_000_000);
  let probe = await startProbe(t, dir.path, clock, [sink('good', good.url), sink('flaky', flaky.url)]);
  probe.raise(hot('srv1'));
  probe.raise(hot('srv2'));
  await waitUntil('the good sink got both', () => good.got.length === 2, 30_000);
  await waitUntil('the flaky one failed and waits', () => (probe.metrics().sinks.find((s) => s.name === 'flaky')?.retries ?? 0) >= 1, 30_000);
  const flakyStats = probe.metrics().sinks.find((s) => s.name === 'flaky')!;
  t.equal(flakyStats.pending, 2, 'pending per sink in metrics');
  t.match(flakyStats.lastError, /ECONNREFUSED|cannot reach/, 'with the reason');
  probe.raise(hot('srv3'));
  await waitUntil('the good sink is not held back', () => good.got.length === 3, 30_000);

  await probe.stop();
  probe = await startProbe(t, dir.path, clock, [sink('good', good.url), sink('flaky', flaky.url)]);
  t.equal(probe.metrics().sinks.find((s) => s.name === 'flaky')!.pending, 3, 'what the flaky sink is owed survived the restart');
  // Each poll moves the probe's clock past any back-off, so the sink's next attempt goes out.
  const retryUntil = (what: string, done: () => boolean) => waitUntil(what, async () => (await clock.advance(60_000), done()), 30_000);
  flaky.status = 503;
  await flaky.up();
  await retryUntil('the flaky sink answered 503', () => flaky.got.length >= 1);
  t.equal(probe.metrics().sinks.find((s) => s.name === 'flaky')!.pending, 3, 'a 5xx is not a delivery');
  flaky.got.length = 0;
  flaky.status = 200;
  await retryUntil('the flaky sink got all three', () => flaky.got.length >= 3);
  t.same(flaky.got.map((g) => g.alert.device), ['srv1', 'srv2', 'srv3'], 'each arrives once, in order, when the receiver returns');
  t.same(good.got.map((g) => g.alert.device), ['srv1', 'srv2', 'srv3'], 'nothing was sent twice to the sink that had it');
});

t.test('outbox — a sink that refuses a transition for good gives it up and goes on; decisions and raised alerts take the same path', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const r = await receiver(t);
  r.status = 400;
  const clock = new ManualClock(1_700_000_000_000);
  const probe = await startProbe(t, dir.path, clock, []);
  const remove = probe.addSink(sink('strict', r.url));
  probe.raise(hot('srv1'));
  await waitUntil('refused', () => probe.metrics().sinks[0]?.rejected === 1, 30_000);
  r.status = 200;
  await probe.put('indicators', { id: 'temp', kind: 'static', value: 50 });
  await probe.put('rules', { id: 'heat', indicators: ['temp'], period: '1h', decisions: [{ id: 'high', when: 'temp > 40', severity: 'warning' }] });
  await probe.tickNow('heat');
  await waitUntil('the decision reached the sink', () => r.got.some((g) => g.alert.rule === 'heat'), 30_000);
  t.same(r.got.map((g) => `${g.alert.rule}/${g.alert.decision} ${g.alert.state}`), ['cooling/hot firing', 'heat/high firing'], 'the refused one was tried once, the next one delivered');
  t.same(probe.store.config.entries('outbox.strict'), [], 'nothing left owed');
  await remove();
  t.same(probe.metrics().sinks, [], 'a removed sink is gone');
});
