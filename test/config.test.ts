import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@probemesh/testkit';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));

/** Runs `probemesh probe --config` on `yaml`; resolves with what it printed on stderr and its exit code. */
async function refused(t: Test, yaml: string, name = 'edge.yaml'): Promise<{ code: number; stderr: string; file: string }> {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const file = join(dir.path, name);
  await writeFile(file, yaml);
  const r = await run(process.execPath, [cli, 'probe', '--config', file], { timeout: 60_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { ...r, file };
}

const base = `id: edge7
dataDir: data
http: { port: 0 }
devices:
  - id: ups
    address: 127.0.0.1
    protocols:
      snmp: { version: 2c, community: public }
indicators:
  - { id: racks, kind: static, value: 12 }
  - { id: area, kind: static, value: 300 }
`;

t.test('config — a bad period names the file, line and column, the field, and what would be valid', async (t) => {
  const r = await refused(t, `${base}rules:\n  - id: r\n    indicators: [racks]\n    period: 10x\n`);
  t.equal(r.code, 1);
  t.equal(
    r.stderr.trim(),
    `probemesh: ${r.file} is not a valid probe config:\n  ${r.file}:15:5 /rules/0/period: expected a number followed by ms, s, m, h, d or w, e.g. 10s or 15m; or a whole number of milliseconds, not '10x'`,
  );
});

t.test('config — a misspelt field gets "did you mean", in the probe config and in a connector\'s settings', async (t) => {
  const r = await refused(t, base.replace('community: public', 'comunity: public').replace('dataDir: data', 'dataDri: data'));
  t.equal(r.code, 1);
  t.match(r.stderr, `${r.file}:2:1 /dataDri: unknown field 'dataDri': did you mean 'dataDir'?`, 'a field of the probe config');
  t.notMatch(r.stderr, /comunity/, 'connector settings are checked once the file fits its schema');
  const fixed = await refused(t, base.replace('community: public', 'comunity: public'));
  t.match(fixed.stderr, `${fixed.file}:5:5 /devices/0: device 'ups': snmp settings: /comunity unknown field 'comunity': did you mean 'community'?`, 'a field of a connector, placed at its device');
});

t.test('config — a formula the probe would refuse is refused with its own message, before anything starts', async (t) => {
  const r = await refused(t, `${base}  - { id: density, kind: calculated, formula: rakcs / area }\nrules:\n  - { id: r, indicators: [density, ghost], period: 1h }\n`);
  t.equal(r.code, 1);
  t.match(r.stderr, `${r.file}:12:5 /indicators/2: indicator 'density' formula: unknown indicator 'rakcs' at 1:1`);
  t.match(r.stderr, `${r.file}:14:5 /rules/0: rule 'r': unknown indicator(s) density, ghost`);
  t.notOk(existsSync(join(dirname(r.file), 'data')), 'nothing started: no data directory');
});

t.test('config — text that is not YAML says where', async (t) => {
  const r = await refused(t, 'id: edge7\nindicators: [ { id: a, kind: static\n');
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`${r.file.replace(/[.]/g, '\\.')}:\\d+:\\d+ /: not valid YAML or JSON: `));
});
