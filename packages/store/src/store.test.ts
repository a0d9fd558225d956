import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Query, QueryResult, Value } from '@probemesh/model';
import { tempDir } from '@probemesh/testkit';
import { Store } from './index.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % HOUR); // an hour edge

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) % 4294967296;
    return seed / 4294967296;
  };
}

/** The data-access model computed the slow, obvious way. */
function reference(all: Value[], q: Query): QueryResult {
  let rows = all.filter(
    (v) =>
      (q.indicator === undefined || v.indicator === q.indicator) &&
      (q.device === undefined || (v.device ?? '') === q.device) &&
      (q.rule === undefined || (v.rule ?? '') === q.rule) &&
      (q.instance === undefined || (v.instance ?? '') === q.instance) &&
      (q.from === undefined || v.ts >= q.from) &&
      (q.to === undefined || v.ts < q.to),
  );
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  rows.sort((a, b) => a.ts - b.ts || cmp(a.indicator, b.indicator) || cmp(a.device ?? '', b.device ?? '') || cmp(a.instance ?? '', b.instance ?? '') || cmp(a.rule ?? '', b.rule ?? ''));
  if (q.first) rows = rows.slice(0, q.first);
  if (q.last) rows = rows.slice(-q.last);
  const mode = q.mode ?? 'records';
  if (mode === 'records') return { mode, records: rows };
  if (mode === 'count') return { mode, count: rows.length };
  if (rows.some((r) => typeof r.datum !== 'number')) throw new Error('text');
  const nums = rows as Array<Value & { datum: number }>;
  if (mode === 'sum' || mode === 'mean') {
    const sum = nums.reduce((a, r) => a + r.datum, 0);
    return { mode, value: nums.length ? (mode === 'sum' ? sum : sum / nums.length) : null, count: nums.length };
  }
  let best: (typeof nums)[number] | undefined;
  for (const r of nums) if (!best || (mode === 'max' ? r.datum > best.datum : r.datum < best.datum) || (r.datum === best.datum && r.ts < best.ts)) best = r;
  return { mode, record: best ?? null };
}

const close = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

