/** @probemesh/probe — run probes from config files. */
export { parseConfig, loadConfig, loadBundle, checkConfig, ConfigError, type ConfigProblem } from './config.js';
export { bootFromBundle, type Boot } from './boot.js';
export { runProbe, consoleLog, type RunningProbe } from './run.js';
export { builtinConnectors } from './connectors.js';
