/** @probemesh/mesh — a probe's presence on NATS: alerts, partials, merging, heartbeats, queries, flash. */
export { MeshNode, type MeshOptions, type Member } from './node.js';
export { MergedWindows, meshConnector, MeshStat, type Judge, type Judged } from './merged.js';
export { type PartialsOptions } from './sender.js';
export { type StreamSettings } from './streams.js';
export { type LinkState } from './link.js';
export { MeshChildFailedError, MeshConfigError, MeshUnavailableError, ProbeUnreachableError, meshErrors } from './errors.js';
export { flash, fetchFlashed, bootBundle, configBucket } from './flash.js';
export { natsAuthorization, probePublishAllow, type MeshUser } from './auth.js';
export { natsConnect, connectionOptions } from './connect.js';
export type { MergedWindow } from '@probemesh/model';
export { meshCredentials, credentialFiles, type MeshCredentials, type NatsCredential } from './credentials.js';
export { meshSettings } from './settings.js';