t.test('store — every filter × mode matches a brute-force reference on random data', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const store = Store.open({ path: dir.path });
  t.teardown(() => store.close());
  const rand = rng(42);
  const all: Value[] = [];
  const seen = new Set<string>();
  // Integer-valued data keeps sums exact; timestamps spread over three hours with edges hit on purpose.
  for (let i = 0; i < 3000; i++) {
    const indicator = ['power', 'temp', 'load'][Math.floor(rand() * 3)]!;
    const device = ['a', 'b', ''][Math.floor(rand() * 3)]!;
    const rule = ['r1', 'r2'][Math.floor(rand() * 2)]!;
    const ts = i % 10 === 0 ? T0 + Math.floor(rand() * 180) * MIN : T0 + Math.floor(rand() * 3 * HOUR);
    const k = `${indicator}/${device}/${rule}/${ts}`;
    if (seen.has(k)) continue;
    seen.add(k);
    all.push({ indicator, ...(device ? { device } : {}), rule, ts, datum: Math.floor(rand() * 2000) - 1000 });
  }
  // Out of order, in several batches.
  const shuffled = [...all].sort(() => rand() - 0.5);
  for (let i = 0; i < shuffled.length; i += 700) await store.append(shuffled.slice(i, i + 700));

  const edges = [undefined, T0, T0 + MIN, T0 + 59 * MIN, T0 + HOUR, T0 + HOUR + 1, T0 + 2 * HOUR - 1, T0 + 150 * MIN + 30_000, T0 + 3 * HOUR, T0 - 5];
  const modes = ['records', 'count', 'sum', 'mean', 'max', 'min'] as const;
  let checked = 0;
  for (let i = 0; i < 600; i++) {
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    let from = pick(edges);
    let to = pick(edges);
    if (from !== undefined && to !== undefined && from > to) [from, to] = [to, from];
    const q: Query = {
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(rand() < 0.5 ? { indicator: pick(['power', 'temp', 'load', 'none'])! } : {}),
      ...(rand() < 0.4 ? { device: pick(['a', 'b', ''])! } : {}),
      ...(rand() < 0.3 ? { rule: pick(['r1', 'r2'])! } : {}),
      ...(rand() < 0.2 ? { first: 1 + Math.floor(rand() * 50) } : rand() < 0.25 ? { last: 1 + Math.floor(rand() * 50) } : {}),
      mode: pick([...modes])!,
    };
    const want = reference(all, q);
    const got = store.query(q);
    checked++;
    if (want.mode === 'records' && got.mode === 'records') {
      if (got.records.length !== want.records.length || got.records.some((r, j) => r.ts !== want.records[j]!.ts || r.datum !== want.records[j]!.datum)) {
        t.fail(`records differ for ${JSON.stringify(q)}`);
        return;
      }
    } else if ((want.mode === 'sum' || want.mode === 'mean') && (got.mode === 'sum' || got.mode === 'mean')) {
      if (!close(got.value, want.value) || got.count !== want.count) return void t.fail(`${q.mode} differs for ${JSON.stringify(q)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    } else if ((want.mode === 'max' || want.mode === 'min') && (got.mode === 'max' || got.mode === 'min')) {
      if (got.record?.datum !== want.record?.datum || got.record?.ts !== want.record?.ts) return void t.fail(`${q.mode} differs for ${JSON.stringify(q)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    } else if (JSON.stringify(got) !== JSON.stringify(want)) return void t.fail(`count differs for ${JSON.stringify(q)}`);
  }
  t.equal(checked, 600, 'all queries agree with the reference');
  t.same(store.query({ indicator: 'power', from: T0 + 10, to: T0 + 10, mode: 'count' }), { mode: 'count', count: 0 }, 'an empty range');
  t.same(store.query({ indicator: 'nothing', mode: 'mean' }), { mode: 'mean', value: null, count: 0 });
  t.same(store.query({ indicator: 'nothing', mode: 'max' }), { mode: 'max', record: null });
});

t.test('store — text values are listed; numeric modes on them say so; NaN changes nothing', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const store = Store.open({ path: dir.path });
  t.teardown(() => store.close());
  await store.append([
    { indicator: 'descr', device: 'sw1', ts: T0, datum: 'Cisco IOS' },
    { indicator: 'descr', device: 'sw1', ts: T0 + 1, datum: 'Cisco IOS 15' },
    { indicator: 'load', device: 'sw1', ts: T0, datum: 5 },
  ]);
  t.same(
    store.query({ indicator: 'descr', mode: 'records' }),
    { mode: 'records', records: [
      { indicator: 'descr', device: 'sw1', ts: T0, datum: 'Cisco IOS' },
      { indicator: 'descr', device: 'sw1', ts: T0 + 1, datum: 'Cisco IOS 15' },
    ] },
  );
  t.same(store.query({ indicator: 'descr', mode: 'count' }), { mode: 'count', count: 2 });
  t.throws(() => store.query({ indicator: 'descr', mode: 'mean' }), { name: 'NotNumericError', message: /indicator 'descr' holds text values/ });
  await t.rejects(store.append([{ indicator: 'load', device: 'sw1', ts: T0 + 5, datum: 1 }, { indicator: 'load', device: 'sw1', ts: T0 + 6, datum: Number.NaN }]), { name: 'StoreError', message: /nothing of this batch/ });
  t.same(store.query({ indicator: 'load', mode: 'count' }), { mode: 'count', count: 1 }, 'the good value of the refused batch was not stored either');
});

t.test('store — overwriting a value keeps roll-ups exact', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const store = Store.open({ path: dir.path });
  t.teardown(() => store.close());
  await store.append([{ indicator: 'x', ts: T0, datum: 100 }, { indicator: 'x', ts: T0 + HOUR, datum: 1 }]);
  await store.append([{ indicator: 'x', ts: T0, datum: 2 }]);
  t.same(store.query({ indicator: 'x', mode: 'sum', from: T0, to: T0 + 2 * HOUR }), { mode: 'sum', value: 3, count: 2 });
  t.equal((store.query({ indicator: 'x', mode: 'max', from: T0, to: T0 + 2 * HOUR }) as { record: Value }).record.datum, 2);
});

