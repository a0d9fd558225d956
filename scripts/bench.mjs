#!/usr/bin/env node
// npm run bench -- <name> [--quick]: builds what changed, then runs bench/<name>.ts.
// Every benchmark prints one JSON object per line (CONTRIBUTING.md, Benchmarks).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const all = readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !all.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--quick]\nbenchmarks: ${all.join(', ') || '(none yet)'}`);
  process.exit(2);
}
if (!existsSync('node_modules/.package-lock.json')) execFileSync('npm', ['install', '--no-audit', '--no-fund'], { stdio: 'inherit' });
execFileSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { stdio: ['ignore', 'ignore', 'inherit'] });
const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', `bench/${name}.ts`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
