import t from 'tap';
import { fileURLToPath } from 'node:url';
import { runProbe } from '@probemesh/probe';
import { spawnLogged, startNats, tempDir, waitUntil } from '@probemesh/testkit';

const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));

t.test('probemesh alerts — prints each alert transition of the mesh as it is published', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.remove());
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await runProbe(
    {
      id: 'room3',
      dataDir: dir.path,
      nats: { servers: [nats.url] },
      http: { port: 0 },
      indicators: [{ id: 'inlet_temp', kind: 'static', value: 22 }],
      rules: [{ id: 'thermal', indicators: ['inlet_temp'], period: '1h', decisions: [{ id: 'hot', when: 'inlet_temp > 30', severity: 'critical', indicator: 'inlet_temp', message: 'inlet at {value} °C' }] }],
    },
    { log: () => undefined, connectors: [] },
  );
  t.teardown(() => probe.stop());
  const watcher = spawnLogged(process.execPath, [cli, 'alerts', '--nats', nats.url]);
  t.teardown(() => watcher.stop());
  await waitUntil('watcher listening', () => /listening on pm\.alert\.>/.test(watcher.output()), 15_000, watcher);

  await probe.probe.setStatic('inlet_temp', 34);
  await probe.probe.tickNow('thermal');
  await waitUntil('firing printed', () => /firing/.test(watcher.output()), 15_000, watcher);
  await probe.probe.setStatic('inlet_temp', 24);
  await probe.probe.tickNow('thermal');
  await waitUntil('resolved printed', () => /resolved/.test(watcher.output()), 15_000, watcher);
  const lines = watcher.output().split('\n').filter((l) => / (firing|resolved) /.test(l));
  t.equal(lines.length, 2, 'one line per transition');
  t.match(lines[0], /Z firing\s+critical\s+room3\/thermal\/hot = 34  inlet at 34 °C$/);
  t.match(lines[1], /Z resolved\s+critical\s+room3\/thermal\/hot = 24/);
  const bad = spawnLogged(process.execPath, [cli, 'alerts']);
  await waitUntil('usage error', () => bad.child.exitCode !== null, 15_000);
  t.match(bad.output(), /probemesh alerts needs --nats <url>/);
});
