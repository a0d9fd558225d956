#!/usr/bin/env node
// Runs every test (package tests next to their code, cross-package tests in test/) in one
// tap run over the built workspace, then prints the line CI reads: "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Test files below `dir`, skipping node_modules and build output. */
function find(dir) {
  let out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(find(p));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length
  ? args
  : [...find('packages'), ...find('test')].sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Type-check everything, tests and benchmarks included (tap runs tests without checking types).
console.log('type-checking the whole tree (tsc --noEmit) …');
const tsc = spawnSync('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const typeFailures = tsc.status === 0 ? 0 : 1;
console.log(`running ${files.length} test files with tap (see .taprc) …`);
const tap = spawn('npx', ['tap', '--reporter=terse', ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
tap.stdout.on('data', (b) => {
  process.stdout.write(b);
  tail = (tail + b.toString()).slice(-4000);
});
tap.on('close', (code) => {
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(tail) ?? [];
  const pass = Number(m[2] ?? 0);
  const fail = Number(m[3] ?? 0) + (code !== 0 && !m[3] ? 1 : 0) + typeFailures;
  if (typeFailures) console.log('\nthe type check failed (see above): counted as one failed test');
  console.log(`\n${pass} passed, ${fail} failed`);
  process.exit(code || typeFailures);
});
