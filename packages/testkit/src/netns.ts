import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnLogged, type Spawned } from './process.js';

const exec = promisify(execFile);

/** Every namespace this kit creates is named `probemesh-<owner pid>-<run>-<role>`. */
export const NETNS_PREFIX = 'probemesh-';
const OWNED = /^probemesh-(\d+)-\d+-/;

/** Runs `ip` with `args` (and `input` on stdin for `-batch -`); throws with ip's own message. */
export async function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Runs `cmd` inside namespace `ns` and returns its stdout. */
export async function inNetns(ns: string, cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec('ip', ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} in ${ns}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** Starts a long-running process inside namespace `ns` (its output kept for error messages). */
export function spawnInNetns(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  return spawnLogged('ip', ['netns', 'exec', ns, cmd, ...args], env);
}

/** The network namespaces of this machine, by name. */
export async function netnsList(): Promise<string[]> {
  return (await ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean).sort();
}

/**
 * Why this process cannot create network namespaces, or undefined when it can (it tries: root
 * alone is not enough in an unprivileged container).
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces are a Linux feature (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `network namespaces need root (running as uid ${process.getuid?.()})`;
  const probe = `${NETNS_PREFIX}${process.pid}-0-probe`;
  try {
    await ip(['netns', 'add', probe]);
    await ip(['netns', 'del', probe]);
    return undefined;
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes one namespace: stops what still runs in it (SIGKILL), then deletes it and its interfaces. */
async function removeNetns(ns: string): Promise<void> {
  const pids = (await ip(['netns', 'pids', ns]).catch(() => '')).split('\n').map(Number).filter((p) => p > 0);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await ip(['netns', 'del', ns]).catch(async (err: Error) => {
    if ((await netnsList()).includes(ns)) throw err;
  });
}

/** Removes namespaces left by runs whose owner process is gone (a crash, a SIGKILL); returns their names. */
export async function removeStaleNetns(): Promise<string[]> {
  const stale = (await netnsList()).filter((n) => {
    const m = OWNED.exec(n);
    return m !== null && !alive(Number(m[1]));
  });
  for (const n of stale) await removeNetns(n);
  return stale;
}

let runs = 0;

/** A set of namespaces created together and removed together. */
export interface NetnsGroup {
  /** `probemesh-<pid>-<run>-`: the name of every namespace of the group starts with it. */
  readonly prefix: string;
  /** Creates namespace `<prefix><role>` with loopback up and IPv6 off (no neighbour discovery or MLD chatter); returns its name. */
  add(role: string): Promise<string>;
  /** Runs `ip -n <ns> -batch -` with these commands (one `ip` command per line, without `ip`). */
  batch(ns: string, commands: string[]): Promise<void>;
  /** Sets sysctls (`key=value`) inside `ns`. */
  sysctl(ns: string, settings: string[]): Promise<void>;
  /** Every namespace created, in order. */
  readonly names: readonly string[];
  /** Stops what runs inside and deletes every namespace of the group (their interfaces go with them). Idempotent. */
  remove(): Promise<void>;
}

/**
 * Starts a group of network namespaces owned by this process, after removing the ones a crashed
 * run left behind. Nothing here touches the host's own interfaces or routes: links are created
 * inside the namespaces (`ip -n`), veth peers are moved straight into their namespace.
 */
export async function netnsGroup(): Promise<NetnsGroup> {
  await removeStaleNetns();
  const prefix = `${NETNS_PREFIX}${process.pid}-${++runs}-`;
  const names: string[] = [];
  const group: NetnsGroup = {
    prefix,
    names,
    async add(role) {
      const ns = `${prefix}${role}`;
      await ip(['netns', 'add', ns]);
      names.push(ns);
      await group.sysctl(ns, ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await group.batch(ns, ['link set lo up']);
      return ns;
    },
    batch: async (ns, commands) => void (await ip(['-n', ns, '-batch', '-'], commands.join('\n') + '\n')),
    sysctl: async (ns, settings) => void (await inNetns(ns, 'sysctl', ['-qw', ...settings])),
    async remove() {
      for (const ns of names.splice(0).reverse()) await removeNetns(ns);
    },
  };
  return group;
}
