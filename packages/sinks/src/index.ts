/** @probemesh/sinks — alert sinks operators already run: a signed JSON webhook and Prometheus Alertmanager. */
export * from './errors.js';
export type { HttpTargetOptions } from './post.js';
export * from './webhook.js';
export * from './alertmanager.js';
export * from './config.js';
