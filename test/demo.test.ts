import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../packages/demo/dist/cli.js', import.meta.url));

t.test('demo — starts simulated devices and a probe, prints where to look, answers over HTTP', async (t) => {
  const child = spawn(process.execPath, [cli, 'single', '--for', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo printed no URL:\n${out}`)), 30_000);
    child.stdout.on('data', () => {
      const m = /curl -s (http:\/\/127\.0\.0\.1:\d+)\/health/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${out}`)));
  });
  const token = /Bearer (\S+)'/.exec(out)?.[1];
  t.ok(token, 'prints a token to use');
  const health = await fetch(`${url}/health`);
  t.equal(health.status, 200);
  // The rule ticks every 10 s: wait for a PUE value (the meter drifts around 23 kW, the UPS says 15 kW).
  let pue: number | undefined;
  for (let i = 0; i < 30 && pue === undefined; i++) {
    const r = await fetch(`${url}/query?indicator=pue&last=1`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { records?: Array<{ datum: number }> };
    pue = body.records?.[0]?.datum;
    if (pue === undefined) await new Promise((r) => setTimeout(r, 1000));
  }
  t.ok(pue !== undefined && pue > 1.3 && pue < 1.8, `PUE computed from simulated devices: ${pue}`);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  t.equal(code, 0, 'stops cleanly on SIGTERM');
  t.match(out, /stopping/);
});
