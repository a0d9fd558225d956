import t from 'tap';
import { checkSample } from '@probemesh/testkit';
import { pcapConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for pcap', async (t) => {
  const atomic = await checkSample(t, new URL('../sample.yaml', import.meta.url), [pcapConnector]);
  t.ok(atomic.length > 0, 'has pcap indicators');
});
