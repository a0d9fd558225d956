import type { JetStreamOptions } from '@nats-io/jetstream';
import type { Clock } from '@probemesh/core';
import type { Store } from '@probemesh/store';
import type { Link } from './link.js';

/** How the mesh reports what happens to it. */
export type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

/** What every child of a mesh node shares. */
export interface MeshContext {
  /** This probe's id. */
  id: string;
  clock: Clock;
  log: Log;
  link: Link;
  /** JetStream options: the hub's domain for a probe on a leaf node. */
  js: JetStreamOptions;
  /** The probe's store: outbox, cursors and merged windows survive a restart there. */
  store?: Store;
}
