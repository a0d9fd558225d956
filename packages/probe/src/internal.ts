/** @probemesh/probe/internal — for sibling packages and the repository's tests only. */
export { count, untilSignal } from './options.js';
export { configJsonSchema, configReference } from './reference.js';
