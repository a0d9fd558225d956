/** @probemesh/runtime — the monitoring coordinator: rule actors, acquisition, calculated indicators, alerts. */
export * from './service.js';
export { Probe, checkEntities, type EntityProblem, type ProbeOptions, type Entities, type LogFn } from './probe.js';
export { Catalog } from './catalog.js';
export { AlertBook } from './alerts.js';
export { ConnectorRegistry } from './registry.js';
export { RuleActor, type RuleContext, type RuleCounters } from './rule-actor.js';
export { StoreWriter, type StoreHealth, type StoreWriterOptions } from './writer.js';
export { AlertOutbox, type AlertOutboxOptions, type SinkStats } from './outbox.js';
export { VERSION } from './version.js';
