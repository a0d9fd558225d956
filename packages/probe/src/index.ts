/** @probemesh/probe — run probes from config files; the demo. */
export { parseConfig, loadConfig, configFromBundle } from './config.js';
export { runProbe, consoleLog, type RunningProbe } from './run.js';
export { builtinConnectors } from './connectors.js';
export { simulateSite, UPS_OUTPUT_POWER_OID, type SimulatedSite } from './simulate.js';
export { datacenterConfigs, exampleLayout, facilityPowerW, itPowerW, server, simulateDatacenter, oids, NETWORKS, SERVERS, type MeshLayout } from './datacenter.js';
export { up, writeConfigs, type RunningMesh, type UpOptions } from './up.js';
