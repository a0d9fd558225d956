import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { onExit } from 'signal-exit';

/** A child process started for a test, with its output kept for error messages. */
export interface Spawned {
  readonly child: ChildProcess;
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`); resolves when it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Kills it at once with SIGKILL (for crash tests). */
  kill(): Promise<void>;
}

/** Children spawned here that are still running. */
const running = new Set<ChildProcess>();
let reaping = false;

/**
 * Kills `child` if this process ends first, so a test that never reaches its teardown leaves no
 * server behind: on exit, and on a signal that ends this process — SIGTERM, SIGINT, SIGHUP, and
 * SIGALRM, which tap sends a test file at its timeout. `signal-exit` (tap's own) hooks them: it lets
 * every hook run before the process ends by the same signal, whoever else listens. Returns `child`.
 */
export function reapOnExit(child: ChildProcess): ChildProcess {
  if (child.exitCode !== null || child.signalCode !== null) return child;
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!reaping) {
    reaping = true;
    onExit(() => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  return child;
}

/**
 * Hooks run only while this process's event loop does: a SIGKILL, or a loop held busy until tap's
 * last resort (SIGKILL), skips them. Where util-linux's `setpriv` is found, children are also
 * started with the parent-death signal, so the kernel kills them when this process dies, however.
 */
const SETPRIV = (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'setpriv')));

/** Spawns `cmd`, keeping the last 64 KiB of its output; it dies with this process (see `reapOnExit`). */
export function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  // setpriv sets the signal, then execs `cmd` in the same process: the pid is cmd's.
  const [file, argv] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
  const child = reapOnExit(spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (e) => keep(Buffer.from(`\nspawn error: ${e.message}\n`)));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once('exit', () => resolve());
  });
  const signal = async (sig: NodeJS.Signals, graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  };
  return {
    child,
    output: () => out,
    stop: (graceMs = 3000) => signal('SIGTERM', graceMs),
    kill: () => signal('SIGKILL', 0),
  };
}

/** Polls `ready` until it returns true, or throws after `timeoutMs` with `what` and the process output. */
export async function waitUntil(what: string, ready: () => Promise<boolean> | boolean, timeoutMs = 10_000, proc?: Spawned): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: process exited with ${proc.child.exitCode}\n${proc.output()}`);
    try {
      if (await ready()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > end) throw new Error(`${what}: not ready after ${timeoutMs} ms\n${proc?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
