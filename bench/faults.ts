// npm run bench -- faults [--quick]
// Runs every scenario module in bench/faults/ (each exports `run({ quick })` returning its bench
// lines) one after another, printing one JSON line per metric. A scenario that fails prints an
// error line to stderr and the others still run; the exit status says whether any failed.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Scenario = { run(opts: { quick: boolean }): Promise<Array<Record<string, unknown>>> };

const quick = process.argv.includes('--quick');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const dir = fileURLToPath(new URL('./faults/', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
let failed = 0;
for (const name of names) {
  const started = performance.now();
  process.stderr.write(`faults: ${name}${quick ? ' (quick)' : ''} …\n`);
  try {
    const scenario = (await import(pathToFileURL(`${dir}${name}.ts`).href)) as Scenario;
    for (const line of await scenario.run({ quick })) console.log(JSON.stringify({ bench: 'faults', ...line }));
    process.stderr.write(`faults: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    failed++;
    process.stderr.write(`faults: ${name} FAILED: ${(err as Error).stack ?? String(err)}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
