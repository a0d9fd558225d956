import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));
const injector = fileURLToPath(new URL('./fixtures/inject-escape.mjs', import.meta.url));
const units = fileURLToPath(new URL('../deploy/systemd/', import.meta.url));

/** `systemd-analyze verify` of the unit as instance `net1`, with every drop-in of deploy/systemd; resolves with what it printed. */
async function verify(dir: string, edit: (unit: string) => string = (u) => u): Promise<string> {
  await mkdir(join(dir, 'probemesh@net1.service.d'), { recursive: true });
  await writeFile(join(dir, 'probemesh@net1.service'), edit(await readFile(join(units, 'probemesh@.service'), 'utf8')));
  for (const f of (await readdir(units)).filter((f) => f.endsWith('.conf'))) await copyFile(join(units, f), join(dir, 'probemesh@net1.service.d', f));
  const r = await run('systemd-analyze', ['verify', join(dir, 'probemesh@net1.service')]).catch((e: { stdout: string; stderr: string }) => e);
  return `${r.stdout}${r.stderr}`.trim();
}

t.test('systemd — probemesh@.service and its drop-ins pass systemd-analyze verify without a word', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  t.equal(await verify(join(dir.path, 'as-shipped')), '', 'nothing to say about the unit, capture.conf, listeners.conf, bundle.conf');
  t.match(await verify(join(dir.path, 'broken'), (u) => u.replace('ProtectSystem=strict', 'ProtectSystem=strictly')), /Failed to parse protect system value/, 'a mistake would be caught');
});

t.test('systemd — READY=1 once the probe serves, WATCHDOG=1 from its event loop, none while the loop is frozen, STOPPING=1 on stop', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  // A real unix datagram socket as NOTIFY_SOCKET (Node cannot listen on one: python3 does).
  const socket = join(dir.path, 'notify');
  const listener = spawnLogged('python3', [
    '-u',
    '-c',
    'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("listening")\nwhile True: print(s.recv(4096).decode().strip())',
    socket,
  ]);
  t.teardown(() => listener.stop());
  await waitUntil('the notify socket listening', () => listener.output().includes('listening'), 30_000, listener);
  const heard = (what: string) => listener.output().split('\n').filter((l) => l === what).length;

  const port = await freeTcpPort();
  const file = join(dir.path, 'edge.yaml');
  await writeFile(file, `id: edge\ndataDir: data\nhttp: { port: ${port} }\nindicators: [{ id: racks, kind: static, value: 12 }]\n`);
  const trigger = join(dir.path, 'inject');
  // WatchdogSec=1s: a ping every 500 ms.
  const env = { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000', INJECT_ESCAPE_FILE: trigger };
  const start = () => spawnLogged(process.execPath, ['--import', injector, cli, 'probe', '--config', file], env);
  const health = () => fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);

  let probe = start();
  t.teardown(() => probe.kill());
  await waitUntil('READY=1', () => heard('READY=1') === 1, 60_000, probe);
  t.ok(await health(), 'ready means serving');
  await waitUntil('three WATCHDOG=1', () => heard('WATCHDOG=1') >= 3, 30_000, probe);
  await probe.stop(10_000);
  t.equal(probe.child.exitCode, 0, 'SIGTERM: a clean stop');
  t.equal(heard('STOPPING=1'), 1, 'STOPPING=1 said once');

  probe = start();
  await waitUntil('READY=1 again', () => heard('READY=1') === 2, 60_000, probe);
  const pings = heard('WATCHDOG=1');
  await waitUntil('pings again', () => heard('WATCHDOG=1') >= pings + 2, 30_000, probe);
  await writeFile(trigger, 'freeze');
  probe.child.kill('SIGUSR2');
  await waitUntil('the loop frozen', () => probe.output().includes('inject: the event loop is frozen'), 30_000);
  await waitUntil('/health silent', async () => !(await health()), 30_000);
  const frozenAt = heard('WATCHDOG=1');
  // Six ping periods: a live loop would have pinged about six times by then.
  const more = await waitUntil('another WATCHDOG=1', () => heard('WATCHDOG=1') > frozenAt, 3000).then(() => true, () => false);
  t.notOk(more, `no WATCHDOG=1 while the loop is frozen (${frozenAt} before it froze), so systemd kills and restarts it`);
});
