/** @probemesh/model — the monitoring model and the wire contract as TypeBox schemas. */
export * from './errors.js';
export * from './common.js';
export * from './indicator.js';
export * from './device.js';
export * from './rule.js';
export * from './value.js';
export * from './alert.js';
export * from './query.js';
export * from './dryrun.js';
export * from './mesh.js';
export * from './config.js';
export * from './subjects.js';
export * from './forward.js';
export * from './validate.js';
export { Type, type Static, type TSchema, type TObject } from '@sinclair/typebox';
