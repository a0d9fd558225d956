import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durationMs, type Query, type QueryResult, type Value } from '@probemesh/model';
import { NotNumericError, Store, StoreError, type SeriesSelector } from './index.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR); // an hour edge

/** A temp dir removed in teardown. */
async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pm-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A store in a temp dir, closed in teardown (before the dir is removed: teardowns run in reverse). */
async function openStore(t: Test, opts: Partial<Parameters<typeof Store.open>[0]> = {}): Promise<Store> {
  const path = await tempDir(t);
  const store = Store.open({ path, ...opts });
  t.teardown(() => store.close());
  return store;
}

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) % 4294967296;
    return seed / 4294967296;
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Series order: indicator, device, instance, rule. */
const bySeries = (a: Value, b: Value) => cmp(a.indicator, b.indicator) || cmp(a.device ?? '', b.device ?? '') || cmp(a.instance ?? '', b.instance ?? '') || cmp(a.rule ?? '', b.rule ?? '');
const selects = (q: SeriesSelector, v: Value) =>
  (q.indicator === undefined || v.indicator === q.indicator) &&
  (q.device === undefined || (v.device ?? '') === q.device) &&
  (q.rule === undefined || (v.rule ?? '') === q.rule) &&
  (q.instance === undefined || (v.instance ?? '') === q.instance);

/** The data-access model computed the slow, obvious way; numeric modes over text throw 'text'. */
function reference(all: Value[], q: Query): QueryResult {
  let rows = all.filter((v) => selects(q, v) && (q.from === undefined || v.ts >= q.from) && (q.to === undefined || v.ts < q.to));
  rows.sort((a, b) => a.ts - b.ts || bySeries(a, b));
  if (q.first) rows = rows.slice(0, q.first);
  if (q.last) rows = rows.slice(-q.last);
  const mode = q.mode ?? 'records';
  if (mode === 'records') return { mode, records: rows };
  if (mode === 'count') return { mode, count: rows.length };
  if (rows.some((r) => typeof r.datum !== 'number')) throw new Error('text');
  if (mode === 'series') return referenceSeries(rows as Array<Value & { datum: number }>, durationMs(q.step!));
  const nums = rows as Array<Value & { datum: number }>;
  if (mode === 'sum' || mode === 'mean') {
    const sum = nums.reduce((a, r) => a + r.datum, 0);
    return { mode, value: nums.length ? (mode === 'sum' ? sum : sum / nums.length) : null, count: nums.length };
  }
  let best: (typeof nums)[number] | undefined;
  for (const r of nums) if (!best || (mode === 'max' ? r.datum > best.datum : r.datum < best.datum)) best = r; // rows are in order: the first wins ties
  return { mode, record: best ?? null };
}

/** Buckets of `step` the obvious way: numeric rows grouped by floor(ts / step), summed in time order. */
function referenceSeries(rows: Array<Value & { datum: number }>, step: number): QueryResult {
  const by = new Map<number, number[]>();
  for (const r of rows) {
    const ts = Math.floor(r.ts / step) * step;
    let d = by.get(ts);
    if (!d) by.set(ts, (d = []));
    d.push(r.datum);
  }
  const buckets = [...by]
    .sort(([a], [b]) => a - b)
    .map(([ts, d]) => ({ ts, count: d.length, mean: d.reduce((a, b) => a + b, 0) / d.length, min: d.reduce((a, b) => Math.min(a, b)), max: d.reduce((a, b) => Math.max(a, b)) }));
  return { mode: 'series', step, buckets };
}

/** A series answer as text, every figure to the last digit. */
const bucketsOf = (r: QueryResult) => (r.mode === 'series' ? `${r.step}:${r.buckets.map((b) => [b.ts, b.count, b.mean, b.min, b.max].join(',')).join(';')}` : r.mode);

/** window() the obvious way: numeric values only. */
function referenceWindow(all: Value[], sel: SeriesSelector, from: number, to: number) {
  const nums = all.filter((v) => selects(sel, v) && v.ts >= from && v.ts < to && typeof v.datum === 'number').map((v) => v.datum as number);
  return { count: nums.length, sum: nums.reduce((a, b) => a + b, 0), min: Math.min(...nums), max: Math.max(...nums) };
}

const near = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

/** JSON with keys in a fixed order, so equal values print the same. */
const canonical = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));

/** The differences between a store's answer and the reference's, as short text ('' when they agree). */
function differs(got: QueryResult | Error, want: QueryResult | Error): string {
  const d = difference(got, want);
  return d.length > 400 ? `${d.slice(0, 400)}…` : d;
}

function difference(got: QueryResult | Error, want: QueryResult | Error): string {
  if (want instanceof Error) return got instanceof NotNumericError ? '' : `expected NotNumericError, got ${JSON.stringify(got)}`;
  if (got instanceof Error) return `threw ${got.name}: ${got.message}`;
  if (want.mode === 'sum' || want.mode === 'mean') {
    const g = got as typeof want;
    return near(g.value, want.value) && g.count === want.count ? '' : `${JSON.stringify(got)} vs ${JSON.stringify(want)}`;
  }
  return canonical(got) === canonical(want) ? '' : `${canonical(got)} vs ${canonical(want)}`;
}

/** Random values over three hours: several indicators, devices, instances and rules, a text series, bucket edges hit on purpose. */
function randomValues(rand: () => number, n: number): Value[] {
  const all: Value[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const indicator = ['power', 'temp', 'load', 'status'][Math.floor(rand() * 4)]!;
    const device = ['a', 'b', ''][Math.floor(rand() * 3)]!;
    const instance = indicator === 'load' ? ['1', '2'][Math.floor(rand() * 2)]! : '';
    const rule = ['r1', 'r2'][Math.floor(rand() * 2)]!;
    const ts = i % 10 === 0 ? T0 + Math.floor(rand() * 180) * MIN : i % 10 === 1 ? T0 + Math.floor(rand() * 3) * HOUR - 1 : T0 + Math.floor(rand() * 3 * HOUR);
    const k = `${indicator}/${device}/${instance}/${rule}/${ts}`;
    if (seen.has(k)) continue;
    seen.add(k);
    // Integers keep sums exact; duplicates of values make ties for max and min.
    const datum = indicator === 'status' ? ['up', 'down'][Math.floor(rand() * 2)]! : Math.floor(rand() * 200) - 100;
    all.push({ indicator, ...(device ? { device } : {}), ...(instance ? { instance } : {}), rule, ts, datum });
  }
  return all;
}

