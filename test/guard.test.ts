import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';

const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));
const injector = fileURLToPath(new URL('./fixtures/inject-escape.mjs', import.meta.url));
const token = 'guard-test-read-token-0001';

t.test('process guard — a rejection or a socket error nobody handled is logged with its stack and counted, and the probe goes on; an uncaught exception stops it cleanly with status 70, losing nothing', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const port = await freeTcpPort();
  const file = join(dir.path, 'guarded.yaml');
  await writeFile(
    file,
    `id: guarded
dataDir: data
http: { port: ${port} }
tokens: [{ name: ops, role: read, token: ${token} }]
indicators: [{ id: racks, kind: static, value: 12 }, { id: twice, kind: calculated, formula: racks * 2 }]
rules: [{ id: r, indicators: [twice], period: 1s }]
`,
  );
  const trigger = join(dir.path, 'inject');
  const env = { ...process.env, INJECT_ESCAPE_FILE: trigger, INJECT_CLOSED_PORT: String(await freeTcpPort()) };
  const start = () => spawnLogged(process.execPath, ['--import', injector, cli, 'probe', '--config', file], env);
  let probe = start();
  t.teardown(() => probe.stop());
  const url = `http://127.0.0.1:${port}`;
  const get = (path: string) => fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
  const records = async (to = '') => ((await (await get(`/query?indicator=twice${to}`)).json()) as { records: Array<{ ts: number }> }).records;
  const values = async () => (await records()).length;
  await waitUntil('the probe answering', async () => (await get('/health').catch(() => undefined))?.ok === true, 60_000, probe);
  const inject = async (kind: string) => {
    await writeFile(trigger, kind);
    probe.child.kill('SIGUSR2');
  };

  await inject('rejection 3');
  await waitUntil('the rejection logged', () => probe.output().includes('injected: a promise nobody awaited'), 15_000, probe);
  await inject('network');
  await waitUntil('the socket error logged', () => /ECONNREFUSED/.test(probe.output()), 15_000, probe);
  const out = probe.output();
  t.match(out, /process guard: contained an exception from unhandled rejection: Error: injected: a promise nobody awaited .*"stack":"Error: injected: a promise nobody awaited\\n {4}at /, 'logged with its stack');
  t.equal(out.split('contained an exception from unhandled rejection').length - 1, 1, 'three alike: logged once');
  t.match(out, /contained an exception from uncaught network error: Error: connect ECONNREFUSED/);
  t.equal((await get('/health')).status, 200, 'the probe goes on');
  const metrics = await (await get('/metrics')).text();
  t.match(metrics, 'probemesh_uncaught_errors_total{probe="guarded",kind="unhandled_rejection"} 3', 'three rejections counted in /metrics');
  t.match(metrics, 'probemesh_uncaught_errors_total{probe="guarded",kind="uncaught_network_error"} 1');
  t.match(metrics, 'probemesh_uncaught_errors_total{probe="guarded",kind="uncaught_exception"} 0');
  const before = await values();
  await waitUntil('its rule still ticking', async () => (await values()) > before, 15_000, probe);

  const seen = await records();
  await inject('exception');
  const code = await new Promise<number | null>((r) => (probe.child.exitCode !== null ? r(probe.child.exitCode) : probe.child.once('exit', (c) => r(c))));
  t.equal(code, 70, 'an uncaught exception: exit status 70, for systemd to restart it');
  t.match(probe.output(), /process guard: uncaught exception, stopping cleanly and exiting with 70 \(systemd starts the probe again\): TypeError: injected: a callback that throws .*"stack":"TypeError: injected: a callback that throws\\n {4}at /);

  probe = start();
  await waitUntil('the probe answering again', async () => (await get('/health').catch(() => undefined))?.ok === true, 60_000, probe);
  t.same(await records(`&to=${seen.at(-1)!.ts + 1}`), seen, 'what it stored before the exit is all there');
});
