import { execFile } from 'node:child_process';
import { messageOf, systemClock, type Clock, type TimerHandle } from '@probemesh/core';
import type { LogFn } from '@probemesh/runtime';

/**
 * The systemd notify protocol (sd_notify) for a probe run by `deploy/systemd/probemesh@.service`:
 * READY=1 once it serves, WATCHDOG=1 from a timer on the main event loop (so a loop frozen for
 * WatchdogSec gets the probe killed and restarted), STOPPING=1 when it stops. Outside systemd (no
 * NOTIFY_SOCKET) it does nothing.
 *
 * Node cannot send unix datagrams, so each message is sent by systemd's own `systemd-notify`
 * (the unit sets NotifyAccess=all). Without --no-block it waits until the service manager has
 * read the message, so the message is attributed to the unit although it comes from a short-lived
 * process. That costs one process per message, a few milliseconds of CPU every WatchdogSec/2.
 */
export class SystemdNotifier {
  private timer?: TimerHandle;
  private sending = false;
  private stopped = false;
  private readonly env: NodeJS.ProcessEnv;
  private readonly clock: Clock;

  constructor(private readonly opts: { log: LogFn; env?: NodeJS.ProcessEnv; clock?: Clock; command?: string }) {
    this.env = opts.env ?? process.env;
    this.clock = opts.clock ?? systemClock;
  }

  /** How often WATCHDOG=1 goes out: half the unit's WatchdogSec, when the watchdog is meant for this process. */
  get watchdogMs(): number | undefined {
    const usec = Number(this.env.WATCHDOG_USEC);
    const pid = this.env.WATCHDOG_PID;
    if (!this.env.NOTIFY_SOCKET || !(usec > 0) || (pid !== undefined && Number(pid) !== process.pid)) return undefined;
    return Math.max(1, Math.floor(usec / 2000));
  }

  /** Says READY=1 and starts the watchdog pings. Idempotent. */
  start(): void {
    if (!this.env.NOTIFY_SOCKET || this.timer || this.stopped) return;
    void this.send('READY=1');
    const every = this.watchdogMs;
    if (every === undefined) return;
    const ping = () => {
      // One at a time: a ping still waiting for the service manager is not doubled.
      if (!this.sending) void this.send('WATCHDOG=1');
      this.timer = this.clock.setTimeout(ping, every);
    };
    this.timer = this.clock.setTimeout(ping, every);
  }

  /** Stops the pings and says STOPPING=1. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.env.NOTIFY_SOCKET) await this.send('STOPPING=1');
  }

  private send(message: string): Promise<void> {
    this.sending = true;
    return new Promise((resolve) => {
      execFile(this.opts.command ?? 'systemd-notify', [message], { env: this.env, timeout: 10_000 }, (err, _out, stderr) => {
        this.sending = false;
        if (err) this.opts.log('warn', `systemd-notify ${message} failed: ${stderr.trim() || messageOf(err)}`);
        resolve();
      });
    });
  }
}
