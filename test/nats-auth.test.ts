import t from 'tap';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { startProbeProcess } from './probe-process.js';

const cli = fileURLToPath(new URL('../packages/probe/dist/cli.js', import.meta.url));

t.test('probemesh nats-auth — per-probe nkeys and the server block: a probe process joins with its seed and publishes only under its own id', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const out = join(dir.path, 'auth');
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'nats-auth', '--probes', 'edge,site', '--nkeys', '--out', out]);
  t.match(stdout, /include users\.conf in the server's config/);
  t.equal((await stat(join(out, 'edge.yaml'))).mode & 0o777, 0o600, 'secrets only the owner reads');
  const users = await readFile(join(out, 'users.conf'), 'utf8');
  const edge = parse(await readFile(join(out, 'edge.yaml'), 'utf8')) as { nkeySeed: string };
  t.notMatch(users, edge.nkeySeed, 'the server gets public keys only');

  const nats = await startNats({ config: users }); // what include "users.conf" reads
  t.teardown(() => nats.remove());
  const operator = parse(await readFile(join(out, 'operator.yaml'), 'utf8')) as { nkeySeed: string };
  const { nkeyAuthenticator } = await import('@nats-io/transport-node');
  const ops = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(operator.nkeySeed)) });
  t.teardown(() => ops.close());
  const beats: string[] = [];
  ops.subscribe('pm.hb.*', { callback: (_e, m) => void beats.push(m.subject) });
  await ops.flush();

  await startProbeProcess(t.teardown, { id: 'edge', role: 'delegated', nats: { servers: [nats.url], ...edge } });
  await waitUntil('its heartbeat, signed in with its nkey', () => beats.includes('pm.hb.edge'), 20_000);
  t.pass('the probe process joined with the seed nats-auth wrote');

  const impostor = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(edge.nkeySeed)) });
  t.teardown(() => impostor.close());
  const errors: string[] = [];
  void (async () => {
    for await (const s of impostor.status()) if (s.type === 'error') errors.push(s.error.message);
  })();
  impostor.publish('pm.hb.site', 'forged');
  await impostor.flush();
  await waitUntil('refused', () => errors.length > 0, 5000);
  t.match(errors[0], /Permissions Violation for Publish to "?pm\.hb\.site/i, "edge's key cannot speak as site");
});
