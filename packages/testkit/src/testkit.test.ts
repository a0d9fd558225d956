import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startNats, startSnmpd } from './index.js';

const run = promisify(execFile);

t.test('testkit — snmpd answers overrides over v2c and v3', async (t) => {
  const agent = await startSnmpd({
    users: [{ name: 'pm', level: 'authPriv', authProtocol: 'SHA', authKey: 'pmauthpass123', privProtocol: 'AES', privKey: 'pmprivpass123' }],
    overrides: [{ oid: '1.3.6.1.4.1.99999.1.0', type: 'integer', value: 42 }],
  });
  t.teardown(() => agent.stop());
  const v2 = await run('snmpget', ['-v2c', '-c', 'public', '-Oqv', agent.target, '1.3.6.1.4.1.99999.1.0']);
  t.equal(v2.stdout.trim(), '42');
  const v3 = await run('snmpget', ['-v3', '-l', 'authPriv', '-u', 'pm', '-a', 'SHA', '-A', 'pmauthpass123', '-x', 'AES', '-X', 'pmprivpass123', '-Oqv', agent.target, '1.3.6.1.2.1.1.6.0']);
  t.equal(v3.stdout.trim(), '"probemesh-test-rack"');
});

t.test('testkit — nats-server restarts on the same port', async (t) => {
  const s = await startNats();
  t.teardown(() => s.remove());
  t.match(s.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  await s.stop();
  const again = await s.restart();
  t.teardown(() => again.remove());
  t.equal(again.port, s.port);
});
