import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';

/** Where the console is served: the page at `/`, its hashed files under `/assets/`. */
export const CONSOLE_PATHS = ['/', '/assets/:file'] as const;

/** Options of {@link consoleHandler}. */
export interface ConsoleOptions {
  /** The built console (default: this package's `dist/app`). */
  dir?: string;
}

interface Asset {
  type: string;
  etag: string;
  /** Bodies by content-encoding ('' = identity); a compressed one only where it is smaller. */
  bodies: Map<string, ArrayBuffer>;
}

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

// The page loads only its own files and talks only to the probe it came from.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** A file's bytes as their own ArrayBuffer (a Response body in every lib's types). */
const bytes = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Reads the built console once: a few hundred KiB kept in memory, so a request touches no disk. */
function load(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (name: string, path: string) => {
    const raw = readFileSync(path);
    const bodies = new Map<string, ArrayBuffer>([['', bytes(raw)]]);
    for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']] as const) if (existsSync(path + ext)) bodies.set(enc, bytes(readFileSync(path + ext)));
    const ext = path.slice(path.lastIndexOf('.') + 1);
    assets.set(name, { type: types[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`, bodies });
  };
  add('/', join(dir, 'index.html'));
  const assetDir = join(dir, 'assets');
  for (const f of readdirSync(assetDir)) if (!f.endsWith('.gz') && !f.endsWith('.br')) add(`/assets/${f}`, join(assetDir, f));
  return assets;
}

/** The encodings the client takes, in our order of preference (brotli is smaller than gzip). */
function accepted(header: string | undefined): string[] {
  const given = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name) given.set(name, q === undefined ? 1 : Number(q));
  }
  const ok = (e: string) => (given.get(e) ?? given.get('*') ?? 0) > 0;
  return ['br', 'gzip'].filter(ok);
}

/**
 * A hono handler serving the console at {@link CONSOLE_PATHS}: `index.html` with `no-cache` (and
 * an ETag, so a reload costs a 304), hashed assets with `immutable`, each precompressed body
 * chosen by `Accept-Encoding`. Files are read on the first request.
 */
export function consoleHandler(opts: ConsoleOptions = {}): (c: Context) => Response {
  const dir = opts.dir ?? fileURLToPath(new URL('./app/', import.meta.url));
  let assets: Map<string, Asset> | undefined;
  return (c) => {
    assets ??= load(dir);
    const asset = assets.get(c.req.path);
    if (!asset) return c.text(`no such file ${c.req.path}`, 404);
    const page = c.req.path === '/';
    const headers: Record<string, string> = {
      'content-type': asset.type,
      'cache-control': page ? 'no-cache' : 'public, max-age=31536000, immutable',
      etag: asset.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      ...(page ? { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' } : {}),
    };
    if (c.req.header('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
    const enc = accepted(c.req.header('accept-encoding')).find((e) => asset.bodies.has(e));
    if (enc) headers['content-encoding'] = enc;
    const body = asset.bodies.get(enc ?? '')!;
    return new Response(c.req.method === 'HEAD' ? null : body, { headers });
  };
}
