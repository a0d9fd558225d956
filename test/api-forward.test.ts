// ?probe=<id> on every route: a probe runs the request on another probe of the mesh, over NATS
// (pm.api.<id>), with the role it granted the caller's token.
import t from 'tap';
import { runProbe } from '@probemesh/probe';
import { startNats, tempDir } from '@probemesh/testkit';

const ADMIN = 'forward-admin-token-000001';
const READ = 'forward-read-token-0000001';

t.test('api forwarding — reads and writes on another probe through ?probe=, with the role this probe granted; streams and gone probes refused clearly', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dirs = await Promise.all([tempDir(), tempDir()]);
  t.teardown(() => Promise.all(dirs.map((d) => d.remove())));
  const quiet = () => undefined;
  const top = await runProbe(
    {
      id: 'top',
      role: 'coordinator',
      dataDir: dirs[0]!.path,
      nats: { servers: [nats.url] },
      http: { port: 0 },
      tokens: [
        { name: 'ops', role: 'admin', token: ADMIN },
        { name: 'ro', role: 'read', token: READ },
      ],
    },
    { log: quiet, connectors: [] },
  );
  t.teardown(() => top.stop());
  // The leaf has no tokens of its own: only requests forwarded by a probe of the mesh reach its routes.
  const leaf = await runProbe({ id: 'leaf', role: 'delegated', parent: 'top', dataDir: dirs[1]!.path, nats: { servers: [nats.url] }, http: { port: 0 }, indicators: [{ id: 'racks', kind: 'static', value: 12 }] }, { log: quiet, connectors: [] });
  t.teardown(() => leaf.stop());
  const call = async (method: string, path: string, token: string | null, body?: unknown, base = top.url) => {
    const res = await fetch(base + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text };
  };

  t.equal((await call('GET', '/info?probe=leaf', READ)).body.id, 'leaf', 'a read runs on the probe named');
  t.equal((await call('GET', '/query?probe=leaf&indicator=racks&last=1', READ)).body.records[0].datum, 12, "the leaf's values, asked at the top");
  t.same((await call('POST', '/query?probe=leaf', READ, { indicator: 'racks', mode: 'count' })).body, { mode: 'count', count: 1 }, 'a query in a body too');
  t.equal((await call('GET', '/session?probe=leaf', READ)).body.role, 'read', 'with the role the top granted');
  t.match((await call('GET', '/metrics?probe=leaf', READ)).body, /^probemesh_store_series\{probe="leaf"\} \d+$/m, 'text answers keep their media type');

  const created = await call('PUT', '/indicators/area?probe=leaf', ADMIN, { kind: 'static', value: 950 });
  t.equal(created.status, 201, 'an admin write runs on the leaf');
  t.equal((await call('GET', '/indicators/area', null, undefined, leaf.url)).status, 401, 'asked directly, the leaf still wants a token');
  t.same((await call('GET', '/indicators?probe=leaf', READ)).body.map((i: { id: string }) => i.id).sort(), ['area', 'racks'], 'the write is there');
  t.equal((await call('GET', '/indicators', READ)).body.length, 0, 'and not on the top');
  const refused = await call('PUT', '/indicators/other?probe=leaf', READ, { kind: 'static', value: 1 });
  t.equal(refused.status, 403, 'a read token cannot write through another probe either');
  const bad = await call('PUT', '/indicators/x?probe=leaf', ADMIN, { kind: 'static', value: 1, colour: 'red' });
  t.equal(bad.status, 400, "the leaf's refusal comes back as it is");
  t.ok(bad.body.error.issues.some((i: { path: string }) => i.path === '/colour'), 'with its issues');
  t.equal((await call('DELETE', '/indicators/area?probe=leaf', ADMIN)).status, 204);

  const stream = await call('GET', '/alerts/stream?probe=leaf', READ);
  t.equal(stream.status, 400);
  t.match(stream.body.error.message, /streams: ask probe 'leaf' directly/);
  const gone = await call('GET', '/info?probe=ghost', READ);
  t.ok(gone.status === 502 || gone.status === 504, `a probe nobody answers for is a 502/504 (${gone.status})`);
  t.match(gone.body.error.message, /ghost/);
  t.equal((await call('GET', '/info?probe=leaf', null)).status, 401, 'no token, nothing forwarded');
});
