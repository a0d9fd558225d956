import t from 'tap';
import { checkSample } from '@probemesh/testkit';
import { httpConnector, restConnector } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for http and rest', async (t) => {
  const atomic = await checkSample(t, new URL('../sample.yaml', import.meta.url), [httpConnector, restConnector]);
  t.ok(atomic.length > 0, 'has http or rest indicators');
});
