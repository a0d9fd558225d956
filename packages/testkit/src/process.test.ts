import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { waitUntil } from './index.js';

/** The built testkit, as a test process imports it. */
const testkit = new URL('../dist/index.js', import.meta.url).href;

/** Whether `pid` runs (a zombie does not: it has ended, only its exit status is left). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A stand-in for a test file's process: it runs `body` (testkit is `kit`), prints the pids `body`
 * returns, and runs until it gets a signal or a line on its stdin (then it exits with 3). Whatever
 * is left of it and of those pids is killed in teardown.
 */
async function testProcess(t: Test, body: string) {
  const script = `const kit = await import(process.argv[1]);
const pids = await (async () => { ${body} })();
console.log(JSON.stringify(pids));
process.stdin.on('data', () => process.exit(3));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, testkit], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const ended = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  let pids: number[] = [];
  t.teardown(() => {
    child.kill('SIGKILL');
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const line = await Promise.race([
    once(createInterface({ input: child.stdout }), 'line').then(([l]) => String(l)),
    ended.then((how) => Promise.reject(new Error(`the test process ended (${how}) before it said what it started:\n${stderr}`))),
  ]);
  pids = JSON.parse(line) as number[];
  t.ok(pids.length > 0 && pids.every(alive), `what it started runs (pids ${pids.join(', ')})`);
  return { child, ended, pids };
}

const gone = (pids: number[]) => waitUntil(`pids ${pids.join(', ')} gone`, () => !pids.some(alive), 15_000);

t.test('process — a test process that tap ends at its timeout (SIGALRM) leaves neither its nats-server nor its snmpd running', async (t) => {
  const { child, ended, pids } = await testProcess(t, 'const n = await kit.startNats(); const s = await kit.startSnmpd(); return [n.process.child.pid, s.process.child.pid];');
  child.kill('SIGALRM');
  t.equal(await ended, 'SIGALRM', 'the test process ends by the signal, as it would have');
  await gone(pids);
  t.pass('no orphan is left');
});

t.test('process — what reapOnExit holds is killed when the test process exits or ends by SIGTERM, SIGINT, SIGHUP or SIGALRM', async (t) => {
  // `sleep` spawned directly, not through spawnLogged: only the exit hooks can end it.
  const body = "const { spawn } = await import('node:child_process'); return [kit.reapOnExit(spawn('sleep', ['600'], { stdio: 'ignore' })).pid];";
  for (const how of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGALRM', 'exit 3'] as const) {
    const { child, ended, pids } = await testProcess(t, body);
    if (how === 'exit 3') child.stdin.write('exit\n');
    else child.kill(how);
    t.equal(await ended, how, `${how}: the test process ends as it would have`);
    await gone(pids);
    t.pass(`${how}: its child is gone`);
  }
});

t.test('process — a test process killed with SIGKILL (tap’s last resort) leaves no nats-server running', { skip: existsSync('/usr/bin/setpriv') ? false : 'no setpriv here: only the exit hooks, which a SIGKILL skips' }, async (t) => {
  const { child, ended, pids } = await testProcess(t, 'const n = await kit.startNats(); return [n.process.child.pid];');
  child.kill('SIGKILL');
  t.equal(await ended, 'SIGKILL', 'the test process is killed');
  await gone(pids);
  t.pass('the kernel killed it with its parent');
});
