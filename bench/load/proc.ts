// What a load run reads about processes and cgroups (Linux /proc and /sys/fs/cgroup), and the
// statistics it reports.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The process that runs the probe started as `pid`: `probemesh probe` starts node again with heap
 * limits fitted to the memory it finds and waits for it (and wrappers such as `ip netns exec` or
 * `setpriv` may stand before it), so the probe is the last of a chain of only children.
 */
export function probePid(pid: number): number {
  for (let depth = 0; depth < 4; depth++) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    } catch {
      break;
    }
    if (children.length !== 1) break;
    pid = Number(children[0]);
  }
  return pid;
}

/** CPU seconds (user + system) a process has used; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

/** A process's resident memory now and at its peak, MiB (undefined once it is gone). */
export function memoryMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** The value below which a share `p` of `xs` lies (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))]!;
}

/** A cgroup limiting memory and CPU of the processes started in it. */
export interface Cgroup {
  /** The command line that runs `cmd args` inside the cgroup. */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Times the kernel's OOM killer ended a process of the cgroup. */
  oomKills(): number;
  /** The most memory the cgroup was charged (processes and their page cache), MiB. */
  peakMiB(): number;
  /** Kills what still runs in it and removes it. Idempotent. */
  remove(): void;
  readonly version: 1 | 2;
}

/** Why a cgroup cannot be made here, or undefined when it can. */
export function cgroupUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'making a cgroup needs root';
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const ctl = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8');
    return /\bmemory\b/.test(ctl) && /\bcpu\b/.test(ctl) ? undefined : `the cgroup v2 hierarchy has no memory and cpu controllers (${ctl.trim()})`;
  }
  return existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') && existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ? undefined : 'neither cgroup v2 nor the v1 memory and cpu controllers are mounted at /sys/fs/cgroup';
}

/**
 * Creates cgroup `name` with a memory limit and a CPU quota (`cpus` cores), cgroup v2 when the
 * machine has it, otherwise v1 (memory.limit_in_bytes, cpu.cfs_quota_us). Swap is limited too, so
 * the limit is one of memory, not of memory plus swap. A cgroup competes with the host's other
 * processes for CPU as one process would (each of its threads gets a share of one); its weight is
 * raised to the highest so that the quota, not a busy host, is what limits it.
 */
export function createCgroup(name: string, memoryBytes: number, cpus: number): Cgroup {
  const write = (file: string, v: string | number) => writeFileSync(file, String(v));
  const kill = (procs: string) => {
    for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };
  const until = (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) execFileSync('sleep', ['0.05']);
  };
  let removed = false;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const dir = join('/sys/fs/cgroup', name);
    mkdirSync(dir);
    write(join(dir, 'memory.max'), memoryBytes);
    if (existsSync(join(dir, 'memory.swap.max'))) write(join(dir, 'memory.swap.max'), 0);
    write(join(dir, 'cpu.max'), `${Math.round(cpus * 100_000)} 100000`);
    write(join(dir, 'cpu.weight'), 10_000);
    const events = () => readFileSync(join(dir, 'memory.events'), 'utf8');
    return {
      version: 2,
      wrap: (cmd, args) => ['sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh', cmd, ...args]],
      oomKills: () => Number(/^oom_kill (\d+)/m.exec(events())?.[1] ?? 0),
      peakMiB: () => (existsSync(join(dir, 'memory.peak')) ? Number(readFileSync(join(dir, 'memory.peak'), 'utf8')) / 2 ** 20 : NaN),
      remove() {
        if (removed || !existsSync(dir)) return;
        removed = true;
        kill(join(dir, 'cgroup.procs'));
        until(() => readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '');
        rmdirSync(dir);
      },
    };
  }
  const mem = join('/sys/fs/cgroup/memory', name);
  const cpu = join('/sys/fs/cgroup/cpu', name);
  mkdirSync(mem);
  mkdirSync(cpu);
  write(join(mem, 'memory.limit_in_bytes'), memoryBytes);
  if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) write(join(mem, 'memory.memsw.limit_in_bytes'), memoryBytes);
  write(join(cpu, 'cpu.cfs_period_us'), 100_000);
  write(join(cpu, 'cpu.cfs_quota_us'), Math.round(cpus * 100_000));
  write(join(cpu, 'cpu.shares'), 262_144);
  return {
    version: 1,
    wrap: (cmd, args) => ['sh', ['-c', `echo $$ > ${join(mem, 'cgroup.procs')} && echo $$ > ${join(cpu, 'cgroup.procs')} && exec "$@"`, 'sh', cmd, ...args]],
    oomKills: () => Number(/^oom_kill (\d+)/m.exec(readFileSync(join(mem, 'memory.oom_control'), 'utf8'))?.[1] ?? 0),
    peakMiB: () => Number(readFileSync(join(mem, 'memory.max_usage_in_bytes'), 'utf8')) / 2 ** 20,
    remove() {
      if (removed) return;
      removed = true;
      for (const dir of [mem, cpu]) {
        if (!existsSync(dir)) continue;
        kill(join(dir, 'cgroup.procs'));
        until(() => readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '');
        rmdirSync(dir);
      }
    },
  };
}
