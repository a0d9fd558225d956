import { buckets, configKey, jsApi, kv, streams, subjects } from '@probemesh/model';

/** A NATS user of the mesh: a probe (`user` is its id) or the operator, with a password or an nkey (its public key). */
export type MeshUser = { user: string; password: string } | { user: string; nkey: string };

const q = (s: string) => JSON.stringify(s);

/**
 * What a probe may publish, derived from the mesh's wire names: only under its own id (its alerts
 * go in on the ingest subject; `pm.alert.…` is published by the stream alone), plus queries to
 * others, replies, and the JetStream API it uses. With `jsDomain` (a probe on a leaf node) the API
 * subjects are those of that domain too.
 */
export function probePublishAllow(id: string, jsDomain?: string): string[] {
  const config = kv.stream(buckets.config);
  const api = (prefix: string) => [
    `${prefix}.INFO`,
    `${prefix}.STREAM.INFO.*`,
    `${prefix}.STREAM.NAMES`,
    ...[streams.alerts, streams.partials, config].map((s) => `${prefix}.STREAM.CREATE.${s}`),
    ...[streams.alerts, streams.partials].map((s) => `${prefix}.STREAM.UPDATE.${s}`), // limits set by a configured probe
    `${prefix}.STREAM.MSG.GET.${config}`,
    `${prefix}.DIRECT.GET.${config}.${kv.subject(buckets.config, configKey(id))}`,
    `${prefix}.CONSUMER.>`, // its coordinator consumers, its KV watcher
  ];
  return [
    subjects.alertIn('*', id, '>'),
    subjects.partial(id, '>'),
    subjects.heartbeat(id),
    subjects.queries, // asking other probes
    subjects.apis, // forwarding API requests to other probes
    '_INBOX.>', // answering queries, JetStream acks
    ...api(jsApi()),
    ...(jsDomain ? api(jsApi(jsDomain)) : []),
    '$JS.ACK.>',
    '$JS.FC.>',
  ];
}

/** What a probe may subscribe to: the mesh, its inboxes, and its own flashed configuration. */
export function probeSubscribeAllow(id: string): string[] {
  return [subjects.mesh, '_INBOX.>', kv.subject(buckets.config, configKey(id))];
}

/**
 * The nats-server `authorization` block for a mesh: one user per probe (a password or an nkey),
 * allowed to publish only under its own id, and an operator who may do anything (flash configs,
 * read every stream).
 */
export function natsAuthorization(probes: readonly MeshUser[], operator: MeshUser, jsDomain?: string): string {
  const who = (u: MeshUser) => ('nkey' in u ? `nkey: ${q(u.nkey)}` : `user: ${q(u.user)}, password: ${q(u.password)}`);
  const users = probes.map(
    (p) =>
      `    { ${who(p)}, permissions: { publish: { allow: [${probePublishAllow(p.user, jsDomain).map(q).join(', ')}] }, subscribe: { allow: [${probeSubscribeAllow(p.user).map(q).join(', ')}] } } }`,
  );
  users.push(`    { ${who(operator)} }`);
  return `authorization {\n  users: [\n${users.join(',\n')}\n  ]\n}\n`;
}
