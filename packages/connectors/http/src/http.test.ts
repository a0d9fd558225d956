import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectorSession, ReadRequest, Reading } from '@probemesh/core';
import { systemClock } from '@probemesh/core';
import type { Device } from '@probemesh/model';
import { fits } from '@probemesh/model';
import { connectorConformance, freeTcpPort } from '@probemesh/testkit';
import { httpConnector, restConnector } from './index.js';

/** The real local server every test talks to: routes answer like a power meter, a REST API, a broken service. */
const hits = new Map<string, number>();
const hanging = new Set<ServerResponse>();
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url!, 'http://x');
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
  const json = (code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (url.pathname) {
    case '/power':
      return json(200, { facility: { power_kw: 22.5, feeds: [{ name: 'A', kw: 11.5 }, { name: 'B', kw: 11 }] }, status: 'ok', online: true, serial: '000123', temp: '21.5', missing: null });
    case '/items':
      return json(200, { items: [{ id: 'pdu-1', value: 3 }, { id: 'pdu-2', value: 4 }, { value: 5 }, { id: 'pdu-4', value: { nested: 1 } }], racks: { r1: { kw: 1.5 }, r2: { kw: 2.5 } } });
    case '/number':
      return json(200, 7);
    case '/basic':
      if (req.headers.authorization !== `Basic ${Buffer.from('ops:s3cret').toString('base64')}`) return json(401, { error: 'who are you' });
      return json(200, { ok: 1 });
    case '/bearer':
      if (req.headers.authorization !== 'Bearer tok-123') return json(403, { error: 'forbidden' });
      return json(200, { ok: 2, header: req.headers['x-site'] ?? null });
    case '/echo': {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => json(200, { method: req.method, type: req.headers['content-type'] ?? null, got: body ? JSON.parse(body) : null }));
      return;
    }
    case '/fail':
      return json(500, { error: 'boom' });
    case '/html':
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><body>maintenance</body></html>');
    case '/big':
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ pad: 'x'.repeat(4096) }));
    case '/hang':
      hanging.add(res); // never answers
      return;
    default:
      return json(404, { error: 'no such route' });
  }
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
t.teardown(
  () =>
    new Promise<void>((r) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
);

const meter = (settings: Record<string, unknown> = { baseUrl: base }, id = 'meter', scheme = 'http'): Device => ({ id, address: '127.0.0.1', protocols: { [scheme]: settings } });

function req(params: Record<string, unknown>, dev: Device = meter(), indicator = 'x', scheme = 'http'): ReadRequest {
  return { indicator, device: dev, params, deviceParams: dev.protocols?.[scheme] };
}

async function session(t: Test, c = httpConnector): Promise<ConnectorSession> {
  const s: ConnectorSession = await c.start({ clock: systemClock, dataDir: '/tmp', log: () => undefined });
  t.teardown(() => s.stop());
  return s;
}

const ok = (r: Reading | undefined) => (r?.ok ? r.samples : undefined);
const datum = (r: Reading | undefined) => ok(r)?.[0]?.datum;
const fail = (r: Reading | undefined) => (r && !r.ok ? r : undefined);
const tick = () => AbortSignal.timeout(20_000);

t.test('http — conformance', async (t) => {
  await connectorConformance(t, httpConnector, {
    good: () => [req({ path: '/power', json: '$.facility.power_kw' }), req({ url: `${base}/items`, json: '$.items[*].value' }), req({ path: '/power', measure: 'latency_ms' })],
    silent: () => req({ path: '/hang', json: '$.x' }),
    badParams: [{}, { path: 'no-slash' }, { url: 'ftp://x/y' }, { url: `${base}/a`, path: '/b' }, { path: '/a', json: 'a.b' }, { path: '/a', json: '$..a' }, { path: '/a', measure: 'speed' }, { path: '/a', extra: 1 }],
  });
});

t.test('rest — the same connector under scheme rest, with its own device settings', async (t) => {
  t.equal(restConnector.scheme, 'rest');
  const s = await session(t, restConnector);
  const [r] = await s.read([req({ path: '/power', json: '$.facility.power_kw' }, meter({ baseUrl: base }, 'm', 'rest'), 'x', 'rest')], tick());
  t.equal(datum(r), 22.5);
});

t.test('http — JSON paths: fields, indexes, quoted keys, numbers in text, booleans', async (t) => {
  const s = await session(t);
  const before = hits.get('/power') ?? 0;
  const out = await s.read(
    [
      req({ path: '/power', json: '$.facility.power_kw' }),
      req({ path: '/power', json: "$.facility.feeds[1]['kw']" }),
      req({ path: '/power', json: '$.facility.feeds[-1].name' }),
      req({ path: '/power', json: '$.status' }),
      req({ path: '/power', json: '$.online' }),
      req({ path: '/power', json: '$.temp' }),
      req({ path: '/power', json: '$.serial' }),
      req({ path: '/number' }),
    ],
    tick(),
  );
  t.same(out.map(datum), [22.5, 11, 'B', 'ok', 1, 21.5, '000123', 7]);
  t.equal((hits.get('/power') ?? 0) - before, 1, 'seven indicators on one URL: one request');
});

t.test('http — wildcards give rows named by index, key or a field', async (t) => {
  const s = await session(t);
  const [byIndex, byField, byKey] = await s.read(
    [req({ path: '/items', json: '$.items[*].value' }), req({ path: '/items', json: '$.items[*].value', instanceKey: 'id' }), req({ path: '/items', json: '$.racks.*.kw' })],
    tick(),
  );
  t.same(ok(byIndex), [{ datum: 3, instance: '0' }, { datum: 4, instance: '1' }, { datum: 5, instance: '2' }], 'an object value is skipped');
  t.same(ok(byField), [{ datum: 3, instance: 'pdu-1' }, { datum: 4, instance: 'pdu-2' }, { datum: 5, instance: '2' }], 'a row without the field keeps its index');
  t.same(ok(byKey), [{ datum: 1.5, instance: 'r1' }, { datum: 2.5, instance: 'r2' }]);
});

t.test('http — a path that finds nothing is not-found, naming where it stopped', async (t) => {
  const s = await session(t);
  const [missing, deep, nul, obj] = await s.read(
    [req({ path: '/power', json: '$.facility.voltage' }), req({ path: '/power', json: '$.status.code' }), req({ path: '/power', json: '$.missing' }), req({ path: '/power', json: '$.facility' })],
    tick(),
  );
  t.match(fail(missing), { kind: 'not-found', error: /\$\.facility\.voltage: \$\.facility is an object without 'voltage'/ });
  t.match(fail(deep), { kind: 'not-found', error: /\$\.status is a string/ });
  t.match(fail(nul), { kind: 'not-found', error: /\$\.missing is null/ });
  t.match(fail(obj), { kind: 'bad-response', error: /is an object/ });
});

t.test('http — status, latency and body size', async (t) => {
  const s = await session(t);
  const [status, failing, latency, bytes] = await s.read(
    [req({ path: '/fail', measure: 'status' }), req({ path: '/nowhere', measure: 'status' }), req({ path: '/power', measure: 'latency_ms' }), req({ path: '/big', measure: 'body_bytes' })],
    tick(),
  );
  t.equal(datum(status), 500, 'a 500 is a status, not a failure, when the status is measured');
  t.equal(datum(failing), 404);
  t.ok((datum(latency) as number) > 0, 'latency is positive');
  t.equal(datum(bytes), JSON.stringify({ pad: 'x'.repeat(4096) }).length);
});

t.test('http — auth from device settings, headers merged', async (t) => {
  const s = await session(t);
  const out = await s.read(
    [
      req({ path: '/basic', json: '$.ok' }, meter({ baseUrl: base, auth: { type: 'basic', username: 'ops', password: 's3cret' } }, 'b')),
      req({ path: '/basic', json: '$.ok' }, meter({ baseUrl: base, auth: { type: 'basic', username: 'ops', password: 'nope' } }, 'b2')),
      req({ path: '/bearer', json: '$.header' }, meter({ baseUrl: base, auth: { type: 'bearer', token: 'tok-123' }, headers: { 'X-Site': 'dc1' } }, 'c')),
      req({ path: '/bearer', json: '$.ok' }, meter({ baseUrl: base }, 'd')),
      req({ url: `http://ops:s3cret@127.0.0.1:${new URL(base).port}/basic`, json: '$.ok' }, meter({}, 'e')),
    ],
    tick(),
  );
  t.equal(datum(out[0]), 1, 'basic auth accepted');
  t.match(fail(out[1]), { kind: 'refused', error: /HTTP 401/ });
  t.notMatch(fail(out[1])?.error, /nope/, 'the password is not in the message');
  t.equal(datum(out[2]), 'dc1', 'bearer token and a device header');
  t.match(fail(out[3]), { kind: 'refused', error: /HTTP 403.*auth/ });
  t.equal(datum(out[4]), 1, 'credentials in the URL become basic auth');
  t.notMatch(fail(out[4])?.error ?? '', /s3cret/);
});

t.test('http — POST sends the body, JSON when it is an object', async (t) => {
  const s = await session(t);
  const [obj, text] = await s.read(
    [req({ path: '/echo', method: 'POST', body: { q: 'power' }, json: '$.got.q' }), req({ path: '/echo', body: '{"q":"raw"}', headers: { 'Content-Type': 'application/json' }, json: '$.method' })],
    tick(),
  );
  t.equal(datum(obj), 'power');
  t.equal(datum(text), 'POST', 'a body implies POST');
});

t.test('http — 500, non-JSON and oversize bodies are bad responses', async (t) => {
  const s = await session(t);
  const [five, html, big] = await s.read(
    [req({ path: '/fail', json: '$.x' }), req({ path: '/html', json: '$.x' }), req({ path: '/big', json: '$.pad' }, meter({ baseUrl: base, maxBytes: 1000 }, 'small'))],
    tick(),
  );
  t.match(fail(five), { kind: 'bad-response', error: /HTTP 500/, retryable: true });
  t.match(fail(html), { kind: 'bad-response', error: /not JSON \(text\/html/ });
  t.match(fail(big), { kind: 'bad-response', error: /larger than 1000 bytes/ });
});

t.test('http — a server that never answers times out; the tick signal cancels too', async (t) => {
  const s = await session(t);
  const [slow] = await s.read([req({ path: '/hang', json: '$.x', timeoutMs: 200 })], tick());
  t.match(fail(slow), { kind: 'timeout', error: /within 200 ms/, retryable: true });
  const ac = new AbortController();
  const pending = s.read([req({ path: '/hang', json: '$.x' }), req({ path: '/hang', measure: 'status', timeoutMs: 60_000 })], ac.signal);
  setTimeout(() => ac.abort(new Error('tick timeout')), 100);
  for (const r of await pending) t.match(fail(r), { kind: 'timeout', error: /cancelled \(tick timeout\)/ });
  const inFlight = s.read([req({ path: '/hang', json: '$.x', timeoutMs: 60_000 })], tick());
  setTimeout(() => void s.stop(), 100);
  t.match(fail((await inFlight)[0]), { error: /connector stopped/ }, 'stop ends requests in flight');
});

t.test('http — a refused port is unreachable; a bad config says what is wrong', async (t) => {
  const s = await session(t);
  const port = await freeTcpPort();
  const [refused, noBase] = await s.read([req({ url: `http://127.0.0.1:${port}/x` }), { indicator: 'x', params: { path: '/x' } }], tick());
  t.match(fail(refused), { kind: 'unreachable', error: /connection refused/, retryable: true });
  t.match(fail(noBase), { kind: 'config', error: /baseUrl/ });
});

t.test('http — paths join the baseUrl (trailing slash or not), else http://<device address>', async (t) => {
  const s = await session(t);
  const bare: Device = { id: 'bare', address: '127.0.0.1' };
  const [slash, byAddress] = await s.read(
    [req({ path: '/power?x=1', json: '$.status' }, meter({ baseUrl: `${base}/` }, 'slash')), { indicator: 'x', device: bare, params: { path: '/power', measure: 'status', timeoutMs: 2000 } }],
    tick(),
  );
  t.equal(datum(slash), 'ok');
  // Port 80 on this machine may or may not serve; either way the request went to the device address.
  if (byAddress?.ok) t.type(datum(byAddress), 'number');
  else t.match(fail(byAddress)?.error, 'GET http://127.0.0.1/power');
  t.ok(fits(httpConnector.deviceParams!, {}), 'empty device settings are valid');
});
