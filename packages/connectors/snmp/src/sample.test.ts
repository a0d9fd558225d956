import t from 'tap';
import { checkSample } from '@probemesh/testkit';
import { MibResolver, snmpConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for this connector', async (t) => {
  const mibs = new MibResolver();
  for (const i of await checkSample(t, new URL('../sample.yaml', import.meta.url), [snmpConnector])) {
    t.match(mibs.resolve(String(i.params.oid)), /^1\.3\.6\.1(\.\d+)+$/, `indicator ${i.id} OID resolves`);
  }
});
