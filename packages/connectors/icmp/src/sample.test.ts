import t from 'tap';
import { checkSample } from '@probemesh/testkit';
import { icmpConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for icmp', async (t) => {
  const atomic = await checkSample(t, new URL('../sample.yaml', import.meta.url), [icmpConnector]);
  t.ok(atomic.length > 0, 'has icmp indicators');
});
