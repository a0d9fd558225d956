import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buckets, configKey } from '@probemesh/model';
import { runProbe } from '@probemesh/probe';
import { freeTcpPort, spawnLogged, startNats, tempDir, waitUntil } from '@probemesh/testkit';

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
  await (await configBucket(nc)).put(configKey('edge7'), JSON.stringify({ id: 'edge7', indicators: [{ id: 'x', kind: 'static' }] }));
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

/** A node's config file, its bundle written by `probemesh flash`, and the node started from it as a real process. */
async function flashedNode(t: Test, natsUrl: string, dir: string) {
  const port = await freeTcpPort();
  const file = join(dir, 'edge7.yaml');
  const config = (formula: string) => `id: edge7
dataDir: ${JSON.stringify(join(dir, 'edge7-data'))}
nats: { servers: ["${natsUrl}"] }
http: { port: ${port} }
tokens: [{ name: ops, role: read, token: flash-test-read-token-1 }]
indicators:
  - { id: racks, kind: static, value: 12 }
  - { id: area, kind: static, value: 300 }
  - { id: density, kind: calculated, formula: ${formula} }
rules:
  - { id: r, indicators: [density], period: 1s }
`;
  const bundle = join(dir, 'edge7.json');
  const flash = () =>
    run(process.execPath, [cli, 'flash', '--config', file, '--bundle', bundle]).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const write = (formula: string) => writeFile(file, config(formula));
  let node: ReturnType<typeof spawnLogged> | undefined;
  t.teardown(() => node?.stop());
  const url = `http://127.0.0.1:${port}`;
  const get = async (path: string) => (await fetch(url + path, { headers: { authorization: 'Bearer flash-test-read-token-1' } })).json() as Promise<any>;
  return {
    file,
    url,
    get,
    async flash(formula: string) {
      await write(formula);
      return flash();
    },
    /** Starts the node from its bundle (stopping the one before) and waits until it answers. */
    async boot() {
      await node?.stop();
      node = spawnLogged(process.execPath, [cli, 'probe', '--bundle', bundle, '--wait', '30']);
      await waitUntil('the node answering', async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true, 60_000, node);
      return node;
    },
    density: async () => (await get('/query?indicator=density&last=1')).records?.[0]?.datum as number | undefined,
  };
}

t.test('flash — a typo is refused with the probe\'s own message and stores nothing; one put in KV by other means is refused by the node, which still boots', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const node = await flashedNode(t, nats.url, dir.path);
  t.match((await node.flash('racks / area')).out, /flashed probe 'edge7' \(revision 1\)/);
  await node.boot();
  await waitUntil('density measured', async () => (await node.density()) === 0.04, 30_000);
  t.match((await node.get('/info')).config, { applied: 1, latest: 1 }, '/info: the newest revision runs');

  const typo = await node.flash('rakcs / area');
  t.equal(typo.code, 1, 'flash refuses it');
  t.match(typo.out, `${node.file}:9:5 /indicators/2: indicator 'density' formula: unknown indicator 'rakcs' at 1:1`, 'with the probe\'s own message, placed in the file');
  const { connect } = await import('@nats-io/transport-node');
  const { configBucket } = await import('@probemesh/mesh');
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const kv = await configBucket(nc);
  t.equal((await kv.get(configKey('edge7')))?.revision, 1, 'nothing stored: KV still holds revision 1');

  // The same typo put in KV by other means (an older tool, a hand-made put): the running node refuses it.
  const stored = (await kv.get(configKey('edge7')))!.json() as { indicators: Array<{ formula?: string }> };
  stored.indicators[2]!.formula = 'rakcs / area';
  t.equal(await kv.put(configKey('edge7'), JSON.stringify(stored)), 2);
  await waitUntil('revision 2 reported', async () => (await node.get('/info')).config?.latest === 2, 30_000);
  const rev2 = `${buckets.config}/${configKey('edge7')} revision 2`;
  t.match((await node.get('/info')).config, { applied: 1, latest: 2, note: `revision 2 not applied: ${rev2} is not a valid probe config:\n  ${rev2} /indicators/2: indicator 'density' formula: unknown indicator 'rakcs'` });
  t.equal(await node.density(), 0.04, 'still measuring with revision 1');

  // Rebooted, the node runs revision 1, the last it applied, and says which and why.
  const rebooted = await node.boot();
  t.ok(rebooted.output().includes(`running flashed config revision 1, the last this node applied: ${rev2} is not a valid probe config`), 'the reboot says which revision it runs and why');
  t.match((await node.get('/info')).config, { applied: 1, latest: 2, note: /revision 2 is not a valid probe config/ }, '/info after the reboot');
  const before = Date.now();
  await waitUntil('density measured after the reboot', async () => ((await node.get(`/query?indicator=density&from=${before}`)).records?.length ?? 0) > 0, 30_000, rebooted);
  t.equal(await node.density(), 0.04);

  // A fixed config flashed later is taken live, and kept to boot from.
  t.match((await node.flash('racks / area * 2')).out, /revision 3/);
  await waitUntil('revision 3 applied', async () => (await node.get('/info')).config?.applied === 3, 30_000, rebooted);
  t.same((await node.get('/info')).config, { applied: 3, latest: 3 }, 'nothing left to explain');
});

t.test('flash — a node whose NATS is down at boot runs its last applied config, says so, and joins when NATS returns', async (t) => {
  let nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const node = await flashedNode(t, nats.url, dir.path);
  await node.flash('racks / area');
  await node.boot();
  await waitUntil('revision 1 applied', async () => (await node.get('/info')).config?.applied === 1, 30_000);

  await nats.stop();
  const offline = await node.boot();
  t.match(offline.output(), new RegExp(`running flashed config revision 1, the last this node applied: NATS at ${nats.url.replace(/[/.]/g, '\\$&')} unreachable at boot`));
  t.match((await node.get('/info')).config, { applied: 1, note: /unreachable at boot/ });
  const before = Date.now();
  await waitUntil('measuring without NATS', async () => ((await node.get(`/query?indicator=density&from=${before}`)).records?.length ?? 0) > 0, 30_000, offline);
  t.equal(await node.density(), 0.04);

  nats = await nats.restart();
  t.match((await node.flash('racks / area * 2')).out, /revision 2/);
  await waitUntil('revision 2 applied once NATS is back', async () => (await node.get('/info')).config?.applied === 2, 60_000, offline);
  await waitUntil('the new formula measured', async () => (await node.density()) === 0.08, 30_000, offline);
});
