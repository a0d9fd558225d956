// npm run bench -- web [--quick]
// The console: what the first view downloads (gzipped JS+CSS), a 30-day series of one value
// every 10 s read as hour buckets from the roll-ups against the same range read as raw records
// (every page), the chart drawn from the response in Chromium, the first view after navigation,
// and what serving the console adds to the probe's resident memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApi, serve } from '@probemesh/api';
import { Probe } from '@probemesh/runtime';
import { Store } from '@probemesh/store';
import { launch } from '../test/console-browser.js';

const quick = process.argv.includes('--quick');
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'web', ...o }));
const progress = (s: string) => process.stderr.write(`web bench: ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const round = (x: number, d = 2) => Number(x.toFixed(d));
const DAY = 86_400_000;
const TOKEN = 'bench-web-admin-token-0001';

/**
 * A probe alone in a child process: as many requests to /health as the console will get (sockets,
 * parsers warm), its RSS, then every console file again and again (brotli and gzip), its RSS again.
 */
async function consoleRss(): Promise<void> {
  const ROUNDS = quick ? 10 : 50;
  const files = ['/', ...all.map((x) => `/assets/${x.slice(0, -3)}`)];
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()));
      child.once('exit', (code) => reject(new Error(`the probe process exited with ${code}`)));
    });
    const hit = async (paths: string[]) => {
      for (let i = 0; i < ROUNDS; i++) for (const f of paths) await (await fetch(`${url}${f}`, { headers: { 'accept-encoding': i % 2 ? 'gzip' : 'br' } })).arrayBuffer();
    };
    // The child collects garbage every 100 ms; the figure is the median of a second's samples.
    const rss = async () => {
      const xs: number[] = [];
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100));
        xs.push(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024);
      }
      return median(xs);
    };
    const health = files.map(() => '/health');
    for (let i = 0; i < 2; i++) await hit(health);
    // Health, console, health: the console's figure against the mean of the two around it, so a
    // heap still shrinking from start-up does not count for or against it.
    const h1 = await rss();
    await hit(files);
    const after = await rss();
    await hit(health);
    const h2 = await rss();
    progress(`rss: health ${(h1 / 2 ** 20).toFixed(1)} MiB, console ${(after / 2 ** 20).toFixed(1)} MiB, health ${(h2 / 2 ** 20).toFixed(1)} MiB`);
    const before = (h1 + h2) / 2;
    const held = files.map((f) => join(app, f === '/' ? 'index.html' : f)).reduce((n, f) => n + ['', '.gz', '.br'].reduce((m, e) => m + (statSync(f + e, { throwIfNoEntry: false })?.size ?? 0), 0), 0);
    emit({ metric: 'console_rss_mib', value: round((after - before) / 2 ** 20), unit: 'MiB', rss_before_mib: round(before / 2 ** 20, 1), held_kib: round(held / 1024, 1), requests: ROUNDS * files.length, budget_mib: 5, note: `probe process RSS after serving every console file ${ROUNDS} times minus the mean of the RSS after as many /health requests before and after; held = the bodies it keeps` });
  } finally {
    child.kill();
  }
}

if (process.argv.includes('--serve')) {
  // The child of consoleRss: a probe with an empty store and its API, until killed.
  const dir = mkdtempSync(join(tmpdir(), 'pm-bench-web-rss-'));
  const probe = await Probe.start({ id: 'rss', dataDir: dir, connectors: [] });
  const served = await serve(createApi(probe, { tokens: [{ name: 'admin', role: 'admin', token: TOKEN }] }), { port: 0 });
  setInterval(gc, 100);
  process.once('SIGTERM', () => void served.close().then(() => probe.stop()).finally(() => (rmSync(dir, { recursive: true, force: true }), process.exit(0))));
  process.stdout.write(`${served.url}\n`);
  await new Promise(() => undefined);
}

// 1. What the first view downloads: the page, the entry script and its style sheet, gzipped.
const app = join(import.meta.dirname, '../packages/web/dist/app');
const html = readFileSync(join(app, 'index.html'), 'utf8');
const first = ['index.html', ...[...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!)];
// A file too small to gain from gzip is sent as it is.
const gz = (f: string) => statSync(join(app, `${f}.gz`), { throwIfNoEntry: false })?.size ?? statSync(join(app, f)).size;
const all = readdirSync(join(app, 'assets')).filter((f) => f.endsWith('.gz'));
emit({ metric: 'bundle_gzip_kb', value: round(first.reduce((s, f) => s + gz(f), 0) / 1024, 1), unit: 'KiB', files: first.length, all_chunks_kb: round(all.reduce((s, f) => s + statSync(join(app, 'assets', f)).size, 0) / 1024, 1), budget_kb: 150 });

// 2. A probe with 30 days of one series at one value every 10 s.
const dir = mkdtempSync(join(tmpdir(), 'pm-bench-web-'));
const to = Math.floor(Date.now() / 10_000) * 10_000;
const from = to - 30 * DAY;
progress('seeding 30 days at 10 s (259,200 values)');
const store = Store.open({ path: dir });
for (let start = from; start < to; start += 50_000 * 10_000) {
  const batch = [];
  for (let ts = start; ts < Math.min(to, start + 50_000 * 10_000); ts += 10_000) batch.push({ indicator: 'hall_temp', device: 'hall', ts, datum: 21 + 3 * Math.sin((2 * Math.PI * ts) / DAY) });
  await store.append(batch);
}
await store.close();
const probe = await Probe.start({ id: 'bench', dataDir: dir, connectors: [] }, { indicators: [{ id: 'hall_temp', kind: 'static', value: 21 }] });
const api = await serve(createApi(probe, { tokens: [{ name: 'admin', role: 'admin', token: TOKEN }] }), { port: 0 });
const get = async (qs: string) => {
  const res = await fetch(`${api.url}/query?${qs}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) throw new Error(`GET /query?${qs}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { buckets?: unknown[]; records?: unknown[]; next?: string };
};
const sel = `indicator=hall_temp&device=hall&from=${from}&to=${to}`;

try {
  // 3. The 30-day series as buckets against the same range as raw records, alternating.
  const reps = quick ? 3 : 7;
  const bucketMs: number[] = [];
  const rawMs: number[] = [];
  let buckets = 0;
  let records = 0;
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    buckets = (await get(`${sel}&mode=series&step=1h`)).buckets?.length ?? 0;
    bucketMs.push(performance.now() - t0);
    t0 = performance.now();
    records = 0;
    let cursor = '';
    do {
      const page = await get(`${sel}&limit=100000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      records += page.records?.length ?? 0;
      cursor = page.next ?? '';
    } while (cursor);
    rawMs.push(performance.now() - t0);
    progress(`round ${r + 1}: series ${bucketMs.at(-1)!.toFixed(1)} ms (${buckets} buckets), raw ${rawMs.at(-1)!.toFixed(0)} ms (${records} records)`);
  }
  const v = median(bucketMs);
  const b = median(rawMs);
  emit({ metric: 'series_30d_query_ms', value: round(v), unit: 'ms', baseline: round(b), ratio: round(b / v, 1), buckets, records, runs: reps, note: 'baseline = the same range read as raw records, every page, over HTTP' });

  // 4. What serving the console adds to a probe's resident memory (a probe process of its own).
  await consoleRss();

  // 5. In Chromium: the chart drawn from the response, and the first view after navigation.
  const browser = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(([token]) => {
      sessionStorage.setItem('probemesh.token', token!);
      sessionStorage.setItem('probemesh.role', 'admin');
      localStorage.setItem('probemesh.headline', 'hall_temp');
      // The first meaningful paint: the frame after the overview's headline card (value and sparklines) is in the DOM.
      new MutationObserver((_m, obs) => {
        if (!document.querySelector('.card[data-indicator] .big')) return;
        obs.disconnect();
        requestAnimationFrame(() => ((window as unknown as { firstView: number }).firstView = performance.now()));
      }).observe(document, { childList: true, subtree: true });
    }, [TOKEN]);
    const page = await ctx.newPage();
    const render: number[] = [];
    const view: number[] = [];
    for (let r = 0; r < (quick ? 5 : 15); r++) {
      await page.goto(`${api.url}/#/overview`);
      await page.waitForFunction(() => (window as unknown as { firstView?: number }).firstView !== undefined, undefined, { timeout: 30_000 });
      view.push(await page.evaluate(() => (window as unknown as { firstView: number }).firstView));
      await page.goto(`${api.url}/#/explorer?indicator=hall_temp&device=hall&range=custom&from=${from}&to=${to}`);
      await page.waitForSelector('#x-chart[data-render-ms]', { timeout: 30_000 });
      render.push(Number(await page.getAttribute('#x-chart', 'data-render-ms')));
    }
    emit({ metric: 'chart_render_ms', value: round(median(render)), unit: 'ms', p_max: round(Math.max(...render)), runs: render.length, points: buckets, note: 'response parsed → uPlot draw hook, 30-day series, in Chromium' });
    emit({ metric: 'first_view_ms', value: round(median(view), 1), unit: 'ms', runs: view.length, note: 'navigation start → frame after the overview\'s headline card (its value and last hour and day), loopback, warm cache' });
  } finally {
    await browser.close();
  }
} finally {
  await api.close();
  await probe.stop();
  rmSync(dir, { recursive: true, force: true });
}
