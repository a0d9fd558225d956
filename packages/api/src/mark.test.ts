import t from 'tap';
import { Probe } from '@probemesh/runtime';
import { tempDir } from '@probemesh/testkit';
import { createApi, serve } from './index.js';

const READ = 'read-token-0123456789ab';

t.test('api — a value marked incomplete says so in /query records, /export NDJSON and CSV; a complete one does not', async (t) => {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const probe = await Probe.start({ id: 'site', dataDir: dir.path, connectors: [] });
  t.teardown(() => probe.stop());
  const server = await serve(createApi(probe, { tokens: [{ name: 'ro', role: 'read', token: READ }] }), { port: 0 });
  t.teardown(() => server.close());
  const T = 1_700_000_000_000;
  await probe.store.append([
    { indicator: 'pue', rule: 'site', ts: T, datum: 1.5 },
    { indicator: 'pue', rule: 'site', ts: T + 10_000, datum: 4, incomplete: true },
  ]);
  const get = async (path: string) => (await fetch(server.url + path, { headers: { authorization: `Bearer ${READ}` } })).text();
  t.same(JSON.parse(await get('/query?indicator=pue')).records, [
    { indicator: 'pue', rule: 'site', ts: T, datum: 1.5 },
    { indicator: 'pue', rule: 'site', ts: T + 10_000, datum: 4, incomplete: true },
  ]);
  t.same((await get('/export?indicator=pue&format=ndjson')).trimEnd().split('\n').map((l) => JSON.parse(l)).map((v) => v.incomplete ?? false), [false, true]);
  t.equal(
    await get('/export?indicator=pue&format=csv'),
    'ts,time,indicator,device,instance,rule,datum,incomplete\r\n1700000000000,2023-11-14T22:13:20.000Z,pue,,,site,1.5,\r\n1700000010000,2023-11-14T22:13:30.000Z,pue,,,site,4,true\r\n',
  );
});
