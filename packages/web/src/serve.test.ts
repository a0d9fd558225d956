import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, gunzipSync, gzipSync, brotliDecompressSync } from 'node:zlib';
import { Hono } from 'hono';
import { tempDir } from '@probemesh/testkit';
import { consoleHandler, CONSOLE_PATHS } from './index.js';

/** A built console in a temp dir: a page and one hashed script, each with its .br and .gz. */
async function built(): Promise<{ dir: string; js: string; remove(): Promise<void> }> {
  const d = await tempDir();
  await mkdir(join(d.path, 'assets'));
  const js = `console.log(${JSON.stringify('x'.repeat(2000))});`;
  const files: Record<string, string> = { 'index.html': '<!doctype html><title>probemesh</title><script type="module" src="/assets/main-ABC123.js"></script>', 'assets/main-ABC123.js': js };
  for (const [name, body] of Object.entries(files)) {
    await writeFile(join(d.path, name), body);
    await writeFile(join(d.path, `${name}.br`), brotliCompressSync(body));
    await writeFile(join(d.path, `${name}.gz`), gzipSync(body));
  }
  return { dir: d.path, js, remove: d.remove };
}

t.test('console handler — the page never cached without asking, hashed assets immutable, brotli or gzip by Accept-Encoding', async (t) => {
  const b = await built();
  t.teardown(() => b.remove());
  const app = new Hono();
  const handler = consoleHandler({ dir: b.dir });
  for (const p of CONSOLE_PATHS) app.get(p, handler);

  const page = await app.request('/', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
  t.equal(page.status, 200);
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(page.headers.get('cache-control'), 'no-cache', 'the page is revalidated on every load, so a new build is picked up');
  t.equal(page.headers.get('content-encoding'), 'br', 'brotli preferred');
  t.match(page.headers.get('content-security-policy'), /default-src 'self'.*connect-src 'self'/, 'the page may talk only to its own probe');
  t.match(brotliDecompressSync(Buffer.from(await page.arrayBuffer())).toString(), '/assets/main-ABC123.js');

  const again = await app.request('/', { headers: { 'if-none-match': page.headers.get('etag')! } });
  t.equal(again.status, 304, 'a reload with the same build costs a 304');

  const gz = await app.request('/assets/main-ABC123.js', { headers: { 'accept-encoding': 'gzip' } });
  t.equal(gz.headers.get('content-encoding'), 'gzip');
  t.equal(gz.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed assets are cached for good');
  t.equal(gz.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.equal(gz.headers.get('vary'), 'accept-encoding');
  t.equal(gunzipSync(Buffer.from(await gz.arrayBuffer())).toString(), b.js, 'the gzip body is the file');

  const refused = await app.request('/assets/main-ABC123.js', { headers: { 'accept-encoding': 'br;q=0, gzip;q=0' } });
  t.equal(refused.headers.get('content-encoding'), null, 'q=0 refuses an encoding');
  t.equal(await refused.text(), b.js, 'identity when nothing else is accepted');
  t.equal((await app.request('/assets/main-ABC123.js')).headers.get('content-encoding'), null, 'no Accept-Encoding: identity');

  const missing = await app.request('/assets/nope-000.js');
  t.equal(missing.status, 404, 'an asset it does not have is a 404');
  t.equal(await missing.text(), 'no such file /assets/nope-000.js');
});
