/** @probemesh/mesh — a probe's presence on NATS: alerts, partials, merging, heartbeats, queries. */
export { MeshNode, type MeshOptions, type Member } from './node.js';
export { MergedWindows, meshConnector, type MergedWindow } from './merged.js';
export { flash, fetchConfig, watchConfig, bootBundle, configBucket } from './flash.js';
export { natsAuthorization, probePublishAllow, type MeshUser } from './auth.js';
export { natsConnect, connectionOptions } from './connect.js';
