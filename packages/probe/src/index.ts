/** @probemesh/probe — run probes from config files. */
export { parseConfig, loadConfig, configFromBundle } from './config.js';
export { runProbe, consoleLog, type RunningProbe } from './run.js';
export { builtinConnectors } from './connectors.js';
