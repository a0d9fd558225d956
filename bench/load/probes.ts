// Probe processes of a load run: started from a config (optionally inside a cgroup), asked over
// their HTTP API for what they stored and how long their ticks took.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeConfig, RuleState } from '@probemesh/model';
import { cli, writeConfig } from '@probemesh/demo';
import { spawnLogged, waitUntil, type Spawned } from '@probemesh/testkit';
import { probePid, type Cgroup } from './proc.js';

/** A `probemesh probe` process. */
export interface ProbeProcess {
  id: string;
  url: string;
  proc: Spawned;
  /** The probe's own process (not the launcher that waits for it): its memory and CPU are read from /proc. */
  pid: number;
  /** Whether it has ended (and how), undefined while it runs. */
  ended(): string | undefined;
}

/** Node flags for the probe processes of a run, e.g. PROBEMESH_BENCH_NODE="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const nodeFlags = (process.env.PROBEMESH_BENCH_NODE ?? '').split(' ').filter(Boolean);

/** Writes `config` to `<dir>/<id>.yaml` and runs `probemesh probe` on it (inside `cgroup` when given); resolves once /health answers. */
export async function launchProbe(config: ProbeConfig, dir: string, cgroup?: Cgroup): Promise<ProbeProcess> {
  await mkdir(dir, { recursive: true });
  const file = await writeConfig(join(dir, `${config.id}.yaml`), config, 'a probe of a load run');
  const argv = [...nodeFlags, cli, 'probe', '--config', file];
  const [cmd, args] = cgroup ? cgroup.wrap(process.execPath, argv) : [process.execPath, argv];
  const proc = spawnLogged(cmd, args);
  const url = `http://${config.http?.host ?? '127.0.0.1'}:${config.http!.port}`;
  await waitUntil(`probe ${config.id} answering on ${url}`, async () => (await fetch(`${url}/health`)).ok, 120_000, proc);
  return {
    id: config.id,
    url,
    pid: probePid(proc.child.pid!),
    proc,
    ended: () => (proc.child.exitCode !== null ? `exited with ${proc.child.exitCode}` : proc.child.signalCode ? `killed by ${proc.child.signalCode}` : undefined),
  };
}

/** GET `path` of a probe's API as JSON. */
export async function getJson<T>(p: ProbeProcess, token: string, path: string): Promise<T> {
  const res = await fetch(`${p.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${p.id} ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Values of `indicator` a probe stored with timestamps in [from, to). */
export async function stored(p: ProbeProcess, token: string, indicator: string, from: number, to: number): Promise<number> {
  return (await getJson<{ count: number }>(p, token, `/query?indicator=${indicator}&mode=count&from=${from}&to=${to}`)).count;
}

/** Collects the duration of each tick of `rule` (once per tick) from the probes' /rules/states. */
export class TickDurations {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly token: string,
    private readonly rule: string,
  ) {}

  async sample(probes: readonly ProbeProcess[], from: number): Promise<void> {
    await Promise.all(
      probes.map(async (p) => {
        const s = (await getJson<RuleState[]>(p, this.token, '/rules/states')).find((r) => r.rule === this.rule);
        if (s?.lastTick !== undefined && s.tickMs !== undefined && s.lastTick >= from) this.seen.set(`${p.id}@${s.lastTick}`, s.tickMs);
      }),
    );
  }

  /** Every tick duration seen, ms. */
  get values(): number[] {
    return [...this.seen.values()];
  }
}

/** Resolves at `t` (epoch ms). */
export const until = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
