import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { heapFlags, heapSet } from './heap.js';

const MiB = 2 ** 20;
const launch = fileURLToPath(new URL('../dist/launch.js', import.meta.url));

/** A free loopback TCP port (this package depends on no test kit). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Polls `ready` until it holds, or fails after `ms`. */
async function until(what: string, ready: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await Promise.resolve().then(ready).catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('heap — limits follow the memory found', async (t) => {
  t.same(heapFlags(256 * MiB), ['--max-old-space-size=128', '--max-semi-space-size=1'], 'a 256 MiB cgroup');
  t.same(heapFlags(1024 * MiB), ['--max-old-space-size=512', '--max-semi-space-size=2'], 'a 1 GiB board');
  t.same(heapFlags(24 * 1024 * MiB), ['--max-old-space-size=1024', '--max-semi-space-size=2'], 'a large machine: at most 1 GiB');
  t.same(heapFlags(96 * MiB), ['--max-old-space-size=64', '--max-semi-space-size=1'], 'at least 64 MiB');
  t.notOk(heapSet([], {}), 'nothing given');
  t.ok(heapSet(['--max-old-space-size=300'], {}), 'a flag of the operator');
  t.ok(heapSet(['--max_semi_space_size=4'], {}), 'either spelling');
  t.ok(heapSet([], { NODE_OPTIONS: '--enable-source-maps --max-old-space-size=300' }), 'NODE_OPTIONS');
  t.ok(heapSet([], { PROBEMESH_HEAP: 'off' }), 'turned off');
});

t.test('heap — probemesh probe runs in a node with the limits, passes SIGTERM on, and its probe dies with it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pm-heap-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const config = join(dir, 'p.yaml');
  await writeFile(config, `id: heap\ndataDir: ${join(dir, 'data')}\nhttp: { host: 127.0.0.1, port: ${port} }\n`);
  const env = { ...process.env, NODE_OPTIONS: '', PROBEMESH_HEAP: '' };
  const childOf = (pid: number) => Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
  const start = async () => {
    const p = spawn(process.execPath, [launch, 'probe', '--config', config], { env, stdio: 'ignore' });
    t.teardown(() => void p.kill('SIGKILL'));
    await until('the probe answering', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 60_000);
    return { p, probe: childOf(p.pid!) };
  };

  const a = await start();
  const args = readFileSync(`/proc/${a.probe}/cmdline`, 'utf8').split('\0');
  t.match(args.filter((x) => x.startsWith('--max-')), [/^--max-old-space-size=\d+$/, /^--max-semi-space-size=[12]$/], 'the probe runs with heap limits');
  const exited = new Promise<[number | null, string | null]>((r) => a.p.once('exit', (code, signal) => r([code, signal])));
  a.p.kill('SIGTERM');
  t.same(await exited, [0, null], 'SIGTERM stops the probe cleanly and the command ends as it does');
  t.notOk(existsSync(`/proc/${a.probe}`), 'the probe is gone');

  const b = await start();
  b.p.kill('SIGKILL'); // the command is gone at once
  await until('the probe ending with the command', () => !existsSync(`/proc/${b.probe}`), 30_000);
  t.pass('a killed command leaves no probe running');
});
