import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runProbe } from '@probemesh/probe';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';

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