t.test('store — retention by age and by size, oldest first, roll-ups agree', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  let now = T0 + 10 * HOUR;
  const store = Store.open({ path: dir.path, retention: { maxAgeMs: 5 * HOUR }, now: () => now });
  t.teardown(() => store.close());
  const values: Value[] = [];
  for (let i = 0; i < 10 * 60; i++) values.push({ indicator: 'p', device: 'd', ts: T0 + i * MIN + 7_000, datum: 1 });
  await store.append(values);
  const { deleted } = await store.enforceRetention();
  t.equal(deleted, 300, 'the five oldest hours are gone');
  t.same(store.query({ indicator: 'p', mode: 'count' }), { mode: 'count', count: 300 });
  t.same(store.query({ indicator: 'p', mode: 'sum', from: 0, to: now }), { mode: 'sum', value: 300, count: 300 }, 'roll-ups agree with the rows');
  t.equal((store.query({ indicator: 'p', first: 1 }) as { records: Value[] }).records[0]!.ts, T0 + 5 * HOUR + 7_000);

  const dir2 = await tempDir();
  t.teardown(() => dir2.remove());
  const small = Store.open({ path: dir2.path, retention: { maxBytes: 1_048_576 } });
  t.teardown(() => small.close());
  const many: Value[] = [];
  for (let i = 0; i < 60_000; i++) many.push({ indicator: 'q', ts: T0 + i * 1000, datum: i });
  await small.append(many);
  t.ok(small.stats().bytes > 1_048_576, `over budget first (${small.stats().bytes} bytes)`);
  await small.enforceRetention();
  t.ok(small.stats().bytes <= 1_048_576, `within budget after (${small.stats().bytes} bytes)`);
  const left = small.query({ indicator: 'q', mode: 'records', last: 1 }) as { records: Value[] };
  t.equal(left.records[0]!.datum, 59_999, 'the newest value is kept');
  const oldest = (small.query({ indicator: 'q', first: 1 }) as { records: Value[] }).records[0]!;
  const count = (small.query({ indicator: 'q', mode: 'count' }) as { count: number }).count;
  t.equal(count, 60_000 - (oldest.datum as number), 'what is left is exactly the newest values');
});

t.test('store — configuration entities survive a reopen', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  let store = Store.open({ path: dir.path });
  await store.config.put('rules', 'r1', { id: 'r1', period: '10s' });
  await store.config.put('rules', 'r2', { id: 'r2', period: '1m' });
  await store.config.put('devices', 'd1', { id: 'd1' });
  t.ok(await store.config.delete('rules', 'r2'));
  await store.close();
  store = Store.open({ path: dir.path });
  t.teardown(() => store.close());
  t.same(store.config.list('rules'), [{ id: 'r1', period: '10s' }]);
  t.same(store.config.get('devices', 'd1'), { id: 'd1' });
});

t.test('store — survives kill -9 during heavy writes: nothing committed is lost', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const script = join(dir.path, 'writer.mjs');
  const storeUrl = new URL('../dist/index.js', import.meta.url).href;
  await writeFile(
    script,
    `import { Store } from ${JSON.stringify(storeUrl)};
const store = Store.open({ path: ${JSON.stringify(join(dir.path, 'db'))} });
for (let batch = 0; batch < 100000; batch++) {
  const values = [];
  for (let i = 0; i < 1000; i++) values.push({ indicator: 'w', device: 'd' + (i % 4), ts: ${T0} + batch * 1000 + i, datum: batch });
  await store.append(values);
  process.stdout.write('committed ' + batch + '\\n');
}`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = -1;
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (b) => {
      out += b;
      const m = [...out.matchAll(/committed (\d+)/g)].pop();
      if (m) last = Number(m[1]);
      if (last >= 30 && child.exitCode === null) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  t.ok(last >= 30, `the writer reported ${last + 1} committed batches before SIGKILL`);
  const store = Store.open({ path: join(dir.path, 'db') });
  t.teardown(() => store.close());
  const count = (store.query({ indicator: 'w', mode: 'count' }) as { count: number }).count;
  t.ok(count >= (last + 1) * 1000, `every committed value is there (${count} ≥ ${(last + 1) * 1000})`);
  t.equal(count % 1000, 0, 'no batch is half written');
  const batches = count / 1000;
  const expectSum = (1000 * (batches - 1) * batches) / 2;
  t.same(store.query({ indicator: 'w', mode: 'sum' }), { mode: 'sum', value: expectSum, count }, 'roll-ups agree with the rows');
  await store.append([{ indicator: 'w', device: 'd0', ts: T0 - 1, datum: 1 }]);
  t.pass('the reopened store takes writes');
});
