/** @probemesh/web — the operator console: static files built into `dist/app`, and the hono handler that serves them. */
export { consoleHandler, CONSOLE_PATHS, type ConsoleOptions } from './serve.js';
