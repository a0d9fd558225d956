import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeUdpPort, tempDir } from './ports.js';
import { spawnLogged, waitUntil, type Spawned } from './process.js';

const run = promisify(execFile);

/** An SNMPv3 user of the test agent. */
export interface SnmpUser {
  name: string;
  level: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
  authProtocol?: 'MD5' | 'SHA' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';
  authKey?: string;
  privProtocol?: 'DES' | 'AES';
  privKey?: string;
}

/** A fixed value the agent answers with (snmpd `override`). */
export interface SnmpOverride {
  oid: string;
  type: 'integer' | 'uinteger' | 'unsigned' | 'counter' | 'counter64' | 'octet_str' | 'object_id' | 'ipaddress' | 'timeticks';
  value: string | number;
}

export interface SnmpdOptions {
  /** v1/v2c read-only communities (default: ["public"]). */
  communities?: string[];
  users?: SnmpUser[];
  overrides?: SnmpOverride[];
  /** More snmpd.conf lines. */
  extra?: string;
}

/** A real net-snmp agent on a free loopback UDP port. */
export interface Snmpd {
  host: string;
  port: number;
  /** "127.0.0.1:port", as the snmp command-line tools take it. */
  target: string;
  stop(): Promise<void>;
  process: Spawned;
}

/** Starts Debian's snmpd with a generated config; resolves once it answers a v2c/v3 GET. */
export async function startSnmpd(opts: SnmpdOptions = {}): Promise<Snmpd> {
  const dir = await tempDir('probemesh-snmpd-');
  const port = await freeUdpPort();
  const communities = opts.communities ?? ['public'];
  const lines = [
    `agentAddress udp:127.0.0.1:${port}`,
    ...communities.map((c) => `rocommunity ${c} 127.0.0.1`),
    ...(opts.users ?? []).flatMap((u) => [
      `createUser ${u.name}${u.authProtocol ? ` ${u.authProtocol} ${u.authKey}` : ''}${u.privProtocol ? ` ${u.privProtocol} ${u.privKey}` : ''}`,
      `rouser ${u.name} ${u.level === 'noAuthNoPriv' ? 'noauth' : u.level === 'authNoPriv' ? 'auth' : 'priv'}`,
    ]),
    ...(opts.overrides ?? []).map((o) => `override ${o.oid} ${o.type} ${o.type === 'octet_str' ? JSON.stringify(String(o.value)) : o.value}`),
    'sysLocation probemesh-test-rack',
    'sysContact probemesh@localhost',
    opts.extra ?? '',
  ];
  const conf = join(dir.path, 'snmpd.conf');
  await writeFile(conf, lines.join('\n') + '\n');
  const proc = spawnLogged(
    'snmpd',
    ['-f', '-Lo', '-C', '-c', conf, '-p', join(dir.path, 'snmpd.pid'), '-I', '-smux,mteTrigger,mteTriggerConf'],
    { ...process.env, SNMP_PERSISTENT_DIR: join(dir.path, 'persist'), MIBS: '' },
  );
  const target = `127.0.0.1:${port}`;
  const probeArgs = communities.length
    ? ['-v2c', '-c', communities[0]!]
    : (() => {
        const u = opts.users![0]!;
        return ['-v3', '-u', u.name, '-l', u.level, ...(u.authProtocol ? ['-a', u.authProtocol, '-A', u.authKey!] : []), ...(u.privProtocol ? ['-x', u.privProtocol, '-X', u.privKey!] : [])];
      })();
  try {
    await waitUntil(
      `snmpd on ${target}`,
      async () => {
        const { stdout } = await run('snmpget', [...probeArgs, '-t', '0.3', '-r', '0', '-On', target, '1.3.6.1.2.1.1.3.0']);
        return stdout.includes('1.3.6.1.2.1.1.3.0');
      },
      15_000,
      proc,
    );
  } catch (err) {
    await proc.stop();
    await dir.remove();
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    target,
    process: proc,
    async stop() {
      await proc.stop();
      await dir.remove();
    },
  };
}
