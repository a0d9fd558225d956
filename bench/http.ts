// npm run bench -- http [--quick]
// The paper's service test: ~1 MB of records at 10/50/100/150 parallel clients, and a small
// last-value query at 150 clients, each against a bare hono handler returning the same bytes
// (encoded once). Repeated queries of data that does not change are answered from the probe's
// answer cache; `records_1mb_rps_c50_live` appends to the series every 10 ms meanwhile (a hundred
// times what a real series changes), and `records_1mb_rps_c50_uncached` turns the cache off: every
// answer read from the store and encoded anew.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Hono } from 'hono';
import { createApi, serve } from '@probemesh/api';
import type { Value } from '@probemesh/model';
import { Probe } from '@probemesh/runtime';
import { tempDir } from '@probemesh/testkit';

const quick = process.argv.includes('--quick');
const duration = quick ? 4 : 10;
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'http', ...o }));
const progress = (s: string) => process.stderr.write(`http bench: ${s}\n`);
const TOKEN = 'bench-read-token-0000000';

const run = promisify(execFile);
const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** Load from another process (autocannon's CLI), so the client does not share the server's event loop. */
async function load(url: string, connections: number, headers: Record<string, string> = {}) {
  const args = [autocannonBin, '-c', String(connections), '-d', String(duration), '-j', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout) as { non2xx: number; errors: number; timeouts: number; latency: { p50: number; p99: number }; requests: { average: number; total: number } };
  if (r.non2xx > 0) throw new Error(`${url}: ${r.non2xx} answers were not 2xx`);
  if (r.requests.total === 0) throw new Error(`${url}: no request completed in ${duration} s`);
  // Requests still in flight when the run ends count as timeouts: reported, not fatal.
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, timeouts: r.timeouts };
}

const dir = await tempDir();
const probe = await Probe.start({ id: 'bench', dataDir: dir.path, connectors: [] });
try {
  // About 1 MB of records: one series of a power reading per second.
  const values: Value[] = [];
  for (let i = 0; i < 13_000; i++) values.push({ indicator: 'power', device: 'rack-01-pdu-a', rule: 'energy', ts: 1_700_000_000_000 + i * 1000, datum: 1000 + (i % 97) * 3.25 });
  await probe.store.append(values);
  const api = await serve(createApi(probe, { tokens: [{ name: 'bench', role: 'read', token: TOKEN }] }), { port: 0 });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const bigPath = '/query?indicator=power&last=13000&limit=13000'; // a page above the default size of 10,000
  const big = await (await fetch(api.url + bigPath, { headers: auth })).text();
  const small = await (await fetch(api.url + '/query?indicator=power&last=1', { headers: auth })).text();
  progress(`records response: ${(big.length / 1e6).toFixed(2)} MB; small response: ${small.length} B`);
  const bare = new Hono();
  const bigBytes = new TextEncoder().encode(big);
  bare.get('/big', (c) => c.body(bigBytes, 200, { 'content-type': 'application/json' }));
  bare.get('/small', (c) => c.body(small, 200, { 'content-type': 'application/json' }));
  const bareServer = await serve(bare, { port: 0 });
  try {
    for (const c of [10, 50, 100, 150]) {
      progress(`1 MB records at ${c} clients, ${duration} s each`);
      const p = await load(api.url + bigPath, c, auth);
      const b = await load(bareServer.url + '/big', c);
      emit({ metric: `records_1mb_rps_c${c}`, value: +p.rps.toFixed(1), unit: 'req/s', baseline: +b.rps.toFixed(1), ratio: +(p.rps / b.rps).toFixed(3), timeouts: p.timeouts, baseline_timeouts: b.timeouts, baseline_is: 'bare hono serving the same bytes from memory' });
      for (const q of ['p50', 'p99'] as const)
        emit({ metric: `records_1mb_${q}_ms_c${c}`, value: p[q], unit: 'ms', baseline: b[q], ratio: +(p[q] / Math.max(b[q], 0.001)).toFixed(2), rps: +p.rps.toFixed(1), baseline_rps: +b.rps.toFixed(1), timeouts: p.timeouts, baseline_timeouts: b.timeouts });
    }
    progress(`1 MB records at 50 clients while the series grows every 10 ms, ${duration} s`);
    let ts = values.at(-1)!.ts;
    const growing = setInterval(() => void probe.store.append([{ ...values[0]!, ts: (ts += 1000) }]), 10);
    const live = await load(api.url + bigPath, 50, auth).finally(() => clearInterval(growing));
    const b50 = await load(bareServer.url + '/big', 50);
    emit({ metric: 'records_1mb_rps_c50_live', value: +live.rps.toFixed(1), unit: 'req/s', baseline: +b50.rps.toFixed(1), ratio: +(live.rps / b50.rps).toFixed(3), p99_ms: live.p99, baseline_p99_ms: b50.p99, note: 'the answer changes every 10 ms (requests within those 10 ms share one reading)' });
    progress(`1 MB records at 50 clients, no answer cache, ${duration} s`);
    const uncachedApi = await serve(createApi(probe, { tokens: [{ name: 'bench', role: 'read', token: TOKEN }], answerCacheBytes: 0 }), { port: 0 });
    const uncached = await load(uncachedApi.url + bigPath, 50, auth).finally(() => uncachedApi.close());
    emit({ metric: 'records_1mb_rps_c50_uncached', value: +uncached.rps.toFixed(1), unit: 'req/s', baseline: +b50.rps.toFixed(1), ratio: +(uncached.rps / b50.rps).toFixed(3), p99_ms: uncached.p99, baseline_p99_ms: b50.p99, note: 'every answer read from the store and encoded' });
    progress(`last-value query at 150 clients`);
    const p = await load(api.url + '/query?indicator=power&last=1', 150, auth);
    const b = await load(bareServer.url + '/small', 150);
    emit({ metric: 'small_query_rps_c150', value: Math.round(p.rps), unit: 'req/s', baseline: Math.round(b.rps), ratio: +(p.rps / b.rps).toFixed(3), p99_ms: p.p99, note: 'through auth, validation and the store vs a bare hono constant' });
  } finally {
    await bareServer.close();
    await api.close();
  }
} finally {
  await probe.stop();
  await dir.remove();
}
