/** @probemesh/core — actors, supervisor, clock, back-off, errors and the connector plugin interface. */
export * from './clock.js';
export * from './abort.js';
export * from './backoff.js';
export * from './errors.js';
export * from './actor.js';
export * from './supervisor.js';
export * from './connector.js';
export * from './sink.js';
export * from './listen.js';
