import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSnmpAgents } from './index.js';

const run = promisify(execFile);
const get = async (target: string, ...oids: string[]) => (await run('snmpget', ['-v2c', '-c', 'public', '-On', '-t', '2', target, ...oids])).stdout.trim().split('\n');

t.test('simulated agents — text and OID columns, scalars, counters that wrap, values that change', async (t) => {
  const sim = await startSnmpAgents([
    {
      tables: [
        {
          name: 'hrStorageEntry',
          entry: '1.3.6.1.2.1.25.2.3.1',
          columns: [
            { number: 2, type: 'oid', rows: { 1: '1.3.6.1.2.1.25.2.1.2' } },
            { number: 3, type: 'octets', rows: { 1: 'Physical memory' } },
            { number: 6, type: 'integer', rows: { 1: 2048 } },
          ],
        },
        { name: 'ifEntry', entry: '1.3.6.1.2.1.2.2.1', columns: [{ number: 10, type: 'counter32', rows: { 1: 2 ** 32 + 5 } }] },
      ],
      scalars: [{ name: 'upsOutputSource', oid: '1.3.6.1.2.1.33.1.4.1', type: 'integer', value: 3 }],
    },
  ]);
  t.teardown(() => sim.close());
  const a = sim.agents[0]!;
  t.equal(a.address, '127.0.0.1');
  const target = `127.0.0.1:${a.port}`;
  t.same(await get(target, '1.3.6.1.2.1.25.2.3.1.2.1', '1.3.6.1.2.1.25.2.3.1.3.1', '1.3.6.1.2.1.25.2.3.1.6.1', '1.3.6.1.2.1.2.2.1.10.1', '1.3.6.1.2.1.33.1.4.1.0'), [
    '.1.3.6.1.2.1.25.2.3.1.2.1 = OID: .1.3.6.1.2.1.25.2.1.2',
    '.1.3.6.1.2.1.25.2.3.1.3.1 = STRING: "Physical memory"',
    '.1.3.6.1.2.1.25.2.3.1.6.1 = INTEGER: 2048',
    '.1.3.6.1.2.1.2.2.1.10.1 = Counter32: 5',
    '.1.3.6.1.2.1.33.1.4.1.0 = INTEGER: 3',
  ]);
  a.setScalar('upsOutputSource', 5);
  a.set('ifEntry', 10, 1, 2 ** 33 + 7);
  t.same(await get(target, '1.3.6.1.2.1.2.2.1.10.1', '1.3.6.1.2.1.33.1.4.1.0'), ['.1.3.6.1.2.1.2.2.1.10.1 = Counter32: 7', '.1.3.6.1.2.1.33.1.4.1.0 = INTEGER: 5']);
});
