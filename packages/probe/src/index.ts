/** @probemesh/probe — run probes from config files, as `probemesh probe` does. */
export { parseConfig, loadConfig, loadBundle, checkConfig, ConfigError, type ConfigProblem } from './config.js';
export { bootFromBundle, type Boot } from './boot.js';
export { runProbe, consoleLog, type RunningProbe } from './run.js';
export { builtinConnectors } from './connectors.js';
export { ProcessGuard, Escapes, EXIT_UNCAUGHT, type Escape } from './guard.js';
export { SystemdNotifier } from './notify.js';
