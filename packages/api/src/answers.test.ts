import t, { type Test } from 'tap';
import { Hono } from 'hono';
import type { Value } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { tempDir } from '@probemesh/testkit';
import { createApi, serve } from './index.js';
import { AnswerCache } from './records.js';

const TOKEN = 'read-token-0123456789ab';
const T0 = 1_700_000_000_000;
const series = (n: number, from = 0): Value[] => Array.from({ length: n }, (_, i) => ({ indicator: 'power', device: 'pdu-a', ts: T0 + (from + i) * 1000, datum: 1000 + i }));

async function setup(t: Test) {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [] });
  t.teardown(() => probe.stop());
  const server = await serve(createApi(probe, { tokens: [{ name: 'ro', role: 'read', token: TOKEN }] }), { port: 0 });
  t.teardown(() => server.close());
  const get = async (path: string) => (await fetch(server.url + path, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<{ records: Value[]; mode: string }>;
  /** A sample of /metrics by name. */
  const metric = async (name: string) => {
    const text = await (await fetch(server.url + '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    return Number(text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))?.split(' ').at(-1));
  };
  return { probe, get, metric };
}

t.test('answer cache — a large answer asked again is the same while nothing changes, and holds every value committed since', async (t) => {
  const { probe, get, metric } = await setup(t);
  await probe.store.append(series(2000)); // ~150 KB of JSON: kept
  const q = '/query?indicator=power&last=2000&limit=2000';
  const first = await get(q);
  t.equal(first.records.length, 2000);
  t.equal(await metric('probemesh_api_answers_reused_total'), 0, '/metrics: none reused yet');
  t.ok((await metric('probemesh_api_answers_kept_bytes')) > 100_000, '/metrics: the answer is kept');
  t.same(await get(q), first, 'asked again: the same answer');
  t.equal(await metric('probemesh_api_answers_reused_total'), 1, '/metrics: sent from those kept');

  await probe.store.append(series(1, 2000));
  const after = await get(q);
  t.equal(after.records.at(-1)!.ts, T0 + 2000 * 1000, 'the value appended since is in the next answer');
  t.equal(after.records[0]!.ts, T0 + 1000, 'and the window moved by one');

  await probe.store.append([{ indicator: 'power', device: 'pdu-a', ts: T0 + 2000 * 1000, datum: -1 }]);
  t.equal((await get(q)).records.at(-1)!.datum, -1, 'a value replaced is seen');

  const buckets = `/query?indicator=power&mode=series&from=${T0}&to=${T0 + 2001 * 1000}&step=1000`;
  const before = (await get(buckets)) as unknown as { buckets: Array<{ count: number }> };
  t.equal(before.buckets[0]!.count, 1, 'buckets of one series');
  await probe.store.append([{ indicator: 'power', device: 'pdu-b', ts: T0, datum: 5 }]);
  const added = (await get(buckets)) as unknown as { buckets: Array<{ count: number }> };
  t.equal(added.buckets[0]!.count, 2, 'a series added to the selection is in the buckets answered');
});

t.test('answer cache — holds at most its bytes, the least recently used dropped first; small answers are not kept', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'p1', dataDir: dir.path, connectors: [] });
  t.teardown(() => probe.stop());
  await probe.store.append(series(3000));
  const cache = new AnswerCache(600_000, 64 * 1024); // answers of ~2,000 records (~142 KB): four fit
  const app = new Hono();
  app.get('/q/:n', (c) => {
    const q = { indicator: 'power', last: Number(c.req.param('n')), limit: 3000 };
    return cache.json(c, probe, q, () => probe.query(q));
  });
  const ask = async (n: number) => (await (await app.request(`/q/${n}`)).json()) as { records: Value[] };
  t.equal((await ask(10)).records.length, 10);
  t.equal((await ask(3000)).records.length, 3000, 'an answer of 3,000 records (~213 KB) is more than a quarter of the cache');
  t.equal(cache.held, 0, 'neither a small answer nor one above a quarter of the cache is kept');
  for (const n of [2000, 2001, 2002, 2003, 2004]) t.equal((await ask(n)).records.length, n);
  t.ok(cache.held > 400_000 && cache.held <= 600_000, `${cache.held} bytes held, within 600,000`);
  const hits = cache.hits;
  await ask(2004);
  t.equal(cache.hits, hits + 1, 'the newest is kept');
  await ask(2000);
  t.equal(cache.hits, hits + 1, 'the oldest was dropped (made again, not a hit)');
});
