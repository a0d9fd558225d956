/** @probemesh/testkit — real servers on free loopback ports for tests and benchmarks. */
export * from './ports.js';
export * from './process.js';
export * from './snmpd.js';
export * from './nats.js';
export * from './conformance.js';
export * from './json-device.js';
export * from './agents.js';
export * from './sample.js';
