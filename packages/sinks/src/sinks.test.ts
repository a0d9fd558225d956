import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { ManualClock, TimeoutError } from '@probemesh/core';
import { ValidationError, type Alert } from '@probemesh/model';
import { alertmanagerAlerts, alertSinkConformance, freeTcpPort, startAlertmanager, waitUntil } from '@probemesh/testkit';
import { AlertmanagerSink, createSinks, SinkRejectedError, SinkUnavailableError, verifySignature, WebhookSink, type PostableAlert } from './index.js';

const SECRET = 'webhook-test-secret-0123';
const testdata = new URL('../testdata/', import.meta.url);
const tls = { cert: readFileSync(new URL('localhost-cert.pem', testdata)), key: readFileSync(new URL('localhost-key.pem', testdata)) };

const alert = (state: Alert['state'], ts = 1_700_000_060_000): Alert => ({
  id: 'p1.cooling.hot.srv1',
  probe: 'p1',
  rule: 'cooling',
  decision: 'hot',
  indicator: 'inlet',
  device: 'srv1',
  value: 41.5,
  threshold: 35,
  severity: 'critical',
  state,
  message: 'srv1 inlet at 41.5 °C',
  since: 1_700_000_000_000,
  ts,
});

interface Request {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A real HTTP receiver on a loopback port; `answer` replaces its reply (200 "ok" by default). */
async function receiver(t: Test, answer?: Handler, server: Server = createServer()) {
  const got: Request[] = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      got.push({ url: req.url ?? '', headers: req.headers, body });
      if (answer) answer(req, res, body);
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, port, got };
}

const never = new AbortController().signal;

t.test('webhook — conformance, against a real HTTP receiver', async (t) => {
  const server = createServer();
  const held: ServerResponse[] = [];
  let hanging = false;
  const r = await receiver(
    t,
    (req, res) => {
      if (req.url === '/refused') res.writeHead(403).end('not for you');
      else if (hanging) held.push(res);
      else res.end('ok');
    },
    server,
  );
  await alertSinkConformance(t, {
    sink: new WebhookSink({ url: r.url, secret: SECRET }),
    refused: new WebhookSink({ url: `http://127.0.0.1:${r.port}/refused`, name: 'refused' }),
    received: (a, id) =>
      waitUntil(`the receiver holds ${id}`, () => r.got.some((g) => g.headers['idempotency-key'] === id && isDeepStrictEqual(JSON.parse(g.body), { id, alert: a }) && verifySignature(SECRET, g.body, g.headers['x-probemesh-signature'] as string))),
    down: async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
    up: () => new Promise<void>((done) => server.listen(r.port, '127.0.0.1', done)),
    hang: async () => {
      hanging = true;
      return async () => {
        hanging = false;
        for (const res of held.splice(0)) res.end('ok');
      };
    },
  });
});

t.test('alertmanager — conformance, against a real Alertmanager', async (t) => {
  let am = await startAlertmanager();
  t.teardown(() => am.stop());
  const listed = async (a: Alert) => (await alertmanagerAlerts(am)).some((g) => g.labels.device === a.device && g.startsAt === new Date(a.since).toISOString());
  await alertSinkConformance(t, {
    sink: new AlertmanagerSink({ url: am.url }),
    refused: new AlertmanagerSink({ url: `${am.url}/nowhere`, name: 'refused' }),
    // Alertmanager keeps no ids: it merges an alert's repeats by their labels, and lists only what is active.
    received: (a) => waitUntil(`Alertmanager ${a.state === 'firing' ? 'lists' : 'no longer lists'} ${a.id}`, async () => (await listed(a)) === (a.state === 'firing'), 30_000, am.process),
    down: () => am.kill(),
    up: async () => {
      am = await am.restart();
    },
    hang: async () => {
      am.process.child.kill('SIGSTOP');
      return async () => void am.process.child.kill('SIGCONT');
    },
  });
});

