/** @probemesh/testkit — real servers on free loopback ports for tests and benchmarks. */
export * from './ports.js';
export * from './process.js';
export * from './snmpd.js';
export * from './nats.js';
export * from './conformance.js';
export * from './json-device.js';
export * from './agents.js';
export * from './sample.js';
export * from './netns.js';
export * from './remote.js';
export * from './frames.js';
export * from './traffic.js';
export * from './web.js';
export * from './switch.js';
export * from './forward.js';
export * from './lan.js';
export * from './cluster.js';
