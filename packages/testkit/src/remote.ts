import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Messages between a parent and a process it runs an object in. */
export type RemoteRequest = { type: 'start'; module: string; export: string; args: unknown } | { type: 'call'; id: number; method: string; args: unknown[] } | { type: 'stop' };
export type RemoteReply = { type: 'ready'; methods: string[] } | { type: 'result'; id: number; value?: unknown; error?: string } | { type: 'failed'; error: string };

/** An object living in another process: each method answers with a promise. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
} & {
  /** The process the object lives in (pid, for `ip netns pids` checks). */
  readonly child: ChildProcess;
  /** Calls the object's own `stop()` if it has one, then ends the process. Idempotent. */
  close(): Promise<void>;
};

// The compiled entry, also when this file runs from src/ (tests).
const main = fileURLToPath(new URL('../dist/remote-main.js', import.meta.url));

/**
 * Runs `factory(args)` — a named export of `module` (a file URL or package name) that returns an
 * object — in a new Node process, inside network namespace `ns` when given, and returns a proxy
 * whose methods are called over IPC. Arguments and results travel as JSON. The process ends
 * when the parent's IPC channel closes, so nothing outlives its parent.
 */
export async function startRemote<T extends object>(opts: { module: string; export: string; args?: unknown; ns?: string; name?: string }): Promise<Remote<T>> {
  const node = [process.execPath, main];
  const child = opts.ns ? spawn('ip', ['netns', 'exec', opts.ns, ...node], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }) : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const name = opts.name ?? `${opts.export}${opts.ns ? ` in ${opts.ns}` : ''}`;
  let log = '';
  const keep = (b: Buffer) => (log = (log + b.toString()).slice(-16384));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`${name}: process exited\n${log}`));
    pending.clear();
  });
  const methods = await new Promise<string[]>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`${name}: ${e.message}`, { cause: e })));
    void exited.then(() => reject(new Error(`${name}: process exited before it was ready (code ${child.exitCode})\n${log}`)));
    child.on('message', (m: RemoteReply) => {
      switch (m.type) {
        case 'ready':
          return resolve(m.methods);
        case 'failed':
          return reject(new Error(`${name}: ${m.error}\n${log}`));
        case 'result': {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.error !== undefined) p?.reject(new Error(`${name}: ${m.error}`));
          else p?.resolve(m.value);
          return;
        }
      }
    });
    child.send({ type: 'start', module: opts.module, export: opts.export, args: opts.args ?? {} } satisfies RemoteRequest);
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const call = (method: string, args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name}: process is gone\n${log}`));
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ type: 'call', id, method, args } satisfies RemoteRequest);
    });
  let closing: Promise<void> | undefined;
  const remote: Record<string, unknown> = {
    child,
    close: () =>
      (closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.send({ type: 'stop' } satisfies RemoteRequest);
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      })()),
  };
  for (const m of methods) if (m !== 'close') remote[m] = (...args: unknown[]) => call(m, args);
  return remote as Remote<T>;
}