t.test('webhook — posts { id, alert } with the id header and an HMAC-SHA256 signature that verifies', async (t) => {
  const r = await receiver(t);
  const sink = new WebhookSink({ url: r.url, secret: SECRET, headers: { Authorization: 'Bearer abc' } });
  await sink.deliver(alert('firing'), 'p1.cooling.hot.srv1.firing.1700000060000', never);
  t.equal(r.got.length, 1);
  const req = r.got[0]!;
  t.equal(req.url, '/hook');
  t.same(JSON.parse(req.body), { id: 'p1.cooling.hot.srv1.firing.1700000060000', alert: alert('firing') });
  t.equal(req.headers['idempotency-key'], 'p1.cooling.hot.srv1.firing.1700000060000');
  t.equal(req.headers['content-type'], 'application/json');
  t.equal(req.headers.authorization, 'Bearer abc', 'configured headers are sent');
  // The receiver's check, written out with node:crypto: HMAC-SHA256 of the raw body bytes.
  const expected = `sha256=${createHmac('sha256', SECRET).update(Buffer.from(req.body)).digest('hex')}`;
  t.equal(req.headers['x-probemesh-signature'], expected);
  t.ok(verifySignature(SECRET, req.body, req.headers['x-probemesh-signature'] as string), 'verifySignature accepts it');
  t.notOk(verifySignature(SECRET, req.body.replace('41.5', '14.5'), req.headers['x-probemesh-signature'] as string), 'a changed body fails');
  t.notOk(verifySignature('another-secret-0123456', req.body, req.headers['x-probemesh-signature'] as string), 'another secret fails');
  t.notOk(verifySignature(SECRET, req.body, undefined), 'no header fails');
});

t.test('webhook — without a secret the request is not signed', async (t) => {
  const r = await receiver(t);
  await new WebhookSink({ url: r.url }).deliver(alert('resolved'), 'x', never);
  t.equal(r.got[0]?.headers['x-probemesh-signature'], undefined);
});

t.test('webhook — 5xx, 408 and 429 are retryable, other 4xx and redirects are not', async (t) => {
  const cases: Array<[number, Record<string, string>, 'rejected' | 'unavailable']> = [
    [500, {}, 'unavailable'],
    [503, {}, 'unavailable'],
    [408, {}, 'unavailable'],
    [429, { 'retry-after': '7' }, 'unavailable'],
    [400, {}, 'rejected'],
    [401, {}, 'rejected'],
    [404, {}, 'rejected'],
    [302, { location: 'http://127.0.0.1:1/elsewhere' }, 'rejected'],
  ];
  let next = 0;
  const r = await receiver(t, (_req, res) => {
    const [status, headers] = cases[next++]!;
    res.writeHead(status, headers).end(`status ${status}\u0000\nfrom the receiver`);
  });
  const sink = new WebhookSink({ url: r.url, name: 'ops-hook' });
  for (const [status, , kind] of cases) {
    const err = await sink.deliver(alert('firing'), 'id', never).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (kind === 'unavailable') {
      t.type(err, SinkUnavailableError, `${status} is unavailable`);
      t.equal((err as SinkUnavailableError).retryable, true);
      t.equal((err as SinkUnavailableError).status, status);
    } else {
      t.type(err, SinkRejectedError, `${status} is rejected`);
      t.equal((err as SinkRejectedError).retryable, false);
      t.equal((err as SinkRejectedError).status, status);
    }
  }
  t.equal(r.got.length, cases.length, 'one request each: the redirect was not followed');
  next = 3;
  const limited = (await sink.deliver(alert('firing'), 'id', never).catch((e: unknown) => e)) as SinkUnavailableError;
  t.equal(limited.retryAfterMs, 7000, "429's Retry-After in milliseconds");
  next = 4;
  const bad = (await sink.deliver(alert('firing'), 'id', never).catch((e: unknown) => e)) as Error;
  t.equal(bad.message, `ops-hook: http://127.0.0.1:${r.port}/hook answered 400: status 400 from the receiver`, 'says who answered what, without control characters');
  next = 7;
  const moved = (await sink.deliver(alert('firing'), 'id', never).catch((e: unknown) => e)) as Error;
  t.match(moved.message, /redirects to http:\/\/127\.0\.0\.1:1\/elsewhere \(302\); redirects are not followed/);
});

