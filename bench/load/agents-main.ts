// An agent process of `startAgents`: gets its agents' tables over IPC, answers them on free
// loopback ports, reports the ports, and ends when its parent goes away.
import type { AgentTable } from '@probemesh/testkit';
import { listen, type AgentsReady } from './agents.js';

process.once('message', (agents: AgentTable[][]) => {
  listen(agents).then(
    ({ ports }) => process.send!({ ports } satisfies AgentsReady),
    (err: unknown) => {
      process.stderr.write(`agent process: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
