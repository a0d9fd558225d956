import type { Connector, ConnectorContext, ConnectorSession, ReadRequest, Reading, Sample } from '@probemesh/core';
import { Containment, defineConnector, failure, messageOf } from '@probemesh/core';
import type { Varbind } from 'net-snmp';
import { Agent, agentSettings, settingsKey, settingsProblem, SnmpFailure, where, type AgentSettings } from './agent.js';
import { decode } from './datum.js';
import { MibResolver } from './mib.js';
import { SnmpDevice, SnmpParams } from './schema.js';

/** Options of an snmp connector instance. */
export interface SnmpConnectorOptions {
  /** Directories (or files) of extra MIB modules to resolve names with; default: PROBEMESH_MIB_DIRS split on ':'. */
  mibDirs?: readonly string[];
  /** Most varbinds in one GET; larger batches are split (default 50). An agent answering tooBig gets halves. */
  maxVarbinds?: number;
  /** Walk rows allowed when an indicator does not set maxRows (default 10000). */
  maxRows?: number;
}

type Req = ReadRequest<SnmpParams, SnmpDevice>;

/** The MIB dirs named by PROBEMESH_MIB_DIRS (':'-separated). */
export function mibDirsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.PROBEMESH_MIB_DIRS ?? '').split(':').filter(Boolean);
}

/** A Reading from a thrown SnmpFailure (or anything else, as unreachable). */
function failed(err: unknown): Reading {
  if (err instanceof SnmpFailure) return failure(err.kind, err.message);
  return failure('unreachable', messageOf(err));
}

/** The part of `oid` below `base` ("1.3.6.1.2.1.2.2.1.10.3" under "1.3.6.1.2.1.2.2.1.10" is "3"), or undefined when it does not lie under it. */
function suffix(base: string, oid: string): string | undefined {
  return oid.length > base.length + 1 && oid.charCodeAt(base.length) === 46 /* . */ && oid.startsWith(base) ? oid.slice(base.length + 1) : undefined;
}

/** A varbind for another OID than the one asked: the agent's answer cannot be trusted for this indicator. */
const foreign = (agent: Agent, asked: string, got: string, what: string) =>
  failure('bad-response', `${where(agent.settings)} answered with ${got} ${what} ${asked}; nothing was stored (a confused or spoofed agent?)`);

