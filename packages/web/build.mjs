// Builds the console into dist/app: one hashed JS and one hashed CSS bundle (esbuild), an
// index.html that names them, and a .br and .gz beside every file where that is smaller.
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const out = 'dist/app';
await rm(out, { recursive: true, force: true });
const result = await build({
  entryPoints: ['src/app/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  splitting: true,
  target: 'es2022',
  platform: 'browser',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint);
const js = entry[0].slice(entry[0].indexOf('/assets/'));
const css = entry[1].cssBundle.slice(entry[1].cssBundle.indexOf('/assets/'));
// The chunks the entry imports statically are announced at once, not found one round-trip later.
const preload = entry[1].imports.filter((i) => i.kind === 'import-statement').map((i) => `<link rel="modulepreload" href="${i.path.slice(i.path.indexOf('/assets/'))}">`);
const html = (await readFile('src/app/index.html', 'utf8')).replace('<!--head-->', [`<link rel="stylesheet" href="${css}">`, ...preload, `<script type="module" src="${js}"></script>`].join(''));
await writeFile(join(out, 'index.html'), html);

const files = [join(out, 'index.html'), ...(await readdir(join(out, 'assets'))).map((f) => join(out, 'assets', f))];
for (const f of files) {
  const raw = await readFile(f);
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  const gz = gzipSync(raw, { level: 9 });
  if (br.length < raw.length) await writeFile(`${f}.br`, br);
  if (gz.length < raw.length) await writeFile(`${f}.gz`, gz);
}
