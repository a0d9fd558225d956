import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runProbe } from '@probemesh/probe';
import { spawnLogged, startNats, tempDir, waitUntil } from '@probemesh/testkit';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));

t.test('flash — a config put in KV reconfigures a running probe live; an invalid one is refused', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const logs: string[] = [];
  const probe = await runProbe({ id: 'edge7', dataDir: join(dir.path, 'data'), nats: { servers: [nats.url] }, http: { port: 0 } }, { log: (_l, m) => logs.push(m), connectors: [] });
  t.teardown(() => probe.stop());
  t.same(probe.probe.list('indicators'), []);

  const file = join(dir.path, 'edge7.yaml');
  await writeFile(
    file,
    `id: edge7
nats: { servers: ["${nats.url}"] }
indicators:
  - { id: racks, kind: static, value: 12 }
  - { id: area, kind: static, value: 300 }
  - { id: density, kind: calculated, formula: racks / area }
rules:
  - { id: r, indicators: [density], period: 1h }
`,
  );
  const bundle = join(dir.path, 'bundle.json');
  const out = await run(process.execPath, [cli, 'flash', '--config', file, '--bundle', bundle]);
  t.match(out.stdout, /flashed probe 'edge7' \(revision \d+\)/);
  t.same(JSON.parse(await readFile(bundle, 'utf8')), { probe: 'edge7', nats: { servers: [nats.url] }, dataDir: '/var/lib/probemesh/edge7' });
  await waitUntil('flashed rule applied', () => probe.probe.list('rules').length === 1, 10_000);
  await waitUntil('restart-only settings reported', () => logs.some((l) => /also changes dataDir, http: these apply when the probe restarts/.test(l)), 10_000);
  await probe.probe.tickNow('r');
  t.equal((probe.probe.query({ indicator: 'density', last: 1 }) as { records: Array<{ datum: number }> }).records[0]?.datum, 0.04);

  // Flash a smaller config: what is gone is removed; then an invalid one changes nothing.
  await writeFile(file, `id: edge7\nnats: { servers: ["${nats.url}"] }\nindicators:\n  - { id: racks, kind: static, value: 14 }\n`);
  await run(process.execPath, [cli, 'flash', '--config', file]);
  await waitUntil('smaller config applied', () => probe.probe.list('indicators').length === 1, 10_000);
  t.same(probe.probe.list('rules'), []);
  const { connect } = await import('@nats-io/transport-node');
  const { configBucket } = await import('@probemesh/mesh');
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await (await configBucket(nc)).put('probe.edge7', JSON.stringify({ id: 'edge7', indicators: [{ id: 'x', kind: 'static' }] }));
  await waitUntil('invalid config reported', () => logs.some((l) => /not applied: invalid flashed config of edge7/.test(l)), 10_000);
  t.same(probe.probe.list('indicators').map((i) => i.id), ['racks'], 'the invalid config changed nothing');
  const bad = await run(process.execPath, [cli, 'flash', '--config', join(dir.path, 'nope.yaml')]).catch((e: { stderr: string }) => e);
  t.match((bad as { stderr: string }).stderr, /cannot read config .*nope\.yaml: no such file/);
});

t.test('flash — a new node boots from its bundle, appears in /mesh and starts measuring', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const token = 'flash-test-read-token-1';
  const coord = await runProbe({ id: 'site', role: 'coordinator', dataDir: join(dir.path, 'site'), nats: { servers: [nats.url] }, http: { port: 0 }, tokens: [{ name: 'test', token, role: 'read' }] }, { log: () => undefined, connectors: [] });
  t.teardown(() => coord.stop());
  const get = async (path: string) => {
    const res = await fetch(coord.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  t.notOk(((await get('/mesh')).body as unknown as Array<{ probe: string }>).some((p) => p.probe === 'net9'), 'net9 is not in the mesh yet');

  const file = join(dir.path, 'net9.yaml');
  await writeFile(
    file,
    `id: net9
role: delegated
parent: site
nats: { servers: ["${nats.url}"] }
http: { port: 0 }
indicators:
  - { id: servers, kind: static, value: 24 }
  - { id: watts_per_server, kind: static, value: 212.5 }
  - { id: it_power, kind: calculated, formula: servers * watts_per_server }
rules:
  - { id: power, indicators: [it_power], period: 1s }
`,
  );
  const bundle = join(dir.path, 'net9.json');
  const dataDir = join(dir.path, 'net9-data');
  // The node boots before anything is flashed for it: it waits for its config.
  await writeFile(bundle, JSON.stringify({ probe: 'net9', nats: { servers: [nats.url] }, dataDir }));
  const node = spawnLogged(process.execPath, [cli, 'probe', '--bundle', bundle, '--wait', '60']);
  t.teardown(() => node.stop());
  await waitUntil('node waiting for its config', () => /reading this node's config from NATS KV/.test(node.output()), 15_000, node);
  await run(process.execPath, [cli, 'flash', '--config', file, '--bundle', join(dir.path, 'written.json')]);

  await waitUntil('net9 in the coordinator\'s /mesh', async () => ((await get('/mesh')).body as unknown as Array<{ probe: string }>).some((p) => p.probe === 'net9'), 30_000, node);
  const member = ((await get('/mesh')).body as unknown as Array<Record<string, unknown>>).find((p) => p.probe === 'net9')!;
  t.match(member, { probe: 'net9', role: 'delegated', parent: 'site', stale: false }, 'listed with its role and parent');
  // Queried through the coordinator: the new node measures and stores.
  await waitUntil('net9 stored it_power', async () => (await get('/query?probe=net9&indicator=it_power&last=1')).status === 200 && ((await get('/query?probe=net9&indicator=it_power&last=1')).body.records as unknown[]).length > 0, 30_000, node);
  const r = await get('/query?probe=net9&indicator=it_power&last=1');
  t.equal((r.body.records as Array<{ datum: number }>)[0]!.datum, 5100, '24 × 212.5 W, stored by the new node and read through the coordinator');
  t.match(node.output(), new RegExp(`data in ${dataDir.replace(/[/.]/g, '\\$&')}`), 'the node keeps its data where the bundle says');

  const missing = await run(process.execPath, [cli, 'probe', '--bundle', join(dir.path, 'none.json')]).catch((e: { stderr: string }) => e);
  t.match((missing as { stderr: string }).stderr, /cannot read boot bundle .*none\.json: no such file/);
  const badWait = await run(process.execPath, [cli, 'probe', '--bundle', bundle, '--wait', 'soon']).catch((e: { stderr: string }) => e);
  t.match((badWait as { stderr: string }).stderr, /--wait needs a whole number from 0 to 86400, not 'soon'/, 'a bad option says which and why');
});
