/** @probemesh/mesh — a probe's presence on NATS: alerts, heartbeats, membership, queries. */
export { MeshNode, type MeshOptions, type Member } from './node.js';
