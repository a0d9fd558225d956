#!/usr/bin/env node
// The probemesh command. `probemesh probe` first fits node's heap to the memory it finds (heap.ts):
// V8 takes its limits only when it starts, so the probe runs in a node started with them, and
// this process (a few MiB, the command not loaded) passes signals on and ends as it ends. The
// command itself is cli.js.
import { followParent, heapFlags, heapSet, memoryFound, rerun } from './heap.js';

if (process.argv[2] === 'probe' && !heapSet(process.execArgv, process.env)) rerun(heapFlags(memoryFound()));
else {
  followParent();
  await import('./cli.js');
}
