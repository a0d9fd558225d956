import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { messageOf } from '@probemesh/core';
import { check, NatsOptions } from '@probemesh/model';
import { MeshConfigError } from './errors.js';

/** A file the `nats` section names, or a `MeshConfigError` saying which setting names what cannot be read. */
function readSetting(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MeshConfigError(`cannot read ${setting} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err)}`, { cause: err });
  }
}

/**
 * nats.js connection options from a probe's `nats` section: user/password, token, nkey seed or a
 * creds file, and TLS (the files it names are read here: a missing one is a `MeshConfigError`).
 */
export function connectionOptions(n: NatsOptions): ConnectionOptions {
  const o = check(NatsOptions, n, 'nats options');
  const opts: ConnectionOptions = { servers: o.servers };
  if (o.user) Object.assign(opts, { user: o.user, pass: o.pass ?? '' });
  if (o.token) opts.token = o.token;
  if (o.nkeySeed) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed.trim()));
  if (o.creds) opts.authenticator = credsAuthenticator(new TextEncoder().encode(readSetting('the NATS creds file (nats.creds)', o.creds)));
  if (o.tls)
    opts.tls = {
      ...(o.tls.ca ? { ca: readSetting('nats.tls.ca', o.tls.ca) } : {}),
      ...(o.tls.cert ? { cert: readSetting('nats.tls.cert', o.tls.cert) } : {}),
      ...(o.tls.key ? { key: readSetting('nats.tls.key', o.tls.key) } : {}),
    };
  return opts;
}

/** Who a probe connects as, for messages: its user, or the credential it uses. */
export function credentialsOf(n: NatsOptions): string {
  if (n.user) return `user '${n.user}'`;
  if (n.token) return 'its token';
  if (n.nkeySeed) {
    try {
      return `nkey ${fromSeed(new TextEncoder().encode(n.nkeySeed.trim())).getPublicKey()}`;
    } catch {
      return 'an nkey seed that is not one';
    }
  }
  if (n.creds) return `the creds file ${n.creds}`;
  return 'a connection without credentials';
}

/** Connects with the probe's credentials; `extra` adds nats.js options (name, reconnect policy). */
export function natsConnect(n: NatsOptions, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ ...connectionOptions(n), ...extra });
}
