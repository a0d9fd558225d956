import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { httpConnector } from '@probemesh/connector-http';
import { Probe, type ProbeMetrics } from '@probemesh/runtime';
import { startJsonDevice, tempDir, waitUntil } from '@probemesh/testkit';
import { createApi, prometheusText, serve } from './index.js';

const ADMIN = 'admin-token-0123456789';
const READ = 'read-token-0123456789ab';

/** What Prometheus's own `promtool check metrics` (Debian package prometheus) says of a /metrics text: parse errors and lint. */
function promtool(text: string): Promise<{ code: number | null; problems: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let problems = '';
    p.stdout.on('data', (b: Buffer) => (problems += b.toString()));
    p.stderr.on('data', (b: Buffer) => (problems += b.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, problems }));
    p.stdin.end(text);
  });
}

/** A real probe with the http connector reading a real local device, served over real HTTP. */
async function setup(t: Test) {
  const device = { temp: 20 };
  const dev = await startJsonDevice(() => ({ sensor: { temp: device.temp } }));
  t.teardown(() => dev.stop());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [httpConnector] });
  t.teardown(() => probe.stop());
  const app = createApi(probe, {
    tokens: [
      { name: 'ops', role: 'admin', token: ADMIN },
      { name: 'ro', role: 'read', token: READ },
    ],
    bodyLimit: 4096,
    sse: { keepAliveMs: 200 },
  });
  const server = await serve(app, { port: 0 });
  t.teardown(() => server.close());
  const call = async (method: string, path: string, body?: unknown, token: string | null = ADMIN, type = 'application/json') => {
    const res = await fetch(server.url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };
  const devUrl = dev.url;
  await call('PUT', '/devices/room', { address: '127.0.0.1', protocols: { http: { baseUrl: devUrl } } });
  await call('PUT', '/indicators/temp', { kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.sensor.temp' } });
  return { probe, server, call, device, app };
}

t.test('api — CRUD round trips', async (t) => {
  const { call } = await setup(t);
  t.equal((await call('GET', '/devices/room')).body.address, '127.0.0.1');
  const created = await call('POST', '/indicators', { id: 'double', kind: 'calculated', formula: 'temp * 2' });
  t.equal(created.status, 201);
  t.equal((await call('POST', '/indicators', { id: 'double', kind: 'calculated', formula: 'temp * 3' })).status, 409, 'POST of an existing id is a conflict');
  t.equal((await call('PUT', '/indicators/double', { kind: 'calculated', formula: 'temp * 3' })).status, 200, 'PUT replaces');
  t.equal((await call('GET', '/indicators/double')).body.formula, 'temp * 3');
  t.same((await call('GET', '/indicators')).body.map((i: { id: string }) => i.id).sort(), ['double', 'temp']);
  t.equal((await call('PUT', '/statics/racks', { value: 12 })).body.value, 12);
  t.equal((await call('DELETE', '/indicators/double')).status, 204);
  t.equal((await call('GET', '/indicators/double')).status, 404);
  t.equal((await call('GET', '/gadgets')).status, 404);
});

t.test('api — tokens: none is 401, a read token cannot write (403)', async (t) => {
  const { call } = await setup(t);
  t.equal((await call('GET', '/indicators', undefined, null)).status, 401);
  t.equal((await call('GET', '/indicators', undefined, 'wrong-token-0000000000')).status, 401);
  t.equal((await call('GET', '/indicators', undefined, READ)).status, 200);
  const w = await call('PUT', '/indicators/x', { kind: 'static', value: 1 }, READ);
  t.equal(w.status, 403);
  t.match(w.body.error.message, /admin/);
  t.equal((await call('GET', '/health', undefined, null)).status, 200, '/health is open');
});

t.test('api — a query string asked again (its checked input kept) is still checked for its token and answers with the data of now', async (t) => {
  const { call, probe } = await setup(t);
  const path = '/query?indicator=temp&last=1&from=2023-11-14T22:13:20.000Z';
  await probe.store.append([{ indicator: 'temp', device: 'room', rule: 'r', ts: 1_700_000_000_000, datum: 1 }]);
  t.same((await call('GET', path, undefined, READ)).body.records.map((v: { datum: number }) => v.datum), [1]);
  t.equal((await call('GET', path, undefined, null)).status, 401, 'no token: refused though the same target was answered before');
  t.equal((await call('GET', path, undefined, 'wrong-token-0000000000')).status, 401);
  await probe.store.append([{ indicator: 'temp', device: 'room', rule: 'r', ts: 1_700_000_001_000, datum: 2 }]);
  const again = await call('GET', path, undefined, READ);
  t.same(again.body.records.map((v: { ts: number; datum: number }) => [v.ts, v.datum]), [[1_700_000_001_000, 2]], 'the newest value, from the time the query string gave');
  t.equal((await call('GET', '/query?indicator=temp&last=0', undefined, READ)).status, 400);
  t.equal((await call('GET', '/query?indicator=temp&last=0', undefined, READ)).status, 400, 'an invalid query string is refused every time');
});

t.test('api — bad input is refused with what is wrong, and changes nothing', async (t) => {
  const { call } = await setup(t);
  const before = (await call('GET', '/indicators')).body;
  const malformed = await call('PUT', '/indicators/x', '{"kind": ', ADMIN);
  t.equal(malformed.status, 400);
  t.equal(malformed.body.error.code, 'malformed-json');
  const unknown = await call('PUT', '/indicators/x', { kind: 'static', value: 1, colour: 'red' });
  t.equal(unknown.status, 400);
  t.ok(unknown.body.error.issues.some((i: { path: string }) => i.path === '/colour'), 'names the unknown field');
  const formula = await call('PUT', '/indicators/x', { kind: 'calculated', formula: 'temp * (' });
  t.equal(formula.status, 422);
  t.match(formula.body.error.message, /expected|unexpected/);
  t.equal((await call('PUT', '/indicators/x', { id: 'y', kind: 'static', value: 1 })).status, 400, 'id in the body must match the path');
  t.equal((await call('PUT', '/indicators/x', 'value=1', ADMIN, 'text/plain')).status, 415);
  t.equal((await call('PUT', '/indicators/x', { kind: 'static', value: 'x'.repeat(5000) })).status, 413);
  t.equal((await call('DELETE', '/indicators/temp')).status, 204, 'an unused indicator can go');
  await call('PUT', '/indicators/temp', { kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.sensor.temp' } });
  await call('PUT', '/rules/r', { indicators: ['temp'], targets: { devices: ['room'] }, period: '1h' });
  t.equal((await call('DELETE', '/indicators/temp')).status, 409, 'one a rule uses cannot');
  t.equal((await call('GET', '/query?mode=average')).status, 400);
  t.equal((await call('GET', '/query?from=yesterday')).status, 400);
  t.equal((await call('GET', '/query?colour=red')).status, 400, 'unknown query parameters are errors');
  t.same((await call('GET', '/indicators')).body.map((i: { id: string }) => i.id), before.map((i: { id: string }) => i.id));
});

t.test('api — every query mode, by query string and by body; live reconfiguration', async (t) => {
  const { probe, call, device } = await setup(t);
  await call('PUT', '/rules/r', { indicators: ['temp'], targets: { devices: ['room'] }, period: '1h' });
  for (const v of [20, 25, 30]) {
    device.temp = v;
    await probe.tickNow('r');
  }
  t.same((await call('GET', '/query?indicator=temp&mode=mean', undefined, READ)).body, { mode: 'mean', value: 25, count: 3 });
  t.same((await call('GET', '/query?indicator=temp&mode=sum')).body, { mode: 'sum', value: 75, count: 3 });
  t.same((await call('GET', '/query?indicator=temp&mode=count')).body, { mode: 'count', count: 3 });
  t.equal((await call('GET', '/query?indicator=temp&mode=max')).body.record.datum, 30);
  t.equal((await call('GET', '/query?indicator=temp&mode=min')).body.record.datum, 20);
  t.same((await call('GET', '/query?indicator=temp&last=2')).body.records.map((r: { datum: number }) => r.datum), [25, 30]);
  t.same((await call('POST', '/query', { indicator: 'temp', first: 1 })).body.records.map((r: { datum: number }) => r.datum), [20]);
  t.same((await call('GET', '/query?device=room&rule=r&mode=count&from=0&to=2100-01-01T00:00:00Z')).body, { mode: 'count', count: 3 });
  // A transform added live applies from the next tick on.
  await call('PUT', '/indicators/temp', { kind: 'atomic', source: { scheme: 'http', path: '/', json: '$.sensor.temp' }, transform: 'value * 10' });
  await probe.tickNow('r');
  t.same((await call('GET', '/query?indicator=temp&last=1')).body.records[0].datum, 300);
  t.equal((await call('GET', '/rules/states')).body[0].ticks, 4);
});

t.test('api — the SSE stream delivers a firing then a resolved alert, once each', async (t) => {
  const { probe, call, device, server } = await setup(t);
  await call('PUT', '/rules/hot', { indicators: ['temp'], targets: { devices: ['room'] }, period: '1h', decisions: [{ id: 'too-hot', when: 'temp > 30', severity: 'critical', indicator: 'temp' }] });
  const controller = new AbortController();
  const res = await fetch(`${server.url}/alerts/stream?token=${READ}`, { signal: controller.signal });
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  const events: Array<{ state: string; value: number }> = [];
  const seen = { hello: false, keepAliveAfter: false };
  let buf = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += new TextDecoder().decode(value);
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^event: alert$/m.test(chunk)) events.push(JSON.parse(/^data: (.*)$/m.exec(chunk)![1]!));
        else if (/^event: hello$/m.test(chunk)) seen.hello = true;
        else if (chunk.startsWith(':') && events.length === 2) seen.keepAliveAfter = true;
      }
    }
  })();
  await waitUntil('the hello event', () => seen.hello, 10_000);
  for (const v of [25, 35, 36, 37, 20, 21]) {
    device.temp = v;
    await probe.tickNow('hot');
  }
  await waitUntil('a keep-alive after both alerts (it must not count as an event)', () => seen.keepAliveAfter, 10_000);
  controller.abort();
  await pump;
  t.same(
    events.map((e) => `${e.state}:${e.value}`),
    ['firing:35', 'resolved:20'],
  );
  t.same((await call('GET', '/alerts?state=firing')).body.length, 1, 'one firing transition in the history');
  t.same((await call('GET', '/alerts/active')).body, [], 'nothing fires now');
  device.temp = 40;
  await probe.tickNow('hot');
  t.match((await call('GET', '/alerts/active')).body, [{ rule: 'hot', decision: 'too-hot', state: 'firing', value: 40 }], '/alerts/active: what fires now');
});

