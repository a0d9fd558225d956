import { randomBytes } from 'node:crypto';
import { createUser } from '@nats-io/nkeys';
import type { NatsOptions } from '@probemesh/model';
import { natsAuthorization, type MeshUser } from './auth.js';

/** What a probe (or the operator) puts in its `nats` section to connect as itself. */
export type NatsCredential = Pick<NatsOptions, 'user' | 'pass' | 'nkeySeed'>;

/** Generated credentials of a mesh: one per probe and the operator's, and the server's authorization block. */
export interface MeshCredentials {
  /** The nats-server `authorization` block (include it in the server's config). */
  authorization: string;
  probes: Record<string, NatsCredential>;
  operator: NatsCredential;
}

/** A fresh credential: an nkey pair (the seed for the client, the public key for the server), or a random password. */
function generate(name: string, nkeys: boolean): { user: MeshUser; credential: NatsCredential } {
  if (!nkeys) {
    const password = randomBytes(18).toString('base64url');
    return { user: { user: name, password }, credential: { user: name, pass: password } };
  }
  const pair = createUser();
  return { user: { user: name, nkey: pair.getPublicKey() }, credential: { nkeySeed: new TextDecoder().decode(pair.getSeed()) } };
}

/**
 * Generates credentials for every probe of a mesh — per-probe nkeys (`nkeys: true`; the server
 * keeps only public keys) or random passwords — and the authorization block that lets each publish
 * only under its own id (`natsAuthorization`); the operator may do anything.
 */
export function meshCredentials(probes: readonly string[], opts: { nkeys?: boolean; operator?: string; jsDomain?: string } = {}): MeshCredentials {
  const made = probes.map((p) => ({ probe: p, ...generate(p, opts.nkeys ?? false) }));
  const operator = generate(opts.operator ?? 'operator', opts.nkeys ?? false);
  return {
    authorization: natsAuthorization(
      made.map((m) => m.user),
      operator.user,
      opts.jsDomain,
    ),
    probes: Object.fromEntries(made.map((m) => [m.probe, m.credential])),
    operator: operator.credential,
  };
}

/**
 * The files an operator hands out, by name: `users.conf` (the authorization block, for the
 * server's config: `include "users.conf"`), and `<probe>.yaml` / `operator.yaml` with what goes in
 * each one's `nats` section. All of them are secrets.
 */
export function credentialFiles(creds: MeshCredentials): Record<string, string> {
  const section = (who: string, c: NatsCredential) =>
    `# ${who}: put these lines in the nats section of its config, beside servers (a secret: keep this file private)\n` +
    Object.entries(c)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
      .join('');
  return {
    'users.conf': `# The mesh's NATS users: include "users.conf" in the server's config (deploy/nats/hub.conf).\n${creds.authorization}`,
    ...Object.fromEntries(Object.entries(creds.probes).map(([id, c]) => [`${id}.yaml`, section(`probe ${id}`, c)])),
    'operator.yaml': section('the operator (probemesh flash, probemesh alerts, nats CLI)', creds.operator),
  };
}
