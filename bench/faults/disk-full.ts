// A scenario of `npm run bench -- faults`: how long a probe takes to store values again after its
// full disk gets space back. A real probe process on a 32 MiB tmpfs (root only: it is mounted and
// unmounted here) with a rule storing 200 kB every 250 ms; the tmpfs is filled until both rules are
// `store-unavailable`, then freed; `recovery_s` runs from freeing to every rule running again (the
// held values written). The write back-off grows to 10 s, so this is at most about that.
import { diskFullScenario } from '../../test/disk-full.js';

/** Runs the scenario; returns its bench lines. */
export async function run(opts: { quick: boolean }): Promise<Array<Record<string, unknown>>> {
  void opts; // one pass either way: the scenario takes some 20 s
  if (process.getuid?.() !== 0) return [{ bench: 'faults', metric: 'recovery_s_after_disk_full', value: null, unit: 's', note: 'skipped: mounting a tmpfs needs root' }];
  const undo: Array<() => unknown> = [];
  try {
    process.stderr.write('faults disk-full: a probe on a 32 MiB tmpfs, filled, then freed\n');
    const r = await diskFullScenario((fn) => undo.push(fn));
    const lost = Object.entries(r.before).reduce((n, [k, v]) => n + Math.max(0, v - (r.after[k] ?? 0)), 0);
    return [
      {
        bench: 'faults',
        metric: 'recovery_s_after_disk_full',
        value: Number(r.recoveryS.toFixed(2)),
        unit: 's',
        alerts: r.alerts.map((a) => a.state).join(','),
        committed_values_lost: lost,
        process_alive: r.alive,
      },
    ];
  } finally {
    for (const fn of undo.reverse()) await fn();
  }
}