t.test('api — /metrics in Prometheus text and /openapi.json from the schemas', async (t) => {
  const { probe, call } = await setup(t);
  await call('PUT', '/rules/r', { indicators: ['temp'], targets: { devices: ['room'] }, period: '1h' });
  await probe.tickNow('r');
  const m = await call('GET', '/metrics', undefined, READ);
  t.equal(m.status, 200);
  t.match(m.body, /^# TYPE probemesh_ticks_total counter$/m);
  t.match(m.body, /^probemesh_ticks_total\{probe="p1",rule="r"\} 1$/m);
  t.match(m.body, /^probemesh_value\{probe="p1",indicator="temp",device="room"\} 20$/m);
  t.match(m.body, /^probemesh_rule_up\{probe="p1",rule="r"\} 1$/m, 'a running rule is up, one series whatever its status');
  t.match(m.body, /^probemesh_rule_status\{probe="p1",rule="r",status="running"\} 1$/m);
  t.match(m.body, /^probemesh_rule_status\{probe="p1",rule="r",status="failed"\} 0$/m, 'one-hot over every status');
  t.match(m.body, /^probemesh_store_series\{probe="p1"\} 1$/m);
  t.match(m.body, /^# TYPE probemesh_connector_requests_total counter\nprobemesh_connector_requests_total\{probe="p1",scheme="http"\} 1$/m, 'a stat the connector declares a counter');
  t.same(await promtool(m.body), { code: 0, problems: '' }, 'promtool finds nothing to say');
  const mem = (name: string) => Number(new RegExp(`^${name}\\{probe="p1"\\} (\\d+)$`, 'm').exec(m.body)?.[1]);
  t.ok(mem('probemesh_heap_used_bytes') > 0 && mem('probemesh_heap_used_bytes') < mem('probemesh_resident_memory_bytes'), 'heap in use, a part of the resident memory');
  const o = await call('GET', '/openapi.json', undefined, null);
  t.equal(o.body.openapi, '3.1.0');
  for (const p of ['/query', '/indicators', '/indicators/{id}', '/rules/states', '/alerts/stream', '/metrics']) t.ok(o.body.paths[p], `documents ${p}`);
  t.ok(o.body.components.schemas.Source_http, 'documents the http connector parameters');
  t.ok(o.body.components.schemas.Indicator.anyOf, 'the indicator schema is the one that validates');
});

t.test('api — /metrics names: a scheme in a label (schemes that clean up alike do not clash), ms in seconds, one family per name', async (t) => {
  // Metrics made up here: no real connector has such scheme and stat names, but a plugin may.
  const metrics: ProbeMetrics = {
    ticks: 0, tickErrors: 0, valuesStored: 0, alertsFired: 0, storeBytes: 0, series: 0, rssBytes: 0, heapUsedBytes: 0,
    rules: [{ rule: 'r', status: 'store-unavailable', ticks: 2, errors: 0, restarts: 0 }],
    connectors: { 'lan-net': { drops: 1 }, lan: { net_drops: 2, 'busy-time_ms': 1500, busy_time_ms: 9 }, wan: { drops: 3, drops_total: 4 } },
    connectorCounters: { 'lan-net': ['drops'], lan: ['net_drops', 'busy-time_ms', 'busy_time_ms'], wan: ['drops'] },
    store: { available: true, pendingValues: 0, droppedValues: 0, failedCommits: 0, writtenValues: 0 }, sinks: [], latest: [],
  };
  const text = prometheusText('p1', metrics);
  const lines = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`# TYPE ${name} `));
  t.same(lines('probemesh_connector_drops_total'), ['# TYPE probemesh_connector_drops_total counter', 'probemesh_connector_drops_total{probe="p1",scheme="lan-net"} 1', 'probemesh_connector_drops_total{probe="p1",scheme="wan"} 3']);
  t.same(lines('probemesh_connector_net_drops_total'), ['# TYPE probemesh_connector_net_drops_total counter', 'probemesh_connector_net_drops_total{probe="p1",scheme="lan"} 2']);
  t.same(lines('probemesh_connector_busy_time_seconds_total'), ['# TYPE probemesh_connector_busy_time_seconds_total counter', 'probemesh_connector_busy_time_seconds_total{probe="p1",scheme="lan"} 1.5'], 'two stats that clean up to one name: the first is kept');
  t.same(lines('probemesh_connector_drops'), [], 'no gauge of the same name');
  t.notMatch(text, /drops_total\{probe="p1",scheme="wan"\} 4/, 'a gauge named like a counter family is left out, not a second TYPE');
  t.same(lines('probemesh_rule_up'), ['# TYPE probemesh_rule_up gauge', 'probemesh_rule_up{probe="p1",rule="r"} 0']);
  t.match(text, /^probemesh_rule_status\{probe="p1",rule="r",status="store-unavailable"\} 1$/m);
  t.equal(text.match(/^probemesh_rule_status\{/gm)?.length, 6, 'every status, one of them 1');
  t.same(await promtool(text), { code: 0, problems: '' }, 'promtool parses it and finds no naming problem');
});

t.test('api — the route table: every mounted route is documented, every documented route is mounted', async (t) => {
  const { app } = await setup(t);
  const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  // Handlers hono runs for every method ('ALL', like the body limit) are middleware, not routes.
  const mounted = [...new Set(app.routes.filter((r) => r.method !== 'ALL' && !r.path.includes('*')).map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`))];
  t.same(mounted.sort(), documented.sort());
  t.ok(documented.length >= 20, `${documented.length} operations`);
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [m, op] of Object.entries(ops)) t.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${m} ${path} documents its success`);
});

t.test('api — an id that a fixed route beside /{collection}/{id} would hide is refused, saying which route', async (t) => {
  const { call } = await setup(t);
  const doc = (await call('GET', '/openapi.json', undefined, null)).body as { paths: Record<string, object> };
  const collections = Object.keys(doc.paths).flatMap((p) => /^\/([a-z]+)\/\{id\}$/.exec(p)?.slice(1) ?? []);
  // Every path /<collection>/<word> is matched before /<collection>/{id}: no entity may take <word> as its id.
  const fixed = Object.keys(doc.paths).flatMap((p) => {
    const m = /^\/([a-z]+)\/([A-Za-z0-9_-]+)$/.exec(p);
    return m && collections.includes(m[1]!) ? [[m[1]!, m[2]!] as const] : [];
  });
  t.same(fixed, [['rules', 'states']], 'the fixed routes beside a collection');
  const bodies: Record<string, object> = { rules: { indicators: ['temp'], period: '1h' }, indicators: { kind: 'static', value: 1 }, devices: { address: '127.0.0.1' } };
  for (const [kind, word] of fixed) {
    const put = await call('PUT', `/${kind}/${word}`, bodies[kind]);
    t.equal(put.status, 422, `PUT /${kind}/${word} is refused`);
    t.equal(put.body.error.message, "rule 'states': the id 'states' is reserved for the API's GET /rules/states (every rule's state); give the rule another id");
    t.equal((await call('POST', `/${kind}`, { id: word, ...bodies[kind] })).status, 422, `POST /${kind} with id ${word} too`);
    t.same((await call('GET', `/${kind}`)).body, [], 'nothing saved');
  }
  t.same((await call('GET', '/rules/states')).body, [], '/rules/states still answers the states');
});

t.test('api — records in pages (limit, cursor, next), large pages streamed, and every record exported as NDJSON and CSV', async (t) => {
  const { probe, call, server } = await setup(t);
  const values = [];
  for (let i = 0; i < 12_500; i++) {
    values.push({ indicator: 'power', device: 'a', ts: 1_700_000_000_000 + i * 1000, datum: i });
    values.push({ indicator: 'power', device: 'b', ts: 1_700_000_000_000 + i * 1000, datum: -i }); // equal timestamps across series
  }
  values.push({ indicator: 'power', device: 'c', ts: 1_700_000_000_000, datum: 'say "hi", =1+1\nnext line' });
  await probe.store.append(values);
  const all = probe.store.query({ indicator: 'power', limit: 100_000 });
  if (all.mode !== 'records') throw new Error('records expected');
  t.equal(all.records.length, 25_001);
  const key = (v: { device?: string; ts: number }) => `${v.device}@${v.ts}`;

  const big = await call('GET', '/query?indicator=power&limit=100000', undefined, READ);
  t.same(big.body.records.map(key), all.records.map(key), 'a page larger than one read, streamed, holds the same records in the same order');
  t.equal(big.body.next, undefined, 'no next when everything was given');

  const dflt = await call('GET', '/query?indicator=power&last=1000000', undefined, READ);
  t.equal(dflt.body.records.length, 10_000, 'a page holds 10,000 records by default');
  t.type(dflt.body.next, 'string', 'and says where the next page starts');

  const paged: Array<{ device?: string; ts: number }> = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const r = await call('GET', `/query?indicator=power&limit=7000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, READ);
    t.equal(r.status, 200);
    paged.push(...r.body.records);
    cursor = r.body.next;
    pages++;
  } while (cursor && pages < 10);
  t.equal(pages, 4);
  t.same(paged.map(key), all.records.map(key), 'pages joined are the whole answer, nothing twice');

  const nd = await fetch(`${server.url}/export?indicator=power&format=ndjson`, { headers: { authorization: `Bearer ${READ}` } });
  t.equal(nd.headers.get('content-type'), 'application/x-ndjson');
  const lines = (await nd.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map(key), all.records.map(key), 'the NDJSON export holds every record');
  const csv = await (await fetch(`${server.url}/export?indicator=power&device=c&format=csv`, { headers: { authorization: `Bearer ${READ}` } })).text();
  t.equal(csv, `ts,time,indicator,device,instance,rule,datum,incomplete\r\n1700000000000,2023-11-14T22:13:20.000Z,power,c,,,"say ""hi"", =1+1\nnext line",\r\n`, 'CSV quotes text with separators');
  await probe.store.append([{ indicator: 'note', ts: 1, datum: '=HYPERLINK("x")' }]);
  t.match(await (await fetch(`${server.url}/export?indicator=note&format=csv`, { headers: { authorization: `Bearer ${READ}` } })).text(), /,"'=HYPERLINK\(""x""\)",\r\n$/, 'text a spreadsheet would run as a formula is defused');
  t.equal((await call('GET', '/export?indicator=power&format=xml', undefined, READ)).status, 400);
  t.equal((await call('GET', '/query?indicator=power&cursor=garbage', undefined, READ)).status, 400, 'a cursor that is not one is refused');
});

t.test('api — POST /dry-run tries a formula or decision on the current values and saves nothing', async (t) => {
  const { probe, call, device } = await setup(t);
  await call('PUT', '/rules/r', { indicators: ['temp'], targets: { devices: ['room'] }, period: '1h' });
  device.temp = 31;
  await probe.tickNow('r');
  const formula = await call('POST', '/dry-run', { context: 'calculated', expr: 'temp * 2', rule: 'r' }, READ);
  t.equal(formula.status, 200, 'a read token may try');
  t.same(formula.body.results.map((r: { device?: string; value: number }) => [r.device, r.value]), [['room', 62]]);
  const decision = await call('POST', '/dry-run', { context: 'decision', expr: 'temp > 30', rule: 'r', decision: { id: 'hot', severity: 'critical', indicator: 'temp' } }, READ);
  t.equal(decision.body.results[0].alert.state, 'firing', 'the alert a decision would fire');
  const broken = await call('POST', '/dry-run', { context: 'calculated', expr: 'temp * (', rule: 'r' }, READ);
  t.equal(broken.status, 422);
  t.match(broken.body.error.message, /1:\d+/, 'with line:column, as saving says it');
  t.equal((await call('POST', '/dry-run', { context: 'calculated', expr: 'temp', rule: 'nope' }, READ)).status, 404);
  t.same((await call('GET', '/indicators')).body.map((i: { id: string }) => i.id), ['temp'], 'nothing was saved');
  t.equal((await call('GET', '/alerts')).body.length, 0, 'nothing fired');
});

t.test('api — mode series: buckets of a step from the roll-ups, in OpenAPI, and a step too fine refused with what would do', async (t) => {
  const { probe, call } = await setup(t);
  const start = Date.UTC(2024, 0, 1);
  const values = Array.from({ length: 6 * 60 }, (_, i) => ({ indicator: 'power', device: 'a', ts: start + i * 60_000, datum: i % 60 })); // 6 h, one a minute
  await probe.store.append(values);
  const r = await call('GET', `/query?indicator=power&mode=series&step=1h&from=2024-01-01T00:00:00Z&to=${start + 6 * 3_600_000}`, undefined, READ);
  t.equal(r.status, 200);
  t.equal(r.body.step, 3_600_000);
  t.same(r.body.buckets.map((b: { ts: number; count: number; mean: number; min: number; max: number }) => [b.ts - start, b.count, b.mean, b.min, b.max]), Array.from({ length: 6 }, (_, h) => [h * 3_600_000, 60, 29.5, 0, 59]));
  const fine = await call('GET', `/query?indicator=power&mode=series&step=1ms&from=0&to=${start}`, undefined, READ);
  t.equal(fine.status, 400);
  t.match(fine.body.error.message, /step/);
  const doc = (await call('GET', '/openapi.json', undefined, null)).body;
  t.ok(doc.paths['/query'].get.parameters.some((p: { name: string }) => p.name === 'step'), 'step is documented');
  t.ok(JSON.stringify(doc.components.schemas.QueryResult).includes('"series"'), 'and the series answer');
});