/** A running snmp connector: sessions cached per device and credentials, batched GETs, walks. */
class SnmpSession implements ConnectorSession<SnmpParams, SnmpDevice> {
  private readonly agents = new Map<string, Agent>();
  private readonly settingsCache = new WeakMap<object, Map<string, { settings: AgentSettings; key: string; problem?: string }>>();
  private readonly counts = { requests: 0, varbinds: 0, timeouts: 0, garbage: 0, foreign_oids: 0, sessions_opened: 0, sessions_closed: 0 };
  private readonly contain: Containment;
  private stopped = false;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly mibs: MibResolver,
    private readonly opts: Required<Omit<SnmpConnectorOptions, 'mibDirs'>>,
  ) {
    this.contain = new Containment(ctx.clock, ctx.log, 'snmp');
  }

  async read(requests: ReadonlyArray<Req>, signal: AbortSignal): Promise<Reading[]> {
    const out: Reading[] = new Array(requests.length);
    const groups = new Map<string, { agent: Agent; items: Array<{ i: number; oid: string; instanceFrom?: string }> }>();
    requests.forEach((r, i) => {
      if (this.stopped) return void (out[i] = failure('config', 'the snmp connector is stopped'));
      if (!r.device) return void (out[i] = failure('config', `indicator ${r.indicator}: snmp reads a device, and none was given`));
      const { settings, key, problem } = this.settingsOf(r.device.address, r.deviceParams);
      if (problem) return void (out[i] = failure('config', `device '${r.device.id}': ${problem}`));
      let oid: string;
      let instanceFrom: string | undefined;
      try {
        oid = this.mibs.resolve(r.params.oid);
        if (r.params.instanceFrom) instanceFrom = this.mibs.resolve(r.params.instanceFrom);
      } catch (err) {
        return void (out[i] = failure('config', `indicator ${r.indicator}: ${messageOf(err)}`));
      }
      const agent = this.agent(r.device.id, settings, key);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { agent, items: [] }));
      g.items.push({ i, oid, ...(instanceFrom ? { instanceFrom } : {}) });
    });
    await Promise.all(
      [...groups.values()].map(async ({ agent, items }) => {
        const gets = items.filter((it) => !requests[it.i]!.params.walk);
        const walks = items.filter((it) => requests[it.i]!.params.walk);
        await Promise.all([
          this.readScalars(agent, gets, signal).then((rs) => rs.forEach((r, k) => (out[gets[k]!.i] = r))),
          ...walks.map(async (it) => (out[it.i] = await this.readWalk(agent, it.oid, it.instanceFrom, requests[it.i]!.params.maxRows ?? this.opts.maxRows, signal))),
        ]);
      }),
    );
    return out;
  }

  /** A device's settings with defaults, checked and keyed; cached per settings object, which the probe keeps between ticks. */
  private settingsOf(host: string, d: SnmpDevice | undefined): { settings: AgentSettings; key: string; problem?: string } {
    const byHost = d ? this.settingsCache.get(d) : undefined;
    const hit = byHost?.get(host);
    if (hit) return hit;
    const settings = agentSettings(host, d);
    const problem = settingsProblem(settings);
    const entry = { settings, key: settingsKey(settings), ...(problem ? { problem } : {}) };
    if (d) {
      if (!byHost) this.settingsCache.set(d, new Map([[host, entry]]));
      else byHost.set(host, entry);
    }
    return entry;
  }

  /** The agent of a device, replacing (and closing) its session when the device's settings changed. */
  private agent(deviceId: string, settings: AgentSettings, key: string): Agent {
    const cached = this.agents.get(deviceId);
    if (cached && !cached.closed && cached.key === key) return cached;
    if (cached) {
      cached.close();
      this.counts.sessions_closed++;
    }
    const agent = new Agent(
      settings,
      key,
      (message) => {
        this.counts.garbage++;
        this.ctx.log('debug', `snmp: undecodable reply from ${where(settings)}`, { device: deviceId, error: message });
      },
      (err) => this.contain.record(err, `${where(settings)} (device ${deviceId})`),
    );
    this.counts.sessions_opened++;
    this.agents.set(deviceId, agent);
    return agent;
  }

  /** GETs every scalar OID of one agent: one request per `maxVarbinds` distinct OIDs. */
  private async readScalars(agent: Agent, items: Array<{ oid: string }>, signal: AbortSignal): Promise<Reading[]> {
    if (items.length === 0) return [];
    const unique = [...new Set(items.map((it) => it.oid))];
    const got = new Map<string, Reading>();
    const chunks: string[][] = [];
    for (let k = 0; k < unique.length; k += this.opts.maxVarbinds) chunks.push(unique.slice(k, k + this.opts.maxVarbinds));
    await Promise.all(chunks.map((c) => this.getChunk(agent, c, signal, got)));
    return items.map((it) => got.get(it.oid) ?? failure('bad-response', `no value came back for ${it.oid}`));
  }

  /** GET of one chunk; on tooBig it halves, and on a v1 noSuchName it drops the named OID and asks again. */
  private async getChunk(agent: Agent, oids: string[], signal: AbortSignal, got: Map<string, Reading>): Promise<void> {
    this.counts.requests++;
    let varbinds: Varbind[];
    try {
      varbinds = await agent.get(oids, signal);
    } catch (err) {
      if (err instanceof SnmpFailure && err.status === 'TooBig' && oids.length > 1) {
        const half = Math.ceil(oids.length / 2);
        await Promise.all([this.getChunk(agent, oids.slice(0, half), signal, got), this.getChunk(agent, oids.slice(half), signal, got)]);
        return;
      }
      if (err instanceof SnmpFailure && err.status === 'NoSuchName') {
        // SNMPv1 fails the whole request for one missing OID and names it (error-index).
        const missing = oids.find((o) => err.message.endsWith(`: ${o}`)) ?? (oids.length === 1 ? oids[0] : undefined);
        if (missing) {
          got.set(missing, failure('not-found', `no such name: ${missing} (SNMPv1 agent)`));
          const rest = oids.filter((o) => o !== missing);
          if (rest.length) await this.getChunk(agent, rest, signal, got);
          return;
        }
      }
      if (err instanceof SnmpFailure && err.kind === 'timeout') this.counts.timeouts++;
      const r = failed(err);
      for (const o of oids) got.set(o, r);
      return;
    }
    this.counts.varbinds += varbinds.length;
    oids.forEach((oid, k) => {
      const vb = varbinds[k];
      if (!vb) return void got.set(oid, failure('bad-response', `the reply has no varbind for ${oid}`));
      if (vb.oid !== oid) {
        this.counts.foreign_oids++;
        return void got.set(oid, foreign(agent, oid, vb.oid, 'when asked for'));
      }
      const d = decode(vb);
      got.set(oid, d.ok ? { ok: true, samples: [{ datum: d.datum }] } : failure(d.kind, d.error));
    });
  }

  /** Reads every instance under `oid`; each row a sample named by its index (or by the `instanceFrom` column). */
  private async readWalk(agent: Agent, oid: string, instanceFrom: string | undefined, maxRows: number, signal: AbortSignal): Promise<Reading> {
    this.counts.requests++;
    try {
      const [rows, names] = await Promise.all([agent.walk(oid, maxRows, signal), instanceFrom ? agent.walk(instanceFrom, maxRows, signal) : undefined]);
      if (rows.length > maxRows) return failure('config', `walk of ${oid} has more than ${maxRows} rows; narrow the OID or raise maxRows`);
      this.counts.varbinds += rows.length + (names?.length ?? 0);
      const label = new Map<string, string>();
      for (const vb of names ?? []) {
        const index = suffix(instanceFrom!, vb.oid);
        if (index === undefined) {
          this.counts.foreign_oids++;
          return foreign(agent, instanceFrom!, vb.oid, 'in a walk of');
        }
        const d = decode(vb);
        if (d.ok) label.set(index, String(d.datum).slice(0, 128));
      }
      const samples: Sample[] = [];
      for (const vb of rows) {
        const index = suffix(oid, vb.oid);
        if (index === undefined) {
          this.counts.foreign_oids++;
          return foreign(agent, oid, vb.oid, 'in a walk of');
        }
        const d = decode(vb);
        if (!d.ok) continue; // one odd cell does not spoil the column
        samples.push({ datum: d.datum, instance: names ? (label.get(index) ?? index) : index });
      }
      return { ok: true, samples };
    } catch (err) {
      if (err instanceof SnmpFailure && err.kind === 'timeout') this.counts.timeouts++;
      return failed(err);
    }
  }

  stats(): Record<string, number> {
    return { ...this.counts, rejects_exception: this.contain.count, sessions_open: [...this.agents.values()].filter((a) => !a.closed).length };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.agents.values()) {
      if (!a.closed) this.counts.sessions_closed++;
      a.close();
    }
    this.agents.clear();
  }
}

