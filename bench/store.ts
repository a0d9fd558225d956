// npm run bench -- store [--quick]
// Ingest through the store vs raw lmdb puts of the same rows (both durable on resolve); small
// appends in the same tick vs one at a time; aggregates over 1M values of one series through
// roll-ups vs a full range scan; hour buckets for a chart vs the same from every record; paging
// through 1M records; last-1000 latency; RSS after loading 1M values.
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
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** n values over `series` series (100 indicators × 7 devices), one per second per series. */
function rows(n: number, series: number, t0 = T0): Value[] {
  const out: Value[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { indicator: `ind${i % series}`, device: `dev${i % 7}`, rule: 'r', ts: t0 + Math.floor(i / series) * 1000, datum: (i * 7919) % 1000 };
  return out;
}

async function ingest(): Promise<void> {
  const n = quick ? 200_000 : 1_000_000;
  const batch = 10_000;
  const reps = 3;
  const data = rows(n, 100);
  const storeRates: number[] = [];
  const rawRates: number[] = [];
  // Alternating runs, so drift on a shared machine hits both sides alike.
  for (let r = 0; r < reps; r++) {
    progress(`ingest ${n} values in appends of ${batch} through the store (run ${r + 1}/${reps})`);
    gc();
    const store = Store.open({ path: dir() });
    let t = performance.now();
    for (let i = 0; i < n; i += batch) await store.append(data.slice(i, i + batch));
    storeRates.push(n / ((performance.now() - t) / 1000));
    await store.close();
    progress('the same rows as raw lmdb batched puts');
    gc();
    const raw = open({ path: dir() });
    t = performance.now();
    for (let i = 0; i < n; i += batch) {
      await raw.transaction(() => {
        for (let j = i; j < i + batch; j++) {
          const v = data[j]!;
          raw.put([v.indicator, v.device!, v.ts], v.datum);
        }
      });
      await raw.flushed;
    }
    rawRates.push(n / ((performance.now() - t) / 1000));
    await raw.close();
  }
  const value = Math.round(median(storeRates));
  const baseline = Math.round(median(rawRates));
  emit({ metric: 'ingest', value, unit: 'values/s', baseline, ratio: +(value / baseline).toFixed(3), values: n, batch, runs: reps, store_runs: storeRates.map(Math.round), raw_runs: rawRates.map(Math.round), note: 'store also keeps minute and hour roll-ups in the same transactions' });

  // Rule actors append a few values each: appends made in the same tick share a commit.
  const small = 100;
  const inFlight = 100;
  const m = quick ? 100_000 : 300_000;
  const few = quick ? 10_000 : 20_000;
  progress(`${m} values in appends of ${small}, ${inFlight} in the same tick`);
  const store = Store.open({ path: dir() });
  let t = performance.now();
  for (let i = 0; i < m; i += small * inFlight) {
    const ps: Array<Promise<void>> = [];
    for (let j = i; j < i + small * inFlight && j < m; j += small) ps.push(store.append(data.slice(j, j + small)));
    await Promise.all(ps);
  }
  const together = m / ((performance.now() - t) / 1000);
  progress(`${few} values in appends of ${small}, one at a time`);
  const later = rows(few, 100, T0 + 1e9);
  t = performance.now();
  for (let i = 0; i < few; i += small) await store.append(later.slice(i, i + small));
  const alone = few / ((performance.now() - t) / 1000);
  await store.close();
  emit({ metric: 'ingest_small', value: Math.round(together), unit: 'values/s', baseline: Math.round(alone), ratio: +(together / alone).toFixed(1), batch: small, in_flight: inFlight, note: 'baseline = the same appends awaited one at a time (a commit each)' });
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
  gc();
  const rss = process.memoryUsage.rss();
  emit({ metric: 'rss_1m', value: +(rss / 2 ** 20).toFixed(1), unit: 'MiB', rss_before_mib: +(rssBefore / 2 ** 20).toFixed(1), values: n, store_mib: +(store.stats().bytes / 2 ** 20).toFixed(1) });
  // The full scan reads the store's own rows: series 1, keys [1, ts] (README: key layout).
  const raw = open({ path, maxDbs: 8 }).openDB({ name: 'values' });
  // A range not on bucket edges, so both ends read raw rows.
  const from = T0 + 1_234_567;
  const to = T0 + (n - 777) * 1000 + 1;
  const reps = quick ? 3 : 9;
  for (const mode of ['mean', 'max', 'count'] as const) {
    const rollup: number[] = [];
    const scan: number[] = [];
    let check1 = 0;
    let check2 = 0;
    store.query({ indicator: 'power', from, to, mode }); // warm up
    for (let r = 0; r < reps; r++) {
      let t = performance.now();
      const res = store.query({ indicator: 'power', from, to, mode });
      rollup.push(performance.now() - t);
      check1 = res.mode === 'count' ? res.count : res.mode === 'mean' ? res.value! : (res as { record: { datum: number } }).record.datum;
      t = performance.now();
      let count = 0;
      let sum = 0;
      let max = -Infinity;
      for (const { value } of raw.getRange({ start: [1, from], end: [1, to] })) {
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
  // A chart of the whole range in hour buckets from the roll-ups, vs the same buckets from every record (read a page at a time).
  const chart: number[] = [];
  const fromRows: number[] = [];
  let buckets = 0;
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    let t = performance.now();
    const res = store.query({ indicator: 'power', mode: 'series', step: '1h' });
    chart.push(performance.now() - t);
    if (res.mode !== 'series') throw new Error('not a series');
    buckets = res.buckets.length;
    t = performance.now();
    const sums = new Map<number, number>();
    for (const page of store.scan({ indicator: 'power', limit: 100_000 })) for (const v of page) sums.set(v.ts - (v.ts % 3_600_000), (sums.get(v.ts - (v.ts % 3_600_000)) ?? 0) + (v.datum as number));
    fromRows.push(performance.now() - t);
    if (sums.size !== buckets || res.buckets.some((b) => b.mean * b.count !== sums.get(b.ts))) throw new Error('series buckets differ from the records');
  }
  emit({ metric: 'series_1h_1m', value: +median(chart).toFixed(3), unit: 'ms', baseline: +median(fromRows).toFixed(1), ratio: +(median(fromRows) / median(chart)).toFixed(1), buckets, values: n, note: 'baseline = the same hour buckets from every record, paged' });
  // Every record, a page of 10,000 at a time through the cursor.
  let t = performance.now();
  let pages = 0;
  for (const page of store.scan({ indicator: 'power' })) if (page.length) pages++;
  const paged = performance.now() - t;
  emit({ metric: 'page_10k', value: +(paged / pages).toFixed(2), unit: 'ms', pages, values: n, note: 'per page of 10,000 records while paging through all of them' });
  const lat: number[] = [];
  for (let r = 0; r < (quick ? 50 : 300); r++) {
    t = performance.now();
    const res = store.query({ indicator: 'power', last: 1000 });
    lat.push(performance.now() - t);
    if (res.mode !== 'records' || res.records.length !== 1000) throw new Error('last 1000 returned the wrong count');
  }
  emit({ metric: 'last_1000', value: +median(lat).toFixed(3), unit: 'ms', p99: +[...lat].sort((a, b) => a - b)[Math.floor(lat.length * 0.99)]!.toFixed(3) });
  // Where last=N starts is found from the roll-ups: its first page costs what the selection's first page costs, whatever N.
  const deep: number[] = [];
  const head: number[] = [];
  for (let r = 0; r < reps; r++) {
    t = performance.now();
    const res = store.query({ indicator: 'power', last: n - 1 });
    deep.push(performance.now() - t);
    if (res.mode !== 'records' || res.records[0]?.ts !== T0 + 1000) throw new Error('last n-1 starts at the wrong record');
    t = performance.now();
    store.query({ indicator: 'power' });
    head.push(performance.now() - t);
  }
  emit({ metric: 'last_1m_page', value: +median(deep).toFixed(2), unit: 'ms', baseline: +median(head).toFixed(2), ratio: +(median(deep) / median(head)).toFixed(2), values: n, note: 'the first page (10,000) of last=999,999 vs the first page of the selection' });
  await store.close();
}

try {
  await aggregates(); // first, so rss_1m is not inflated by the ingest runs' arrays
  await ingest();
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
