import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { subjects } from '@probemesh/model';
import { startNats, tempDir, waitUntil } from '@probemesh/testkit';
import { MeshConfigError, MeshNode, meshCredentials } from './index.js';
import { testProbe } from './probe.fixture.js';

const openssl = async (cwd: string, ...args: string[]) => void (await promisify(execFile)('openssl', args, { cwd }));

/** A CA made for this test, and a server certificate it signed for 127.0.0.1. */
async function certificates(t: Test) {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir.path, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=probemesh test CA');
  await openssl(dir.path, 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(join(dir.path, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(dir.path, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.cnf');
  return { ca: join(dir.path, 'ca.pem'), cert: join(dir.path, 'server.pem'), key: join(dir.path, 'server.key') };
}

const probe = (t: Test, id: string) => testProbe(t, id, { alerting: true });

t.test('secure transport — TLS with a CA made here and generated per-probe nkeys: a probe joins and alerts under its own id, and only there', async (t) => {
  const tls = await certificates(t);
  const creds = meshCredentials(['edge', 'core'], { nkeys: true });
  t.match(creds.probes.edge, { nkeySeed: /^SU[A-Z2-7]{56}$/ }, 'each probe gets an nkey seed');
  t.notMatch(creds.authorization, creds.probes.edge!.nkeySeed!, 'the server keeps public keys only');
  const nats = await startNats({ config: `tls { cert_file: ${JSON.stringify(tls.cert)}, key_file: ${JSON.stringify(tls.key)} }\n${creds.authorization}` });
  t.teardown(() => nats.remove());

  const ops = await connect({ servers: nats.url, tls: { caFile: tls.ca }, authenticator: (await import('@nats-io/transport-node')).nkeyAuthenticator(new TextEncoder().encode(creds.operator.nkeySeed!)) });
  t.teardown(() => ops.close());
  const got: string[] = [];
  ops.subscribe(subjects.alerts, { callback: (_e, m) => void got.push(m.subject) });
  await ops.flush();

  const edge = await probe(t, 'edge');
  const node = await MeshNode.start({ id: 'edge', role: 'delegated', nats: { servers: [nats.url], ...creds.probes.edge, tls: { ca: tls.ca } } }, edge);
  t.teardown(() => node.stop());
  await edge.tickNow('hot');
  await waitUntil('the alert over TLS', () => got.includes(subjects.alert('critical', 'edge', 'hot')), 15_000);
  t.pass('edge published its alert over TLS, authenticated by its nkey');

  // Another probe's key cannot speak as edge.
  const core = await connect({ servers: nats.url, tls: { caFile: tls.ca }, authenticator: (await import('@nats-io/transport-node')).nkeyAuthenticator(new TextEncoder().encode(creds.probes.core!.nkeySeed!)) });
  t.teardown(() => core.close());
  const errors: string[] = [];
  void (async () => {
    for await (const s of core.status()) if (s.type === 'error') errors.push(s.error.message);
  })();
  core.publish(subjects.alertIn('critical', 'edge', 'hot'), 'forged');
  await core.flush();
  await waitUntil('refused', () => errors.length > 0, 5000);
  t.match(errors[0], /Permissions Violation for Publish to "?pm\.in\.alert\.critical\.edge\.hot/i);
});

t.test('secure transport — a server certificate the probe cannot verify, or a key the server does not know, stops it with what to fix', async (t) => {
  const tls = await certificates(t);
  const creds = meshCredentials(['edge'], { nkeys: true });
  const nats = await startNats({ config: `tls { cert_file: ${JSON.stringify(tls.cert)}, key_file: ${JSON.stringify(tls.key)} }\n${creds.authorization}` });
  t.teardown(() => nats.remove());
  const edge = await probe(t, 'edge');
  const quiet = () => undefined;

  const noCa = MeshNode.start({ id: 'edge', role: 'delegated', nats: { servers: [nats.url], ...creds.probes.edge }, log: quiet }, edge);
  await t.rejects(noCa, MeshConfigError);
  await noCa.catch((err: Error) => t.match(err.message, /TLS failed for probe 'edge' .*check nats\.tls/));

  const stranger = meshCredentials(['edge'], { nkeys: true }).probes.edge!;
  const wrongKey = MeshNode.start({ id: 'edge', role: 'delegated', nats: { servers: [nats.url], ...stranger, tls: { ca: tls.ca } }, log: quiet }, edge);
  await t.rejects(wrongKey, MeshConfigError);
  await wrongKey.catch((err: Error) => t.match(err.message, /refused nkey U[A-Z2-7]{55} of probe 'edge'/));

  const missing = MeshNode.start({ id: 'edge', role: 'delegated', nats: { servers: [nats.url], ...creds.probes.edge, tls: { ca: '/nonexistent/ca.pem' } }, log: quiet }, edge);
  await t.rejects(missing, { name: 'MeshConfigError', message: 'cannot read nats.tls.ca /nonexistent/ca.pem: no such file' });
});