/** Makes an snmp connector; `snmpConnector` is one with the defaults (MIB dirs from PROBEMESH_MIB_DIRS). */
export function createSnmpConnector(options: SnmpConnectorOptions = {}): Connector<typeof SnmpParams, typeof SnmpDevice> {
  const mibs = new MibResolver(options.mibDirs ?? mibDirsFromEnv());
  const opts = { maxVarbinds: Math.max(1, options.maxVarbinds ?? 50), maxRows: options.maxRows ?? 10_000 };
  return defineConnector({
    scheme: 'snmp',
    summary: 'SNMP v1/v2c/v3 agents: GETs batched per device, walks of columns and subtrees as rows, MIB names',
    params: SnmpParams,
    deviceParams: SnmpDevice,
    perDevice: true,
    counters: ['requests', 'varbinds', 'timeouts', 'garbage', 'foreign_oids', 'sessions_opened', 'sessions_closed', 'rejects_exception'],
    start(ctx) {
      const report = mibs.report;
      if (!report && (options.mibDirs?.length ?? mibDirsFromEnv().length)) {
        // Load the operator's MIBs now, so their problems are logged at start rather than on first read.
        const r = mibs.load();
        ctx.log('info', `snmp: ${r.modules.length} MIB modules loaded`);
        for (const p of r.problems) ctx.log('warn', `snmp: MIB: ${p}`);
      }
      return new SnmpSession(ctx, mibs, opts);
    },
  });
}

/** The snmp connector with default options. */
export const snmpConnector = createSnmpConnector();
