import { streams } from '@probemesh/model';

/** A NATS user of the mesh. */
export interface MeshUser {
  user: string;
  password: string;
}

const q = (s: string) => JSON.stringify(s);

/**
 * What a probe may publish: only under its own id, plus requests, replies and the JetStream API
 * it uses. With `jsDomain` (a probe on a leaf node) the API subjects are those of that domain too.
 */
export function probePublishAllow(id: string, jsDomain?: string): string[] {
  const allow = [
    `pm.alert.*.${id}.>`,
    `pm.partial.${id}.>`,
    `pm.value.${id}.>`,
    `pm.hb.${id}`,
    'pm.query.*', // asking other probes
    '_INBOX.>', // answering queries, JetStream acks
    '$JS.API.INFO',
    '$JS.API.STREAM.INFO.*',
    `$JS.API.STREAM.CREATE.${streams.alerts}`,
    `$JS.API.STREAM.CREATE.${streams.partials}`,
    '$JS.API.STREAM.CREATE.KV_pm_config',
    '$JS.API.STREAM.NAMES',
    '$JS.API.STREAM.MSG.GET.KV_pm_config',
    `$JS.API.DIRECT.GET.KV_pm_config.$KV.pm_config.probe.${id}`,
    '$JS.API.CONSUMER.>', // its coordinator consumer, its KV watcher
    '$JS.ACK.>',
    '$JS.FC.>',
  ];
  return jsDomain ? [...allow, ...allow.filter((s) => s.startsWith('$JS.API.')).map((s) => s.replace('$JS.API.', `$JS.${jsDomain}.API.`))] : allow;
}

/**
 * The nats-server `authorization` block for a mesh: one user per probe, allowed to publish only
 * under its own id, and an operator who may do anything (flash configs, read every stream).
 */
export function natsAuthorization(probes: readonly MeshUser[], operator: MeshUser, jsDomain?: string): string {
  const users = probes.map(
    (p) =>
      `    { user: ${q(p.user)}, password: ${q(p.password)}, permissions: { publish: { allow: [${probePublishAllow(p.user, jsDomain).map(q).join(', ')}] }, subscribe: { allow: ["pm.>", "_INBOX.>", "$KV.pm_config.probe.${p.user}"] } } }`,
  );
  users.push(`    { user: ${q(operator.user)}, password: ${q(operator.password)} }`);
  return `authorization {\n  users: [\n${users.join(',\n')}\n  ]\n}\n`;
}
