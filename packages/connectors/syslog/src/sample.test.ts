import t from 'tap';
import { checkSample } from '@probemesh/testkit';
import { compileFilter, syslogConnector, type SyslogParams } from './index.js';

t.test('sample — sample.yaml is a valid probe config fragment for syslog', async (t) => {
  for (const i of await checkSample(t, new URL('../sample.yaml', import.meta.url), [syslogConnector])) {
    t.doesNotThrow(() => compileFilter(i.params as SyslogParams), `indicator ${i.id} filters compile`);
  }
});
