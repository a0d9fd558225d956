// The HTTP API over TLS (http.tls in the probe config), with a certificate made at run time.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnLogged, tempDir, waitUntil } from '@probemesh/testkit';
import { READ, startProbeProcess } from './probe-process.js';

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1 and its key, in `dir`. */
async function certificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=probemesh-test', '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { cert, key };
}

/** A GET over HTTPS trusting `ca`; resolves with the status and body. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol: (res.socket as { getProtocol?: () => string }).getProtocol?.() ?? '' }));
    });
    req.once('error', reject);
    req.end();
  });
}

t.test('api tls — with http.tls the probe answers over HTTPS only, and tokens travel encrypted', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const tls = await certificate(dir.path);
  const ca = await readFile(tls.cert);
  const p = await startProbeProcess(t.teardown.bind(t), { http: { tls } });
  t.match(p.url, /^https:/);
  await waitUntil('the probe answers over HTTPS', async () => (await httpsGet(`${p.url}/health`, ca)).status === 200, 30_000, p.proc);
  const info = await httpsGet(`${p.url}/info`, ca, { authorization: `Bearer ${READ}` });
  t.equal(info.status, 200);
  t.equal(JSON.parse(info.body).id, 'abuse', 'a read token works over HTTPS');
  t.match(info.protocol, /^TLSv1\.[23]$/, `negotiated ${info.protocol}`);
  t.equal((await httpsGet(`${p.url}/info`, ca)).status, 401, 'and no token is still refused');
  await t.rejects(fetch(p.url.replace('https:', 'http:') + '/health', { signal: AbortSignal.timeout(10_000) }), 'plain HTTP gets no answer on the TLS port');
  await t.rejects(httpsGet(`${p.url}/health`, Buffer.from('')), 'a client that does not trust the certificate refuses it');
});

t.test('api tls — a key file that cannot be read stops the probe at start with the field and path named', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const tls = await certificate(dir.path);
  const file = join(dir.path, 'probe.json');
  await writeFile(file, JSON.stringify({ id: 'tls', dataDir: join(dir.path, 'data'), http: { port: 0, tls: { cert: tls.cert, key: join(dir.path, 'missing.pem') } } }));
  const proc = spawnLogged(process.execPath, [new URL('../packages/probe/dist/cli.js', import.meta.url).pathname, 'probe', '--config', file]);
  t.teardown(() => proc.stop());
  await waitUntil('the probe exits', () => proc.child.exitCode !== null, 30_000);
  t.not(proc.child.exitCode, 0);
  t.match(proc.output(), /http\.tls\.key: cannot read '.*missing\.pem'/);
});
