import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { check, NatsOptions } from '@probemesh/model';

/** nats.js connection options from a probe's `nats` section: user/password, token, nkey seed or a creds file. */
export function connectionOptions(n: NatsOptions): ConnectionOptions {
  const o = check(NatsOptions, n, 'nats options');
  const opts: ConnectionOptions = { servers: o.servers };
  if (o.user) Object.assign(opts, { user: o.user, pass: o.pass ?? '' });
  if (o.token) opts.token = o.token;
  if (o.nkeySeed) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed.trim()));
  if (o.creds) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(o.creds);
    } catch (err) {
      throw new Error(`cannot read the NATS creds file ${o.creds}: ${(err as Error).message}`, { cause: err });
    }
    opts.authenticator = credsAuthenticator(creds);
  }
  return opts;
}

/** Who a probe connects as, for messages: its user, or the kind of credential it uses. */
export function credentialsOf(n: NatsOptions): string {
  if (n.user) return `user '${n.user}'`;
  if (n.token) return 'its token';
  if (n.nkeySeed) return 'its nkey';
  if (n.creds) return `the creds file ${n.creds}`;
  return 'a connection without credentials';
}

/** Connects with the probe's credentials; `extra` adds nats.js options (name, reconnect policy). */
export function natsConnect(n: NatsOptions, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ ...connectionOptions(n), ...extra });
}
