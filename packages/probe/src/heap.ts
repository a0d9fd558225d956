import { spawn } from 'node:child_process';
import { totalmem } from 'node:os';

const MiB = 2 ** 20;

/** The memory this process may use: its cgroup's limit when it has one (a container, a systemd MemoryMax=), else the machine's. */
export function memoryFound(): number {
  const constrained = process.constrainedMemory?.() ?? 0; // 2^64 when there is no limit
  return constrained > 0 ? Math.min(constrained, totalmem()) : totalmem();
}

/**
 * V8 limits fitted to `memoryBytes`: the old generation at half of it (64 MiB to 1 GiB), so V8
 * collects before the heap nears a cgroup's limit and does not grow an idle heap to gigabytes on a
 * large machine; semi-spaces of 1 MiB below 1 GiB, else 2 MiB (a probe's garbage dies young, and a
 * young generation of 16 MiB semi-spaces costs ~30 MiB of resident memory for little).
 */
export function heapFlags(memoryBytes: number): string[] {
  const old = Math.round(Math.min(1024, Math.max(64, memoryBytes / 2 / MiB)));
  return [`--max-old-space-size=${old}`, `--max-semi-space-size=${memoryBytes < 1024 * MiB ? 1 : 2}`];
}

/** Whether node already runs with heap limits: given by an operator (flags, NODE_OPTIONS) or set by `probemesh` itself. */
export function heapSet(execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const limit = /--max[-_](old|semi)[-_]space[-_]size/;
  return env.PROBEMESH_HEAP === 'off' || execArgv.some((a) => limit.test(a)) || limit.test(env.NODE_OPTIONS ?? '');
}

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
/** Tells the node `rerun` starts that it was started so (and not, say, forked by another program). */
const RERUN = 'PROBEMESH_RERUN';

/**
 * Runs this command again in a node started with `flags` (heap limits are set when V8 starts), and
 * ends as it ends: signals are passed on, its exit status is this process's. The child dies with
 * this process (its IPC channel closes), so a crash or a SIGKILL leaves nothing running.
 */
export function rerun(flags: readonly string[]): void {
  const child = spawn(process.execPath, [...flags, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RERUN]: '1' },
  });
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`probemesh: cannot start node with ${flags.join(' ')}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const sig of FORWARDED) process.removeAllListeners(sig);
      process.kill(process.pid, signal); // ends as the child ended: killed by the same signal
    }
    process.exit(code ?? 1);
  });
}

/** In the node `rerun` started: end at once (as if killed) when the process that started it is gone. */
export function followParent(): void {
  const rerun = process.env[RERUN] === '1';
  delete process.env[RERUN]; // not passed on to what the probe starts
  if (!rerun || !process.channel) return;
  process.channel.unref(); // the channel alone keeps nothing running
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
