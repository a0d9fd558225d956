#!/usr/bin/env node
// Builds the capture addon with node-gyp against the running Node's own headers (no download:
// Debian's nodejs and the official tarballs ship them in <prefix>/include/node), then copies it
// into dist/ so turbo's cache restores it with the JS.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const prefix = resolve(dirname(process.execPath), '..');
if (!existsSync(join(prefix, 'include/node/node_api.h'))) {
  console.error(`pcap: Node headers not found in ${prefix}/include/node (install the nodejs headers, e.g. Debian's libnode-dev)`);
  process.exit(1);
}
if (!existsSync('/usr/include/pcap/pcap.h')) {
  console.error('pcap: libpcap headers not found: apt-get install libpcap-dev (deploy/bootstrap does)');
  process.exit(1);
}
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
execFileSync(process.execPath, [gyp, 'rebuild', '--loglevel=warn', `--nodedir=${prefix}`], { stdio: 'inherit' });
mkdirSync('dist', { recursive: true });
copyFileSync('build/Release/capture.node', 'dist/capture.node');
