// npm run bench -- store [--quick]
// Ingest through the store vs raw lmdb puts of the same rows; aggregates over 1M values of one
// series through roll-ups vs a full range scan; last-1000 latency; RSS after loading 1M values.
import { open } from 'lmdb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Value } from '@probemesh/model';
import { Store } from '@probemesh/store';

const quick = process.argv.includes('--quick');
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'store', ...o }));
const progress = (s: string) => process.stderr.write(`store bench: ${s}\n`);
const T0 = 1_700_000_000_000;
const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pm-bench-store-'));
  dirs.push(d);
  return d;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function rows(n: number, series: number): Value[] {
  const out: Value[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { indicator: `ind${i % series}`, device: `dev${i % 7}`, rule: 'r', ts: T0 + Math.floor(i / series) * 1000, datum: (i * 7919) % 1000 };
  return out;
}

async function ingest(): Promise<void> {
  const n = quick ? 200_000 : 1_000_000;
  const batch = 10_000;
  const data = rows(n, 100);
  progress(`ingest ${n} values in batches of ${batch} through the store`);
  const store = Store.open({ path: dir() });
  let t = performance.now();
  for (let i = 0; i < n; i += batch) await store.append(data.slice(i, i + batch));
  const storeS = (performance.now() - t) / 1000;
  await store.close();
  progress('the same rows as raw lmdb batched puts');
  const raw = open({ path: dir() });
  t = performance.now();
  for (let i = 0; i < n; i += batch) {
    await raw.transaction(() => {
      for (let j = i; j < i + batch && j < n; j++) {
        const v = data[j]!;
        raw.put([v.indicator, v.device!, v.ts], v.datum);
      }
    });
  }
  const rawS = (performance.now() - t) / 1000;
  await raw.close();
  const value = Math.round(n / storeS);
  const baseline = Math.round(n / rawS);
  emit({ metric: 'ingest', value, unit: 'values/s', baseline, ratio: +(value / baseline).toFixed(3), values: n, batch, note: 'store also keeps minute and hour roll-ups in the same transactions' });
}

async function aggregates(): Promise<void> {
  const n = 1_000_000;
  const path = dir();
  const store = Store.open({ path });
  progress(`loading ${n} values of one series (1 per second, ~11.6 days)`);
  const rssBefore = process.memoryUsage.rss();
  for (let i = 0; i < n; i += 10_000) {
    const b: Value[] = [];
    for (let j = i; j < i + 10_000; j++) b.push({ indicator: 'power', device: 'ups', rule: 'r', ts: T0 + j * 1000, datum: (j * 7919) % 1000 });
    await store.append(b);
  }
  (globalThis as { gc?: () => void }).gc?.();
  const rss = process.memoryUsage.rss();
  emit({ metric: 'rss_1m', value: +(rss / 2 ** 20).toFixed(1), unit: 'MiB', rss_before_mib: +(rssBefore / 2 ** 20).toFixed(1), values: n });
  const raw = open({ path, maxDbs: 8 }).openDB({ name: 'values' });
  // A range not on bucket edges, so both ends read raw rows.
  const from = T0 + 1234_567;
  const to = T0 + (n - 777) * 1000 + 1;
  const reps = quick ? 3 : 7;
  for (const mode of ['mean', 'max', 'count'] as const) {
    const rollup: number[] = [];
    const scan: number[] = [];
    let check1 = 0;
    let check2 = 0;
    for (let r = 0; r < reps; r++) {
      let t = performance.now();
      const res = store.query({ indicator: 'power', from, to, mode });
      rollup.push(performance.now() - t);
      check1 = res.mode === 'count' ? res.count : res.mode === 'mean' ? res.value! : (res as { record: { datum: number } }).record.datum;
      t = performance.now();
      let count = 0;
      let sum = 0;
      let max = -Infinity;
      for (const { key, value } of raw.getRange({ start: [1, from], end: [1, to] })) {
        if ((key as number[])[1]! < from) continue;
        count++;
        sum += value as number;
        if ((value as number) > max) max = value as number;
      }
      scan.push(performance.now() - t);
      check2 = mode === 'count' ? count : mode === 'mean' ? sum / count : max;
    }
    if (Math.abs(check1 - check2) > 1e-9 * Math.abs(check2)) throw new Error(`${mode}: roll-up ${check1} differs from scan ${check2}`);
    const value = median(rollup);
    const baseline = median(scan);
    emit({ metric: `${mode}_1m`, value: +value.toFixed(3), unit: 'ms', baseline: +baseline.toFixed(1), ratio: +(baseline / value).toFixed(1), values: n, note: 'ratio = full scan time / roll-up time' });
  }
  const lat: number[] = [];
  for (let r = 0; r < (quick ? 50 : 200); r++) {
    const t = performance.now();
    const res = store.query({ indicator: 'power', last: 1000 });
    lat.push(performance.now() - t);
    if (res.mode !== 'records' || res.records.length !== 1000) throw new Error('last 1000 returned the wrong count');
  }
  emit({ metric: 'last_1000', value: +median(lat).toFixed(3), unit: 'ms', p99: +[...lat].sort((a, b) => a - b)[Math.floor(lat.length * 0.99)]!.toFixed(3) });
  await store.close();
}

try {
  await aggregates(); // first, so rss_1m is not inflated by the ingest run's arrays
  await ingest();
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
