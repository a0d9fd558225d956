import { spawn, type ChildProcess } from 'node:child_process';

/** A child process started for a test, with its output kept for error messages. */
export interface Spawned {
  readonly child: ChildProcess;
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`); resolves when it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Kills it at once with SIGKILL (for crash tests). */
  kill(): Promise<void>;
}

/** Spawns `cmd`, keeping the last 64 KiB of its output. */
export function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
