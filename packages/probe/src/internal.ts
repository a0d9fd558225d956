/** @probemesh/probe/internal — for sibling packages only (the demo's command line). */
export { count, untilSignal } from './options.js';