t.test('webhook — a receiver that is down is retryable and named in the error', async (t) => {
  const port = await freeTcpPort();
  const err = await new WebhookSink({ url: `http://user:pw@127.0.0.1:${port}/hook?x=1` }).deliver(alert('firing'), 'id', never).catch((e: unknown) => e);
  t.type(err, SinkUnavailableError);
  t.equal((err as SinkUnavailableError).retryable, true);
  t.match((err as Error).message, new RegExp(`^webhook: cannot reach http://127\\.0\\.0\\.1:${port}/hook: .*ECONNREFUSED`));
  t.notMatch((err as Error).message, /pw/, 'no credentials in the message');
});

t.test('webhook — an answer that does not come in time is a TimeoutError (manual clock)', async (t) => {
  const held: ServerResponse[] = [];
  const r = await receiver(t, (_req, res) => held.push(res));
  const clock = new ManualClock(1_700_000_000_000);
  const sink = new WebhookSink({ url: r.url, timeoutMs: 5000, clock });
  const result = sink.deliver(alert('firing'), 'id', never).catch((e: unknown) => e);
  await waitUntil('the request reached the receiver', () => held.length === 1);
  await clock.advance(4999);
  t.equal(clock.pending, 1, 'still waiting just before the timeout');
  await clock.advance(1);
  const err = await result;
  t.type(err, TimeoutError);
  t.equal((err as TimeoutError).retryable, true);
  t.equal((err as Error).message, `webhook: no answer from ${r.url} within 5000 ms`);
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('webhook — an endless answer is cut off after 64 KiB', async (t) => {
  let written = 0;
  let closed = false;
  const r = await receiver(t, (_req, res) => {
    res.on('close', () => (closed = true));
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const pump = () => {
      // Bounded: 64 MiB at most, far beyond the 64 KiB the sink reads.
      while (!closed && written < 64 * 1024 * 1024) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    res.writeHead(200);
    pump();
  });
  await new WebhookSink({ url: r.url }).deliver(alert('firing'), 'id', never);
  await waitUntil('the receiver sees the connection closed', () => closed);
  t.ok(written < 64 * 1024 * 1024, `stopped reading (${written} bytes written by the receiver)`);
});

t.test('webhook — https with a configured CA; an unknown CA is retryable and says why', async (t) => {
  const r = await receiver(t, undefined, createTlsServer(tls));
  const url = `https://127.0.0.1:${r.port}/hook`;
  await new WebhookSink({ url, ca: tls.cert, secret: SECRET }).deliver(alert('firing'), 'tls-id', never);
  t.equal(r.got.length, 1);
  t.equal(r.got[0]!.headers['idempotency-key'], 'tls-id');
  const err = await new WebhookSink({ url }).deliver(alert('firing'), 'id', never).catch((e: unknown) => e);
  t.type(err, SinkUnavailableError);
  t.match((err as Error).message, /self.signed certificate/);
  t.equal(r.got.length, 1, 'nothing sent to an untrusted server');
});

t.test('webhook — bad settings are a ValidationError naming each field', async (t) => {
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as ValidationError;
    }
    throw new Error('no error');
  };
  const e1 = err(() => new WebhookSink({ url: 'ftp://example.org/x', headers: { 'Idempotency-Key': 'mine', 'bad header': 'x' } }));
  t.type(e1, ValidationError);
  t.same(
    e1.issues.map((i) => i.path),
    ['/url', '/headers/Idempotency-Key', '/headers/bad header'],
  );
  t.match(e1.message, /\/url must be http:\/\/ or https:\/\/, not ftp:\/\//);
  t.match(e1.message, /\/headers\/Idempotency-Key set by the webhook sink itself/);
  t.match(err(() => new WebhookSink({ url: 'not a url' })).message, /\/url not a URL: "not a url"/);
  t.match(err(() => new WebhookSink({ url: 'http://127.0.0.1/', secret: 'short' })).message, /\/secret must be at least 16 characters/);
  t.match(err(() => new AlertmanagerSink({ url: 'http://127.0.0.1/', labels: { severity: 'x', 'no-dash': 'y' } })).message, /\/labels\/severity set by the alertmanager sink itself; it cannot be configured; \/labels\/no-dash not a label name/);
});

t.test('alertmanager — labels, annotations, startsAt and endsAt as Alertmanager takes them', async (t) => {
  const clock = new ManualClock(1_700_000_100_000);
  const sink = new AlertmanagerSink({ url: 'http://127.0.0.1:9093', labels: { site: 'paris' }, resendMs: 60_000, clock });
  t.same(sink.postable(alert('firing')), {
    labels: { site: 'paris', alertname: 'cooling/hot', probe: 'p1', rule: 'cooling', decision: 'hot', severity: 'critical', instance: 'srv1', device: 'srv1', indicator: 'inlet' },
    annotations: { message: 'srv1 inlet at 41.5 °C', value: '41.5', threshold: '35' },
    startsAt: '2023-11-14T22:13:20.000Z',
    endsAt: '2023-11-14T22:19:00.000Z', // now + 4 × resend
  } satisfies PostableAlert);
  const resolved = sink.postable(alert('resolved', 1_700_000_090_000));
  t.equal(resolved.endsAt, '2023-11-14T22:14:50.000Z', 'resolved: endsAt is when it resolved');
  const { device: _d, indicator: _i, value: _v, threshold: _t, ...bare } = alert('firing');
  t.same(sink.postable(bare).labels, { site: 'paris', alertname: 'cooling/hot', probe: 'p1', rule: 'cooling', decision: 'hot', severity: 'critical', instance: 'p1' }, 'no device: the probe is the instance');
  t.same(sink.postable(bare).annotations, { message: 'srv1 inlet at 41.5 °C' });
});

/** What a probe says fires now, as a sink's host: `firing` is changed by the test as the probe would. */
function host(...firing: Alert[]) {
  const now = new Map(firing.map((a) => [a.id, a]));
  return { now, active: () => [...now.values()] };
}

t.test('alertmanager — firing alerts are sent again every interval until they resolve (manual clock)', async (t) => {
  const r = await receiver(t);
  const clock = new ManualClock(1_700_000_100_000);
  const sink = new AlertmanagerSink({ url: `http://127.0.0.1:${r.port}/`, resendMs: 60_000, clock });
  t.teardown(() => sink.stop());
  const probe = host();
  sink.start(probe);
  t.equal(clock.pending, 0, 'no timer while nothing fires');
  const other: Alert = { ...alert('firing'), id: 'p1.cooling.hot.srv2', device: 'srv2' };
  for (const [a, id] of [[alert('firing'), 'a'], [other, 'b']] as const) {
    probe.now.set(a.id, a);
    await sink.deliver(a, id, never);
  }
  t.same(
    r.got.map((g) => [g.url, (JSON.parse(g.body) as PostableAlert[]).map((a) => a.labels.device)]),
    [
      ['/api/v2/alerts', ['srv1']],
      ['/api/v2/alerts', ['srv2']],
    ],
  );
  await clock.advance(60_000);
  await waitUntil('the re-send', () => r.got.length === 3);
  const resent = JSON.parse(r.got[2]!.body) as PostableAlert[];
  t.same(
    resent.map((a) => [a.labels.device, a.endsAt]),
    [
      ['srv1', new Date(clock.now() + 240_000).toISOString()],
      ['srv2', new Date(clock.now() + 240_000).toISOString()],
    ],
    'both firing alerts in one request, valid for four more intervals',
  );
  probe.now.clear();
  await sink.deliver(alert('resolved', clock.now()), 'c', never);
  await sink.deliver({ ...other, state: 'resolved', ts: clock.now() }, 'd', never);
  await clock.advance(180_000);
  await new Promise((r) => setImmediate(r));
  t.equal(r.got.length, 5, 'nothing re-sent once resolved');
  t.equal(clock.pending, 0, 'no timer while nothing fires');
});

t.test('alertmanager — re-sends what the probe says fires now, not what it delivered: an alert taken back after a restart without a delivery; none whose resolution is still owed (manual clock)', async (t) => {
  const r = await receiver(t);
  const clock = new ManualClock(1_700_000_100_000);
  const sink = new AlertmanagerSink({ url: `http://127.0.0.1:${r.port}`, resendMs: 60_000, clock });
  t.teardown(() => sink.stop());
  const restored = { ...alert('firing'), id: 'p1.cooling.hot.srv3', device: 'srv3' };
  const probe = host(restored);
  sink.start(probe);
  sink.start(probe);
  t.equal(clock.pending, 1, 'one re-send timer, armed at start for what fired before the restart');
  await clock.advance(60_000);
  await waitUntil('the re-send', () => r.got.length === 1);
  t.same(
    (JSON.parse(r.got[0]!.body) as PostableAlert[]).map((a) => a.labels.device),
    ['srv3'],
    'the alert the probe took back, though this sink never delivered it',
  );
  // srv1 fired and resolved at the probe, but its resolution is still owed to this sink: not re-sent as firing.
  await sink.deliver(alert('firing'), 'a', never);
  probe.now.clear();
  await clock.advance(60_000);
  await new Promise((r) => setImmediate(r));
  t.equal(r.got.length, 2, 'nothing re-sent: nothing fires now');
  t.equal(clock.pending, 0);
});

t.test('alertmanager — a failed re-send is logged and tried again at the next interval', async (t) => {
  let down = false;
  const r = await receiver(t, (_req, res) => res.writeHead(down ? 503 : 200).end());
  const clock = new ManualClock(0);
  const logged: string[] = [];
  const sink = new AlertmanagerSink({ url: `http://127.0.0.1:${r.port}`, resendMs: 1000, clock, log: (_l, m) => logged.push(m) });
  t.teardown(() => sink.stop());
  sink.start(host(alert('firing')));
  await sink.deliver(alert('firing'), 'a', never);
  down = true;
  await clock.advance(1000);
  await waitUntil('the failed re-send is logged', () => logged.length === 1);
  t.equal(logged[0], `alertmanager: http://127.0.0.1:${r.port}/api/v2/alerts answered 503; 1 firing alerts are sent again in 1000 ms`);
  down = false;
  await clock.advance(1000);
  await waitUntil('the next re-send', () => r.got.length === 3);
  t.equal(logged.length, 1);
  sink.stop();
  sink.stop();
  t.equal(clock.pending, 0, 'stop clears the re-send timer (idempotent)');
});

t.test('config — sinks built from alerts.sinks: names defaulted per type, every wrong entry named by its path', async (t) => {
  const r = await receiver(t);
  const sinks = await createSinks([
    { type: 'webhook', url: r.url, timeout: '2s' },
    { type: 'alertmanager', url: 'http://127.0.0.1:9093' },
    { type: 'webhook', url: r.url, secret: SECRET },
    { type: 'webhook', name: 'pager', url: r.url },
  ]);
  t.same(
    sinks.map((s) => s.name),
    ['webhook', 'alertmanager', 'webhook-2', 'pager'],
  );
  await sinks[2]!.deliver(alert('firing'), 'cfg', never);
  t.ok(verifySignature(SECRET, r.got[0]!.body, r.got[0]!.headers['x-probemesh-signature'] as string), 'the configured secret signs');
  const err = await createSinks([
    { type: 'webhook', name: 'pager', url: r.url },
    { type: 'alertmanager', name: 'pager', url: 'http://127.0.0.1:9093', labels: { alertname: 'x' } },
    { type: 'webhook', url: r.url, ca: '/nonexistent/ca.pem' },
    { type: 'webhook', name: 'jetstream', url: r.url },
  ]).catch((e: unknown) => e);
  t.type(err, ValidationError);
  t.same(
    (err as ValidationError).issues.map((i) => i.path),
    ['/alerts/sinks/1/name', '/alerts/sinks/1/labels/alertname', '/alerts/sinks/2/ca', '/alerts/sinks/3/name'],
  );
  t.match((err as Error).message, /\/alerts\/sinks\/3\/name 'jetstream' is the name of the probe's own sink to the mesh; give this sink another name/);
  t.match((err as Error).message, /\/alerts\/sinks\/1\/name 'pager' names another sink too/);
  t.match((err as Error).message, /\/alerts\/sinks\/2\/ca cannot read \/nonexistent\/ca\.pem: ENOENT/);
});
