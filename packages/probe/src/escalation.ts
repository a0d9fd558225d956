import { ProbemeshError, Supervisor, systemClock, type ChildState, type RestartPolicy, type SupervisorEvent, type Worker } from '@probemesh/core';
import { MeshChildFailedError, MeshNode, type MeshOptions } from '@probemesh/mesh';
import { componentRules } from '@probemesh/model';
import type { LogFn, ProbeService } from '@probemesh/runtime';

/**
 * How a probe restarts its mesh node by default: 1 s doubling to 60 s, ±20 %; more than 3 restarts
 * within 30 minutes escalate to the process. A child fails the node only after 5 restarts of its
 * own in 10 minutes (at least ~15 s of crashing), so a fault that survives three fresh nodes is
 * in nothing a node restart renews, and a probe with a lasting one restarts about once a minute.
 */
export const meshRestarts: RestartPolicy = { backoff: { initialMs: 1000, maxMs: 60_000, factor: 2, jitter: 0.2 }, maxRestarts: 3, withinMs: 30 * 60_000 };

/** How `SupervisedMesh` runs its node: its restarts, its log, and where a failure past their limit goes. */
export interface Escalation {
  restarts: RestartPolicy;
  log: LogFn;
  /** Hears the node fail past `restarts`' limit; without it the node stays stopped. */
  onFatal?: (err: ProbemeshError) => void;
}

/** The alert that says the mesh node failed: fired at a failure, resolved once a node runs again. */
const ALERT = { rule: componentRules.mesh, decision: 'node' } as const;

/**
 * The mesh node under the probe's own supervisor, as OTP escalates: a child of the node that
 * crashes past its restart limit (a `MeshChildFailedError` on `onFailure`) fails the whole node,
 * which is stopped and started again with back-off. Nothing is lost meanwhile: the probe goes on
 * measuring, and the outbox, the partials' cursor and the merges are in its store. Past this
 * supervisor's own limit the failure goes to `onFatal` (`probemesh probe`: the process guard stops
 * the probe cleanly and exits 70, and systemd starts it again); without one the node stays stopped.
 * A failure fires the critical alert `mesh/node`, resolved when a node runs again.
 */
export class SupervisedMesh {
  private readonly supervisor: Supervisor;
  private current: MeshNode | undefined;
  /** Tells the supervisor the node failed; while a node starts, keeps the failure for when it is in place. */
  private crash: (err: unknown) => void = (err) => (this.early ??= err);
  /** A failure of the first node before the supervisor took it. */
  private early?: unknown;
  /** The start of a node under way, for `stop` to wait for. */
  private launching?: Promise<unknown>;

  private constructor(
    private readonly opts: MeshOptions,
    private readonly service: ProbeService,
    private readonly how: Escalation,
  ) {
    this.supervisor = new Supervisor({ clock: opts.clock ?? systemClock, ...how.restarts, onEvent: (e) => this.event(e) });
  }

  /** Starts the node, then supervises it; rejects as `MeshNode.start` does (a configuration a person must fix). */
  static async start(opts: MeshOptions, service: ProbeService, how: Escalation): Promise<SupervisedMesh> {
    const s = new SupervisedMesh(opts, service, how);
    let first: MeshNode | undefined = (s.current = await MeshNode.start(s.nodeOptions(), service));
    await s.supervisor.start({
      id: 'mesh',
      start: (crash) => {
        const ready = first;
        first = undefined;
        return s.launch(crash, ready);
      },
    });
    return s;
  }

  /** The node now (stopped while it is being restarted). */
  get node(): MeshNode {
    return this.current!;
  }

  /** The node's state under this supervisor: running, backing-off (restarting), failed; its restarts. */
  state(): ChildState | undefined {
    return this.supervisor.state('mesh');
  }

  /** Stops the node and its supervision. Idempotent. */
  async stop(): Promise<void> {
    await this.supervisor.stop('mesh');
    await this.launching;
    await this.current?.stop();
  }

  private nodeOptions(): MeshOptions {
    return {
      ...this.opts,
      onFailure: (err) => {
        this.opts.onFailure?.(err);
        // A refused configuration is not: the node logs it and retries slowly.
        if (err instanceof MeshChildFailedError) this.crash(err);
      },
    };
  }

  private launch(crash: (err: unknown) => void, ready?: MeshNode): Promise<Worker> {
    const run = this.run(crash, ready);
    this.launching = run.catch(() => undefined);
    return run;
  }

  private async run(crash: (err: unknown) => void, ready?: MeshNode): Promise<Worker> {
    let failure = this.early;
    this.early = undefined;
    this.crash = (err) => (failure ??= err);
    // The node before is stopped whole before another starts: they share the store, the sink's name and the consumers.
    if (this.current !== ready) await this.current?.stop();
    const node = ready ?? (await MeshNode.start(this.nodeOptions(), this.service));
    this.current = node;
    this.crash = crash;
    if (failure !== undefined) crash(failure); // it failed while starting: the supervisor stops it and tries again
    else this.service.resolve({ ...ALERT, message: 'the mesh node runs again' });
    return node;
  }

  private event(e: SupervisorEvent): void {
    const { log, onFatal } = this.how;
    switch (e.type) {
      case 'crashed':
        log('error', `[mesh] the mesh node failed (${e.error}); stopping it and starting it again in ${e.retryInMs} ms`);
        this.service.raise({ ...ALERT, severity: 'critical', message: `the mesh node failed and is restarted: ${e.error}` });
        break;
      case 'failed': {
        const err = new ProbemeshError(`the mesh node failed past its restart limit (last: ${e.error})`);
        this.service.raise({ ...ALERT, severity: 'critical', message: err.message });
        if (onFatal) onFatal(err);
        else log('error', `[mesh] ${err.message}; it stays stopped until the probe restarts`);
        break;
      }
      case 'started':
      case 'stopped':
        break;
    }
  }
}
