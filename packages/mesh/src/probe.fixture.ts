// Shared by the mesh's tests (not built into the package).
import type { Test } from 'tap';
import { Probe } from '@probemesh/runtime';
import { tempDir } from '@probemesh/testkit';
import { meshConnector, type MergedWindows } from './merged.js';

/**
 * A real probe in a temp dir, both gone at teardown. With `merged` it reads those windows through
 * the `mesh` connector; with `alerting`, its rule `hot` fires at its first tick (temp 41 > 40) and
 * stores temp_f each tick.
 */
export async function testProbe(t: Test, id: string, opts: { merged?: MergedWindows; alerting?: boolean } = {}): Promise<Probe> {
  const dir = await tempDir();
  t.teardown(() => dir.remove());
  const p = await Probe.start({ id, dataDir: dir.path, connectors: opts.merged ? [meshConnector(opts.merged)] : [] });
  t.teardown(() => p.stop());
  opts.merged?.attach(p.store);
  if (opts.alerting) {
    await p.put('indicators', { id: 'temp', kind: 'static', value: 41 });
    await p.put('indicators', { id: 'temp_f', kind: 'calculated', formula: 'temp * 1.8 + 32' });
    await p.put('rules', { id: 'hot', indicators: ['temp', 'temp_f'], period: '1h', decisions: [{ id: 'over', when: 'temp > 40', severity: 'critical' }] });
  }
  return p;
}