t.test('store — every filter × mode matches a brute-force reference on random data written out of order', async (t) => {
  const store = await openStore(t);
  const rand = rng(42);
  const all = randomValues(rand, 4000);
  const shuffled = [...all].sort(() => rand() - 0.5);
  for (let i = 0; i < shuffled.length; i += 700) await store.append(shuffled.slice(i, i + 700));

  const edges = [undefined, T0, T0 + 1, T0 + MIN, T0 + 59 * MIN, T0 + HOUR - 1, T0 + HOUR, T0 + HOUR + 1, T0 + 2 * HOUR - 1, T0 + 2 * HOUR, T0 + 150 * MIN + 30_000, T0 + 3 * HOUR, T0 - 5];
  const modes = ['records', 'count', 'sum', 'mean', 'max', 'min'] as const;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const failures: string[] = [];
  let texts = 0;
  let queries = 0;
  for (const mode of modes) {
    for (const filters of [[], ['indicator'], ['device'], ['rule'], ['instance'], ['indicator', 'device'], ['indicator', 'rule'], ['device', 'rule'], ['indicator', 'device', 'instance', 'rule']] as const) {
      for (const limit of ['none', 'first', 'last'] as const) {
        for (let i = 0; i < 12; i++) {
          let from = pick(edges);
          let to = pick(edges);
          if (from !== undefined && to !== undefined && from > to) [from, to] = [to, from];
          if (i === 0 && from !== undefined) to = from + 1; // a single point
          const q: Query = { mode };
          if (from !== undefined) q.from = from;
          if (to !== undefined) q.to = to;
          for (const f of filters) q[f] = pick({ indicator: ['power', 'temp', 'load', 'status', 'none'], device: ['a', 'b', ''], rule: ['r1', 'r2'], instance: ['1', '2', ''] }[f])!;
          if (limit !== 'none') q[limit] = pick([1, 2, 7, 50, 5000])!;
          let want: QueryResult | Error;
          let got: QueryResult | Error;
          try {
            want = reference(all, q);
          } catch (err) {
            want = err as Error;
            texts++;
          }
          try {
            got = store.query(q);
          } catch (err) {
            got = err as Error;
          }
          queries++;
          const d = differs(got, want);
          if (d) failures.push(`${JSON.stringify(q)}: ${d}`);
        }
      }
    }
  }
  t.same(failures.slice(0, 5), [], `all ${queries} queries agree with the reference`);
  t.ok(texts > 20, `numeric modes met text ${texts} times`);

  const windows: string[] = [];
  for (let i = 0; i < 300; i++) {
    const sel: SeriesSelector = {};
    if (rand() < 0.5) sel.indicator = pick(['power', 'temp', 'load', 'status'])!;
    if (rand() < 0.4) sel.device = pick(['a', 'b', ''])!;
    if (rand() < 0.3) sel.rule = pick(['r1', 'r2'])!;
    const from = pick(edges.slice(1))!;
    const to = pick(edges.slice(1))!;
    const same = (got: ReturnType<Store['window']>, want: ReturnType<Store['window']>, what: string) => {
      if (got.count !== want.count || !near(got.sum, want.sum) || got.min !== want.min || got.max !== want.max) windows.push(`${what} ${JSON.stringify([sel, from, to])}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    };
    same(store.window(sel, from, to), referenceWindow(all, sel, from, to), 'window');
    // Per device: each device of the selection once, its aggregate as window() of that device alone.
    const byDevice = store.windowByDevice(sel, from, to);
    const devices = from < to ? new Set(all.filter((v) => selects(sel, v)).map((v) => v.device ?? '')) : new Set<string>();
    if (JSON.stringify([...byDevice.keys()].sort()) !== JSON.stringify([...devices].sort())) windows.push(`windowByDevice ${JSON.stringify([sel, from, to])}: devices ${[...byDevice.keys()]} vs ${[...devices]}`);
    for (const d of devices) same(byDevice.get(d) ?? { count: -1, sum: 0, min: 0, max: 0 }, referenceWindow(all, { ...sel, device: d }, from, to), `windowByDevice[${d}]`);
  }
  t.same(windows.slice(0, 5), [], 'window() and windowByDevice() agree with the reference');

  for (const sel of [{}, { indicator: 'load' }, { rule: 'r2' }, { device: 'a', instance: '' }, { indicator: 'nothing' }] as SeriesSelector[]) {
    const rows = all.filter((v) => selects(sel, v));
    const keys = new Set(rows.map((v) => JSON.stringify([v.indicator, v.device ?? '', v.instance ?? '', v.rule ?? ''])));
    t.same(
      store.series(sel).map((s) => JSON.stringify([s.indicator, s.device, s.instance, s.rule])),
      [...keys].sort(),
      `series(${JSON.stringify(sel)}) in series order`,
    );
    const newest = [...rows].sort((a, b) => b.ts - a.ts || bySeries(a, b))[0];
    t.same(store.latest(sel), newest, `latest(${JSON.stringify(sel)})`);
  }
  t.same(store.query({ indicator: 'power', from: T0 + 10, to: T0 + 10, mode: 'count' }), { mode: 'count', count: 0 }, 'an empty range');
  t.same(store.query({ indicator: 'power', from: T0 + 10, to: T0, mode: 'records' }), { mode: 'records', records: [] }, 'a reversed range is empty');
  t.same(store.query({ indicator: 'nothing', mode: 'mean' }), { mode: 'mean', value: null, count: 0 });
  t.same(store.query({ indicator: 'nothing', mode: 'max' }), { mode: 'max', record: null });
  t.same(store.window({ indicator: 'nothing' }, T0, T0 + HOUR), { count: 0, sum: 0, min: Infinity, max: -Infinity });
  t.equal(store.stats().values, all.length);
});

/** Where two lists of records first differ ('' when they are equal). */
function firstDifference(got: Value[], want: Value[]): string {
  const key = (v: Value | undefined) => JSON.stringify(v && [v.indicator, v.device, v.instance, v.rule, v.ts, v.datum, Object.keys(v).length]);
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) if (key(got[i]) !== key(want[i])) return `at ${i} of ${want.length}: ${key(got[i])} vs ${key(want[i])}`;
  return '';
}

/** Every page of `q` through `next`, with the number of pages. */
function pages(store: Store, q: Query): { records: Value[]; pages: number } {
  const records: Value[] = [];
  let pages = 0;
  for (let cursor: string | undefined; ; pages++) {
    const r = store.query({ ...q, ...(cursor ? { cursor } : {}) });
    if (r.mode !== 'records') throw new Error(`mode ${r.mode}`);
    records.push(...r.records);
    if (!r.next) return { records, pages: pages + 1 };
    if (r.records.length === 0) throw new Error('an empty page with a next');
    cursor = r.next;
  }
}

t.test('store — paging through 250,000 records gives exactly the rows of the whole query, in order, none twice (equal timestamps across series)', async (t) => {
  const store = await openStore(t);
  const all: Value[] = [];
  // 50 series sharing every timestamp, and 10 more on an odd grid, so page ends fall inside ties.
  for (let k = 0; k < 4_500; k++) {
    for (let d = 0; d < 50; d++) all.push({ indicator: 'p', device: `d${String(d).padStart(2, '0')}`, rule: 'r', ts: T0 + k * 1000, datum: k * 50 + d });
    if (k < 2_500) for (let d = 0; d < 10; d++) all.push({ indicator: 'p', device: `e${d}`, ts: T0 + k * 1700 + 3, datum: -k });
  }
  for (let i = 0; i < all.length; i += 10_000) await store.append(all.slice(i, i + 10_000));
  t.equal(all.length, 250_000);
  const sorted = [...all].sort((a, b) => a.ts - b.ts || bySeries(a, b));

  const whole = pages(store, { indicator: 'p', limit: 7_777 });
  t.equal(whole.records.length, 250_000, 'every record, once');
  t.equal(whole.pages, Math.ceil(250_000 / 7_777));
  t.equal(new Set(whole.records.map((v) => `${v.device}/${v.ts}`)).size, 250_000, 'no record twice across page boundaries');
  t.equal(firstDifference(whole.records, sorted), '', 'the pages are the whole query, in order');

  const first = pages(store, { indicator: 'p', first: 100_000, limit: 30_000 });
  t.equal(first.pages, 4);
  t.equal(firstDifference(first.records, sorted.slice(0, 100_000)), '', 'first N paged');
  const last = pages(store, { indicator: 'p', last: 120_001, limit: 50_000 });
  t.equal(last.pages, 3);
  t.equal(firstDifference(last.records, sorted.slice(-120_001)), '', 'last N paged, oldest first like the unpaged answer');
  const ranged = pages(store, { indicator: 'p', from: T0 + 1_000_000, to: T0 + 3_000_003, rule: 'r', limit: 999 });
  t.equal(firstDifference(ranged.records, sorted.filter((v) => v.rule === 'r' && v.ts >= T0 + 1_000_000 && v.ts < T0 + 3_000_003)), '', 'a range of one rule paged');
  const fewer = pages(store, { indicator: 'p', last: 10, limit: 4 });
  t.equal(firstDifference(fewer.records, sorted.slice(-10)), '', 'last 10 by 4');

  const page = store.query({ indicator: 'p' });
  t.equal(page.mode === 'records' && page.records.length, 10_000, 'without a limit a page holds 10,000 records');
  t.ok(page.mode === 'records' && page.next, 'and says there is more');
  const end = store.query({ indicator: 'p', first: 10_000 });
  t.notOk(end.mode === 'records' && end.next, 'no next when the first N fit in the page');
  t.equal([...store.scan({ indicator: 'p', device: 'd07', limit: 1_000 })].length, 5, 'scan yields page by page');
  // A step finer than a minute reads rows: at most a page of them.
  t.throws(() => store.query({ indicator: 'p', mode: 'series', step: '10s' }), {
    name: 'StoreError',
    message: 'step "10s" is not whole minutes, so it is read from the rows: 250,000 over this range, more than 100,000; use a step of whole minutes (e.g. "1m") or a shorter range',
  });
  const tenSeconds = store.query({ indicator: 'p', device: 'd07', mode: 'series', step: '10s' });
  t.same(tenSeconds.mode === 'series' && tenSeconds.buckets.reduce((n, b) => n + b.count, 0), 4_500, 'fewer rows are read');
  t.equal(store.query({ indicator: 'p', mode: 'series', step: '1m' }).mode, 'series', 'whole minutes read the roll-ups, whatever the rows');
  t.equal(firstDifference([...store.scan({ indicator: 'p', limit: 60_000 })].flat(), sorted), '', 'scan yields every record in order');
});

t.test('store — first and last N are found from the roll-ups on the very row counting rows finds: pages and aggregates, at every level and edge', async (t) => {
  const path = await tempDir(t);
  let store = Store.open({ path });
  t.teardown(() => store.close());
  const rand = rng(11);
  const all = randomValues(rand, 6000);
  const shuffled = [...all].sort(() => rand() - 0.5);
  for (let i = 0; i < shuffled.length; i += 1000) await store.append(shuffled.slice(i, i + 1000));
  // Edges on hour and minute bounds and between them, so the N-th row falls in hours, minutes and ragged ends.
  const edges = [undefined, T0, T0 + 1, T0 + 59 * MIN, T0 + HOUR - 1, T0 + HOUR + 30_001, T0 + 2 * HOUR, T0 + 150 * MIN + 7, T0 + 3 * HOUR];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const check = (queries: number) => {
    const failures: string[] = [];
    for (let i = 0; i < queries; i++) {
      const q: Query = { mode: pick(['records', 'records', 'count', 'sum', 'mean', 'max', 'min'] as const)! };
      let from = pick(edges);
      let to = pick(edges);
      if (from !== undefined && to !== undefined && from > to) [from, to] = [to, from];
      if (from !== undefined) q.from = from;
      if (to !== undefined) q.to = to;
      if (rand() < 0.6) q.indicator = pick(['power', 'temp', 'load'])!;
      if (rand() < 0.3) q.device = pick(['a', 'b', ''])!;
      const n = Math.max(1, Math.floor(Math.exp(rand() * Math.log(8000)))); // 1 … 8,000, as many small as large
      q[rand() < 0.5 ? 'first' : 'last'] = n;
      let want: QueryResult | Error;
      let got: QueryResult | Error;
      try {
        want = reference(all, q);
      } catch (err) {
        want = err as Error;
      }
      try {
        got = q.mode === 'records' ? { mode: 'records', records: pages(store, { ...q, limit: 1 + Math.floor(rand() * 700) }).records } : store.query(q);
      } catch (err) {
        got = err as Error;
      }
      const d = differs(got, want);
      if (d) failures.push(`${JSON.stringify(q)}: ${d}`);
    }
    return failures.slice(0, 5);
  };
  t.same(check(300), [], 'all 300 queries agree with the reference (the newest buckets held in memory)');
  // Reopened, the newest buckets are rebuilt from the rows; then a late value lands in them again.
  await store.close();
  store = Store.open({ path });
  t.same(check(100), [], 'and after a reopen');
  const late = { indicator: 'power', device: 'a', rule: 'r1', ts: T0 + 3 * HOUR - 2, datum: 7 };
  await store.append([late]);
  all.push(late);
  t.same(check(100), [], 'and after a late value');
});

t.test('store — a cursor belongs to its query: a foreign or tampered one is refused with what to do', async (t) => {
  const store = await openStore(t);
  await store.append(Array.from({ length: 30 }, (_, i) => ({ indicator: 'x', device: `d${i % 3}`, ts: T0 + Math.floor(i / 3), datum: i })));
  const r = store.query({ indicator: 'x', limit: 4 });
  const next = r.mode === 'records' ? r.next! : '';
  t.ok(next);
  t.throws(() => store.query({ indicator: 'x', device: 'd1', cursor: next }), { name: 'StoreError', message: /cursor: it was given for other filters/ });
  t.throws(() => store.query({ indicator: 'x', cursor: 'bm90IGEgY3Vyc29y' }), { name: 'StoreError', message: /cursor: not one this probe gave/ });
  t.throws(() => store.query({ indicator: 'x', cursor: next.slice(0, -3) }), StoreError);
  t.throws(() => store.query({ indicator: 'x', mode: 'mean', cursor: next }), { message: /limit and cursor page records; mode mean takes neither/ });
  t.throws(() => store.query({ indicator: 'x', limit: 100_001 }), { message: /limit must be a whole number from 1 to 100000/ });
  t.throws(() => store.scan({ indicator: 'x', device: 'd2', cursor: next }), StoreError, 'scan refuses a bad query at the call, before any page is sent');
  const rest = store.query({ indicator: 'x', cursor: next, limit: 100 });
  t.same(rest.mode === 'records' && rest.records.map((v) => v.datum), Array.from({ length: 26 }, (_, i) => i + 4), 'the limit may change between pages');
});

t.test('store — series buckets equal a brute-force computation to the digit, at every step and edge', async (t) => {
  const store = await openStore(t);
  const rand = rng(7);
  const all: Value[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const device = ['a', 'b', 'c'][Math.floor(rand() * 3)]!;
    const ts = i % 7 === 0 ? T0 + Math.floor(rand() * 72) * HOUR - (i % 2) : T0 + Math.floor(rand() * 3 * 24 * HOUR);
    if (seen.has(`${device}/${ts}`)) continue;
    seen.add(`${device}/${ts}`);
    all.push({ indicator: 'v', device, ts, datum: Math.floor(rand() * 2000) / 8 - 100 }); // eighths: sums stay exact in binary
  }
  all.push({ indicator: 'state', device: 'a', ts: T0 + 5, datum: 'on' });
  for (const v of [...all].sort(() => rand() - 0.5).reduce<Value[][]>((b, v, i) => (i % 3000 ? b[b.length - 1]!.push(v) : b.push([v]), b), [])) await store.append(v);

  const edges = [undefined, T0, T0 + 1, T0 + 90_001, T0 + HOUR, T0 + 25 * HOUR + 17 * MIN + 3_333, T0 + 48 * HOUR, T0 + 72 * HOUR, T0 + 72 * HOUR + 5];
  const failures: string[] = [];
  let n = 0;
  for (const step of ['1m', '5m', '1h', '2h', '1d', '90s', '10s', 3_600_000, '7d']) {
    for (const sel of [{ indicator: 'v' }, { indicator: 'v', device: 'b' }, { device: 'c' }] as SeriesSelector[]) {
      const selected = all.filter((v) => selects(sel, v)).sort((a, b) => a.ts - b.ts);
      for (let i = 0; i < 6; i++) {
        let from = edges[Math.floor(rand() * edges.length)];
        let to = edges[Math.floor(rand() * edges.length)];
        if (from !== undefined && to !== undefined && from > to) [from, to] = [to, from];
        const q: Query = { ...sel, mode: 'series', step, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
        let got: QueryResult | Error;
        try {
          got = store.query(q);
        } catch (err) {
          got = err as Error;
        }
        const [a, b] = [from ?? selected[0]!.ts, to ?? selected[selected.length - 1]!.ts + 1];
        const ms = durationMs(step);
        if (Math.ceil(b / ms) - Math.floor(a / ms) > 10_000) {
          if (!(got instanceof StoreError && /more than 10,000/.test(got.message))) failures.push(`${JSON.stringify(q)}: expected too many buckets`);
          continue;
        }
        n++;
        const want = reference(selected, q);
        if (got instanceof Error || bucketsOf(got) !== bucketsOf(want)) failures.push(`${JSON.stringify(q)}: ${differs(got, want)}`);
      }
    }
  }
  t.same(failures.slice(0, 5), [], `all ${n} series queries agree with the reference, mean to the last digit`);
  const day = store.query({ indicator: 'v', mode: 'series', step: '1d' });
  t.same(day.mode === 'series' && day.buckets.map((b) => b.ts), [T0 - (T0 % (24 * HOUR)), T0 - (T0 % (24 * HOUR)) + 24 * HOUR, T0 - (T0 % (24 * HOUR)) + 48 * HOUR, T0 - (T0 % (24 * HOUR)) + 72 * HOUR].filter((ts) => ts + 24 * HOUR > T0 && ts < T0 + 72 * HOUR), 'buckets start at multiples of the step');
  t.throws(() => store.query({ indicator: 'v', mode: 'series', step: '1m', from: T0, to: T0 + 30 * 24 * HOUR }), { name: 'StoreError', message: /step "1m" gives 43,200 buckets over this range, more than 10,000: use a step of at least 5m or a shorter range/ });
  t.throws(() => store.query({ indicator: 'state', mode: 'series', step: '1h' }), NotNumericError, 'text values cannot be charted');
  t.throws(() => store.query({ indicator: 'v', mode: 'series' }), { message: /mode series needs a step/ });
  t.throws(() => store.query({ indicator: 'v', mode: 'series', step: '1h', last: 5 }), { message: /takes from and to, not first or last/ });
  t.throws(() => store.query({ indicator: 'v', mode: 'mean', step: '1h' }), { message: /step is for mode series/ });
  t.same(store.query({ indicator: 'none', mode: 'series', step: '1h' }), { mode: 'series', step: HOUR, buckets: [] }, 'nothing selected: no buckets');
});

t.test('store — roll-ups stay exact when values are overwritten, in one batch and across batches', async (t) => {
  const store = await openStore(t);
  await store.append([
    { indicator: 'x', ts: T0, datum: 100 },
    { indicator: 'x', ts: T0 + HOUR, datum: 1 },
    { indicator: 'x', ts: T0 + 5, datum: 50 },
    { indicator: 'x', ts: T0 + 5, datum: 40 },
  ]);
  await store.append([{ indicator: 'x', ts: T0, datum: 2 }]);
  const range = { indicator: 'x', from: T0, to: T0 + 2 * HOUR };
  t.same(store.query({ ...range, mode: 'sum' }), { mode: 'sum', value: 43, count: 3 });
  t.same(store.query({ ...range, mode: 'max' }), { mode: 'max', record: { indicator: 'x', ts: T0 + 5, datum: 40 } }, 'the overwritten 100 is no longer the max');
  t.same(store.window({ indicator: 'x' }, T0, T0 + 2 * HOUR), { count: 3, sum: 43, min: 1, max: 40 });
  await store.append([{ indicator: 'x', ts: T0 + 5, datum: 'text now' }]);
  t.same(store.query({ ...range, mode: 'count' }), { mode: 'count', count: 3 }, 'a number replaced by a text');
  t.same(store.window({ indicator: 'x' }, T0, T0 + 2 * HOUR), { count: 2, sum: 3, min: 1, max: 2 });
  // The same new time twice in one batch, in time order: the second replaces the first.
  await store.append([
    { indicator: 'y', ts: T0 + 7, datum: 3 },
    { indicator: 'y', ts: T0 + 7, datum: 4 },
  ]);
  t.same(store.window({ indicator: 'y' }, T0, T0 + HOUR), { count: 1, sum: 4, min: 4, max: 4 }, 'a time repeated in one batch counts once');
  t.same(store.query({ indicator: 'y', mode: 'records' }), { mode: 'records', records: [{ indicator: 'y', ts: T0 + 7, datum: 4 }] });
});

t.test('store — onAppend hears each append once durable, and whether it replaced a stored value', async (t) => {
  const store = await openStore(t);
  const stored = () => (store.query({ indicator: 'x', mode: 'count' }) as { count: number }).count;
  const heard: Array<[number[], boolean, number]> = [];
  const off = store.onAppend((values, replaced) => heard.push([values.map((v) => v.ts), replaced, stored()]));
  await Promise.all([store.append([{ indicator: 'x', ts: T0, datum: 1 }]), store.append([{ indicator: 'x', ts: T0 + 1, datum: 2 }])]);
  await store.append([{ indicator: 'x', ts: T0, datum: 3 }]); // replaces the first
  await store.append([{ indicator: 'x', ts: T0 - 5, datum: 4 }]); // older, replaces nothing
  await t.rejects(store.append([{ indicator: 'x', ts: T0 + 2, datum: NaN }]), StoreError);
  off();
  await store.append([{ indicator: 'x', ts: T0 + 9, datum: 5 }]);
  t.same(heard, [
    [[T0], false, 2],
    [[T0 + 1], false, 2],
    [[T0], true, 2],
    [[T0 - 5], false, 3],
  ], 'in commit order, each after its values are readable; a refused append and one after off() are not heard');
});

t.test('store — max and min return the earliest record on ties, across series too', async (t) => {
  const store = await openStore(t);
  await store.append([
    { indicator: 'p', device: 'b', ts: T0 + 2 * HOUR + 7, datum: 9 },
    { indicator: 'p', device: 'b', ts: T0 + 30, datum: 9 },
    { indicator: 'p', device: 'a', ts: T0 + 30, datum: 9 },
    { indicator: 'p', device: 'a', ts: T0 + 40, datum: 9 },
    { indicator: 'p', device: 'a', ts: T0 + HOUR, datum: 1 },
    { indicator: 'p', device: 'b', ts: T0 + 3 * HOUR, datum: 1 },
  ]);
  t.same(store.query({ indicator: 'p', mode: 'max' }), { mode: 'max', record: { indicator: 'p', device: 'a', ts: T0 + 30, datum: 9 } });
  t.same(store.query({ indicator: 'p', mode: 'min' }), { mode: 'min', record: { indicator: 'p', device: 'a', ts: T0 + HOUR, datum: 1 } });
  t.same(store.query({ indicator: 'p', mode: 'max', from: T0 + 31 }), { mode: 'max', record: { indicator: 'p', device: 'a', ts: T0 + 40, datum: 9 } }, 'a range starting inside a minute');
  t.same(store.query({ indicator: 'p', mode: 'max', last: 2 }), { mode: 'max', record: { indicator: 'p', device: 'b', ts: T0 + 2 * HOUR + 7, datum: 9 } }, 'an aggregate over the last N records');
});

t.test('store — text values are listed; numeric modes on them say so and change nothing; a refused batch writes nothing', async (t) => {
  const store = await openStore(t);
  await store.append([
    { indicator: 'descr', device: 'sw1', ts: T0, datum: 'Cisco IOS' },
    { indicator: 'descr', device: 'sw1', ts: T0 + 1, datum: 'Cisco IOS 15' },
    { indicator: 'load', device: 'sw1', ts: T0, datum: 5 },
    { indicator: 'load', device: 'sw1', ts: T0 + 10, datum: 7 },
  ]);
  t.same(store.query({ indicator: 'descr', mode: 'records' }), {
    mode: 'records',
    records: [
      { indicator: 'descr', device: 'sw1', ts: T0, datum: 'Cisco IOS' },
      { indicator: 'descr', device: 'sw1', ts: T0 + 1, datum: 'Cisco IOS 15' },
    ],
  });
  t.same(store.query({ indicator: 'descr', mode: 'count' }), { mode: 'count', count: 2 });
  const before = store.stats();
  for (const mode of ['mean', 'sum', 'max', 'min'] as const) {
    t.throws(() => store.query({ indicator: 'descr', mode }), { name: 'NotNumericError', message: new RegExp(`indicator 'descr' holds text values.*${mode} needs numbers`) });
  }
  const err = t.throws(() => store.query({ device: 'sw1', mode: 'max' })) as NotNumericError;
  t.same(err.indicators, ['descr'], 'a query over several indicators names the one holding text');
  t.same(store.query({ device: 'sw1', mode: 'max', from: T0 + 2 }), { mode: 'max', record: { indicator: 'load', device: 'sw1', ts: T0 + 10, datum: 7 } }, 'a range without text is answered');
  t.same(store.stats(), before, 'nothing changed');

  for (const [bad, what] of [
    [Number.NaN, /NaN is not a finite number/],
    [Infinity, /Infinity is not a finite number/],
    [null, /null is not a finite number or a text/],
  ] as const) {
    await t.rejects(
      store.append([
        { indicator: 'load', device: 'sw1', ts: T0 + 5, datum: 1 },
        { indicator: 'fresh', device: 'sw9', ts: T0 + 6, datum: 1 },
        { indicator: 'load', device: 'sw1', ts: T0 + 6, datum: bad as number },
      ]),
      { name: 'StoreError', message: what },
    );
  }
  await t.rejects(store.append([{ indicator: 'load', ts: 1.5, datum: 1 }]), { name: 'StoreError', message: /timestamp 1.5 is not a time in ms/ });
  await t.rejects(store.append([{ indicator: '', ts: T0, datum: 1 }]), { name: 'StoreError', message: /needs an indicator/ });
  t.same(store.stats(), before, 'the good values of refused batches were not stored either');
  t.same(store.series({ indicator: 'fresh' }), [], 'nor the series they would have created');
  t.same(store.window({ indicator: 'load' }, 0, T0 + HOUR), { count: 2, sum: 12, min: 5, max: 7 }, 'roll-ups untouched');

  t.throws(() => store.query({ first: 0 }), StoreError);
  t.throws(() => store.query({ first: 2, last: 2 }), { name: 'StoreError', message: /first or last/ });
});

t.test('store — appends made in the same tick share commits; a refused one does not spoil the others', async (t) => {
  const store = await openStore(t);
  const batches: Array<Promise<void>> = [];
  const want: Value[] = [];
  for (let b = 0; b < 300; b++) {
    const vs: Value[] = [];
    for (let i = 0; i < 10; i++) vs.push({ indicator: 'c', device: `d${b % 3}`, ts: T0 + (b % 50) * 1000 + i * 97_000 + Math.floor(b / 50), datum: b + i });
    if (b === 123) vs.push({ indicator: 'c', device: 'd0', ts: T0 + 1, datum: Number.NaN });
    else want.push(...vs);
    batches.push(store.append(vs));
  }
  const results = await Promise.allSettled(batches);
  t.equal(results.filter((r) => r.status === 'rejected').length, 1, 'only the bad batch is refused');
  t.equal((results[123] as PromiseRejectedResult).reason.name, 'StoreError');
  t.same(store.query({ indicator: 'c', mode: 'count' }), { mode: 'count', count: want.length });
  for (const d of ['d0', 'd1', 'd2']) {
    t.same(store.window({ indicator: 'c', device: d }, 0, T0 + 2 * HOUR), referenceWindow(want, { device: d }, 0, T0 + 2 * HOUR), `roll-ups of ${d} agree with the rows`);
  }
});

t.test('store — retention by age, oldest first; roll-ups agree with what is left', async (t) => {
  let now = T0 + 10 * HOUR;
  const store = await openStore(t, { retention: { maxAgeMs: 5 * HOUR + 30 * MIN }, now: () => now });
  const values: Value[] = [];
  for (let i = 0; i < 10 * 60; i++) values.push({ indicator: 'p', device: 'd', ts: T0 + i * MIN + 7_000, datum: i });
  for (let i = 0; i < 30; i++) values.push({ indicator: 'gone', ts: T0 + i * 1000, datum: 'old text' });
  await store.append(values);
  t.equal(store.stats().series, 2);
  // Appends go on while retention runs.
  const [{ deleted }] = await Promise.all([store.enforceRetention(), store.append([{ indicator: 'p', device: 'd', ts: T0 + 10 * HOUR, datum: 1000 }])]);
  t.equal(deleted, 270 + 30, 'everything before the cut-off is gone');
  const cut = T0 + 4 * HOUR + 30 * MIN;
  const left = values.filter((v) => v.indicator === 'p' && v.ts >= cut).concat([{ indicator: 'p', device: 'd', ts: T0 + 10 * HOUR, datum: 1000 }]);
  t.same(store.query({ indicator: 'p', mode: 'count' }), { mode: 'count', count: left.length });
  for (const [from, to] of [[0, now + 1], [T0 + 4 * HOUR, T0 + 5 * HOUR], [cut - MIN, cut + MIN], [T0, T0 + 11 * HOUR]]) {
    t.same(store.window({ indicator: 'p' }, from!, to!), referenceWindow(left, {}, from!, to!), `roll-ups agree over [${from! - T0}, ${to! - T0})`);
  }
  t.equal((store.query({ indicator: 'p', first: 1 }) as { records: Value[] }).records[0]!.ts, cut + 7_000);
  t.same(store.series({ indicator: 'gone' }), [], 'a series left empty is forgotten');
  t.equal(store.stats().series, 1);
  now += HOUR;
  t.same(await store.enforceRetention(), { deleted: 60 }, 'the next run deletes the next hour');
});

t.test('store — retention that cuts into the newest minute and hour, then appends to them', async (t) => {
  let now = 0;
  const store = await openStore(t, { retention: { maxAgeMs: 0 }, now: () => now });
  const values: Value[] = [];
  for (let i = 0; i < 120; i++) values.push({ indicator: 'n', ts: T0 + i * 500, datum: i });
  await store.append(values);
  now = T0 + 30_000; // inside the second minute bucket of the first hour
  t.same(await store.enforceRetention(), { deleted: 60 });
  await store.append([{ indicator: 'n', ts: T0 + 59_999, datum: 1000 }]);
  const left = values.slice(60).concat([{ indicator: 'n', ts: T0 + 59_999, datum: 1000 }]);
  for (const [from, to] of [[T0, T0 + HOUR], [0, T0 + 2 * HOUR], [T0, T0 + MIN]]) {
    t.same(store.window({ indicator: 'n' }, from!, to!), referenceWindow(left, {}, from!, to!), `roll-ups agree over [${from! - T0}, ${to! - T0})`);
  }
});

t.test('store — close during retention: the run stops between transactions, roll-ups agree after reopening', async (t) => {
  const path = await tempDir(t);
  const now = T0 + 100 * HOUR;
  let store = Store.open({ path, retention: { maxAgeMs: 0 }, now: () => now });
  const values: Value[] = [];
  for (let i = 0; i < 40_000; i++) values.push({ indicator: 'r', device: `d${i % 20}`, ts: T0 + i * 1000, datum: i % 97 });
  await store.append(values);
  const run = store.enforceRetention();
  t.equal(store.enforceRetention(), run, 'a call during a run shares it');
  await Promise.all([run, store.close()]);
  store = Store.open({ path });
  t.teardown(() => store.close());
  const left = [...store.scan({ indicator: 'r' })].flat();
  t.ok(left.length < values.length, `some were deleted (${values.length - left.length})`);
  for (const d of ['d0', 'd7', 'd19']) t.same(store.window({ indicator: 'r', device: d }, 0, now), referenceWindow(left, { device: d }, 0, now), `roll-ups of ${d} agree with the rows`);
});

t.test('store — retention by size keeps the newest values within the byte budget', async (t) => {
  const store = await openStore(t, { retention: { maxBytes: 1_048_576 } });
  const many: Value[] = [];
  for (let i = 0; i < 60_000; i++) many.push({ indicator: 'q', device: `d${i % 3}`, ts: T0 + i * 1000, datum: i });
  await store.append(many);
  t.ok(store.stats().bytes > 1_048_576, `over budget first (${store.stats().bytes} bytes)`);
  const { deleted } = await store.enforceRetention();
  const st = store.stats();
  t.ok(st.bytes <= 1_048_576, `within budget after (${st.bytes} bytes)`);
  t.equal(st.values, 60_000 - deleted);
  const oldest = (store.query({ indicator: 'q', first: 1 }) as { records: Value[] }).records[0]!;
  t.equal(st.values, 60_000 - (oldest.datum as number), 'what is left is exactly the newest values');
  t.same(store.query({ indicator: 'q', last: 1 }), { mode: 'records', records: [many[59_999]] }, 'the newest value is kept');
  const left = many.slice(oldest.datum as number);
  t.same(store.window({ indicator: 'q' }, 0, T0 + HOUR * 24), referenceWindow(left, {}, 0, T0 + HOUR * 24), 'roll-ups agree with what is left');
});

t.test('store — configuration entities: CRUD by kind, durable, survive a reopen', async (t) => {
  const path = await tempDir(t);
  let store = Store.open({ path });
  await store.config.put('rules', 'r1', { id: 'r1', period: '10s' });
  await store.config.put('rules', 'r2', { id: 'r2', period: '1m' });
  await store.config.put('rules', 'r1', { id: 'r1', period: '20s' });
  await store.config.put('devices', 'd1', { id: 'd1' });
  await store.config.put('rulesX', 'z', { id: 'z' });
  t.ok(await store.config.delete('rules', 'r2'));
  t.notOk(await store.config.delete('rules', 'r2'), 'deleting what is not there says so');
  await t.rejects(store.config.put('rules', 'r3', undefined), StoreError);
  const pending = store.append([{ indicator: 'v', ts: T0, datum: 1 }]);
  await Promise.all([store.close(), store.close()]);
  await pending;
  t.pass('close is idempotent');
  await t.rejects(store.append([{ indicator: 'v', ts: T0, datum: 1 }]), { name: 'StoreError', message: /closed/ });
  t.throws(() => store.query({}), { name: 'StoreError' });
  store = Store.open({ path });
  t.teardown(() => store.close());
  t.same(store.config.list('rules'), [{ id: 'r1', period: '20s' }], 'the kind holds only its own entities');
  t.same(store.config.entries('rulesX'), [['z', { id: 'z' }]]);
  t.same(store.config.get('devices', 'd1'), { id: 'd1' });
  t.equal(store.config.get('devices', 'nope'), undefined);
  t.same(store.query({ indicator: 'v' }), { mode: 'records', records: [{ indicator: 'v', ts: T0, datum: 1 }] }, 'an append still pending at close is kept');
});

t.test('store — survives kill -9 during heavy writes: nothing committed is lost, roll-ups agree', async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, 'writer.mjs');
  const storeUrl = new URL('../dist/index.js', import.meta.url).href;
  // Batches alternate between large ones and bursts of small ones in the same tick, some out of order.
  await writeFile(
    script,
    `import { Store } from ${JSON.stringify(storeUrl)};
const store = Store.open({ path: ${JSON.stringify(join(dir, 'db'))} });
for (let batch = 0; batch < 100000; batch++) {
  const values = [];
  for (let i = 0; i < 1000; i++) values.push({ indicator: 'w', device: 'd' + (i % 4), ts: ${T0} + (batch % 2 ? batch * 1000 + i : (batch + 1) * 1000 - i - 1), datum: batch });
  if (batch % 3) await store.append(values);
  else await Promise.all(Array.from({ length: 10 }, (_, k) => store.append(values.slice(k * 100, k * 100 + 100))));
  process.stdout.write('committed ' + batch + '\\n');
}`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = -1;
  let out = '';
  const target = 40 + Math.floor(Math.random() * 40);
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (b) => {
      out += b;
      const m = [...out.matchAll(/committed (\d+)/g)].pop();
      if (m) last = Number(m[1]);
      if (last >= target && child.exitCode === null) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => resolve());
  });
  await new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once('exit', r) : r(null)));
  t.equal(child.signalCode, 'SIGKILL', 'the writer was killed mid-write');
  const store = Store.open({ path: join(dir, 'db') });
  t.teardown(() => store.close());
  const count = (store.query({ indicator: 'w', mode: 'count' }) as { count: number }).count;
  t.ok(count >= (last + 1) * 1000, `every reported batch is there (${count} ≥ ${(last + 1) * 1000})`);
  const batches = Math.floor(count / 1000);
  // Small appends of the last batch may have committed in part; all earlier batches are whole.
  const rows = [...store.scan({ indicator: 'w', to: T0 + batches * 1000 })].flat();
  t.equal(rows.length, batches * 1000, 'every batch before the last is whole');
  t.ok(rows.every((r) => r.datum === Math.floor((r.ts - T0) / 1000)), 'every row holds its batch number');
  const all = [...store.scan({ indicator: 'w' })].flat();
  for (const d of ['d0', 'd1', 'd2', 'd3']) {
    t.same(store.window({ indicator: 'w', device: d }, 0, T0 + 10 * HOUR), referenceWindow(all, { device: d }, 0, T0 + 10 * HOUR), `roll-ups of ${d} agree with the rows`);
  }
  await store.append([{ indicator: 'w', device: 'd0', ts: T0 - 1, datum: 1 }]);
  t.equal((store.query({ indicator: 'w', mode: 'count' }) as { count: number }).count, count + 1, 'the reopened store takes writes');
});

t.test('store — version: the same until a commit changes the selected series (written, trimmed, added), then different', async (t) => {
  let now = T0 + 10 * HOUR;
  const store = await openStore(t, { retention: { maxAgeMs: 5 * HOUR }, now: () => now });
  const power = { indicator: 'p', device: 'd' };
  await store.append([{ ...power, ts: T0, datum: 1 }, { ...power, ts: T0 + 6 * HOUR, datum: 2 }, { indicator: 'q', ts: T0, datum: 3 }]);
  const seen = new Set([store.version(power)]);
  t.equal(store.version(power), [...seen][0], 'asked twice without a write: the same');

  await store.append([{ indicator: 'q', ts: T0 + MIN, datum: 4 }]);
  t.ok(seen.has(store.version(power)), 'a commit to another series leaves it');

  const pending = store.append([{ ...power, ts: T0 + 7 * HOUR, datum: 5 }]);
  t.ok(seen.has(store.version(power)), 'not changed before the commit (an answer kept under it would not hold the value)');
  await pending;
  t.notOk(seen.has(store.version(power)), 'changed once the value is readable');
  seen.add(store.version(power));

  await store.append([{ ...power, ts: T0 + 7 * HOUR, datum: 6 }]);
  t.notOk(seen.has(store.version(power)), 'a value replaced changes it');
  seen.add(store.version(power));

  await store.append([{ ...power, instance: 'i2', ts: T0 + 8 * HOUR, datum: 7 }]);
  t.notOk(seen.has(store.version(power)), 'a series added to the selection changes it');
  seen.add(store.version(power));

  now = T0 + 12 * HOUR;
  t.same(await store.enforceRetention(), { deleted: 4 }, 'retention deletes what is older than 7 h: two values of p, both of q');
  t.notOk(seen.has(store.version(power)), 'retention changes it');
});
