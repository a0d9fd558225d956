import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { FULL_DISK_SERVER, NETWORKS, researchServer, serversOf, SERVERS, siteFigures, upNetns, CAPTURE_NETWORKS, UPS_NETWORK } from '@probemesh/demo';
import { subjects } from '@probemesh/model';
import { ip, netnsList, netnsUnavailable, tempDir, waitUntil } from '@probemesh/testkit';

type Records = { records: Array<{ ts: number; datum: number; device?: string; instance?: string }> };
type Alert = { probe: string; decision: string; device?: string; state: string };

// About 30 processes (NATS, six probes, simulated hosts, switches, traffic) start on 2 shared cores.
t.setTimeout(600_000);
const unavailable = await netnsUnavailable();
if (unavailable) console.log(`# netns mesh skipped: ${unavailable}`);

t.test(
  'netns mesh — five namespaced networks: web requests and broadcasts counted exactly (capture and RMON), memory/disk/Apache at the delegates, CADE/PUE/CPE to the digit, one alert per network once, nothing left behind',
  { skip: unavailable ? `cannot create network namespaces: ${unavailable}` : false },
  async (t) => {
    const dir = await tempDir();
    t.teardown(() => dir.remove());
    const mesh = await upNetns({ dir: dir.path, period: '2s', statusMs: 0, say: () => undefined, traffic: { paused: true } });
    t.teardown(() => mesh.stop());
    const get = async <T>(probe: string, path: string): Promise<T> => {
      const res = await fetch(`${mesh.urls[probe]}${path}`, { headers: { authorization: `Bearer ${mesh.tokens.read}` } });
      if (!res.ok) throw new Error(`${probe} ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const last = async (probe: string, query: string) => (await get<Records>(probe, `/query?${query}&last=1`)).records[0]?.datum;
    const sum = async (probe: string, indicator: string) => (await get<{ value: number | null }>(probe, `/query?indicator=${indicator}&mode=sum`)).value ?? 0;

    // A plain NATS subscriber (the operator user) on the hub, reached like every part from the host: through a forwarder.
    const nc = await connect({ servers: mesh.natsUrl, user: mesh.operator.user, pass: mesh.operator.password });
    t.teardown(() => nc.close());
    const heard: Alert[] = [];
    nc.subscribe(subjects.alerts, { callback: (_e, m) => void heard.push(m.json<Alert>()) });
    await nc.flush();

    const f = siteFigures();
    await waitUntil('the site merging every network', async () => (await last('site', 'indicator=servers_reporting')) === SERVERS && (await last('site', 'indicator=cade')) !== undefined, 180_000);
    await waitUntil('every delegate reading its traffic', async () => {
      for (const n of mesh.networks) if ((await last(`net${n.k}`, CAPTURE_NETWORKS.includes(n.k) ? 'indicator=lan_total_packets' : 'indicator=sw_pkts&instance=2')) === undefined) return false;
      return true;
    }, 60_000);

    // Known traffic in every network at once: web requests, broadcast, other IP and non-IP frames.
    const base = await Promise.all(mesh.networks.map(async (n) => (CAPTURE_NETWORKS.includes(n.k) ? { web: await sum(`net${n.k}`, 'web_requests'), broadcast: await sum(`net${n.k}`, 'lan_broadcast_packets') } : { web: 0, broadcast: (await last(`net${n.k}`, 'indicator=sw_broadcast_pkts&instance=2')) ?? 0 })));
    const burst = (k: number) => ({ web: 10 + k, broadcast: 20 + k, ip: 15, nonIp: 5 });
    const sent = await Promise.all(mesh.networks.map((n) => n.traffic.send(burst(n.k))));
    for (const n of mesh.networks) {
      const p = `net${n.k}`;
      const b = burst(n.k);
      t.same([sent[n.k - 1]!.web.requests, sent[n.k - 1]!.web.failed, (await n.hosts.web()).requests], [b.web, 0, b.web], `${p}: ${b.web} requests sent, answered and served once`);
      if (CAPTURE_NETWORKS.includes(n.k)) {
        await waitUntil(`${p} capturing the burst`, async () => (await sum(p, 'web_requests')) - base[n.k - 1]!.web >= b.web && (await sum(p, 'lan_broadcast_packets')) - base[n.k - 1]!.broadcast >= b.broadcast, 30_000);
        t.equal((await sum(p, 'web_requests')) - base[n.k - 1]!.web, b.web, `${p}: captured web request packets = the ${b.web} requests sent`);
        t.equal((await sum(p, 'lan_broadcast_packets')) - base[n.k - 1]!.broadcast, b.broadcast, `${p}: ${b.broadcast} broadcast frames captured, exactly`);
      } else {
        const tx = (JSON.parse(await ip(['-n', n.lan.trafficNs, '-s', '-j', 'link', 'show', n.lan.traffic.iface])) as Array<{ stats64: { tx: { packets: number } } }>)[0]!.stats64.tx.packets;
        await waitUntil(`${p} reading the burst from its switch`, async () => ((await last(p, 'indicator=sw_pkts&instance=2')) ?? 0) >= tx, 30_000);
        t.equal(await last(p, 'indicator=sw_pkts&instance=2'), tx, `${p}: RMON etherStatsPkts of the traffic port, read over SNMP = frames the traffic source's interface sent (${tx})`);
        t.equal(((await last(p, 'indicator=sw_broadcast_pkts&instance=2')) ?? NaN) - base[n.k - 1]!.broadcast, b.broadcast, `${p}: RMON etherStatsBroadcastPkts rose by the ${b.broadcast} broadcast frames sent`);
      }
      const web = researchServer(serversOf(n.k)[0]!);
      await waitUntil(`${p} reading the web server's WWW-MIB`, async () => ((await last(p, `indicator=www_requests&device=${web.id}`)) ?? 0) >= b.web, 30_000);
      t.equal(await last(p, `indicator=www_requests&device=${web.id}`), b.web, `${p}: wwwSummaryInRequests of ${web.id} at the delegate`);
      for (const s of [web, ...(serversOf(n.k).includes(FULL_DISK_SERVER) ? [researchServer(FULL_DISK_SERVER)] : [])]) {
        t.equal(await last(p, `indicator=mem_used_pct&device=${s.id}`), (100 * s.memUsed) / s.memSize, `${p}: memory of ${s.id} from hrStorageTable`);
        t.equal(await last(p, `indicator=disk_used_pct&device=${s.id}`), (100 * s.diskUsed) / s.diskSize, `${p}: disk of ${s.id} from hrStorageTable`);
      }
    }

    // The site's figures from count-weighted merges of the partials, against the simulated inputs. A
    // window a busy machine left short (a delegate's tick cut by its timeout) passes: the next one is whole.
    const figures = [
      ['it_power', f.itPowerW],
      ['facility_power', f.facilityPowerW],
      ['cpu_load_mean', f.cpuMean],
      ['mem_used_pct_mean', f.memMean],
      ['pue', f.pue],
      ['dcie', f.dcie],
      ['cpe', f.cpe],
      ['cade', f.cade],
    ] as const;
    let got: Array<number | undefined> = [];
    await waitUntil('the site figures of a whole window', async () => {
      got = await Promise.all(figures.map(([indicator]) => last('site', `indicator=${indicator}`)));
      return got.every((v, i) => v === figures[i]![1]);
    }, 60_000).catch((err: Error) => t.fail(`${err.message.split('\n')[0]}: ${JSON.stringify(Object.fromEntries(figures.map(([k], i) => [k, got[i]])))}`));
    figures.forEach(([indicator, value], i) => t.equal(got[i], value, `site ${indicator} = ${value}`));

    // Threshold alerts: a broadcast storm in every network, the UPS on battery and back.
    await Promise.all(mesh.networks.map((n) => n.traffic.send({ broadcast: 400 })));
    await mesh.networks[UPS_NETWORK - 1]!.hosts.setUpsOnBattery(true);
    const transitions = (probe: string, decision: string, state: string) => heard.filter((a) => a.probe === probe && a.decision === decision && a.state === state).length;
    const expected = [...mesh.networks.map((n) => [`net${n.k}`, 'broadcast_storm'] as const), [`net${UPS_NETWORK}`, 'ups_on_battery'] as const];
    await waitUntil('each alert firing at the subscriber', () => expected.every(([p, d]) => transitions(p, d, 'firing') > 0), 60_000);
    await mesh.networks[UPS_NETWORK - 1]!.hosts.setUpsOnBattery(false);
    await waitUntil('each alert resolved at the subscriber', () => expected.every(([p, d]) => transitions(p, d, 'resolved') > 0), 60_000);
    const atSite = await get<Alert[]>('site', '/mesh/alerts');
    for (const [p, d] of expected) {
      t.same([transitions(p, d, 'firing'), transitions(p, d, 'resolved')], [1, 1], `${p} ${d}: fired once and resolved once at a plain subscriber`);
      t.ok(atSite.some((a) => a.probe === p && a.decision === d), `${p} ${d} reached the site`);
    }
    t.ok(transitions('net2', 'cpu_hot', 'firing') <= 1 && transitions('net3', 'disk_full', 'firing') <= 1, 'the steady alerts (srv042 hot, srv063 disk full) at most once (they may have fired before the subscriber joined)');
    t.ok(atSite.some((a) => a.probe === 'net3' && a.decision === 'disk_full' && a.device === `srv0${FULL_DISK_SERVER}`), 'the nearly full disk alerted the site');

    nc.close();
    const namespaces = mesh.namespaces;
    const pids = mesh.pids();
    t.equal(namespaces.length, 1 + 3 * NETWORKS, 'a namespace for the site and three per network while it ran');
    await mesh.stop();
    // Other tests make and remove namespaces of their own meanwhile: look at ours, and at the mesh's processes.
    t.same((await netnsList()).filter((n) => namespaces.includes(n)), [], "ip netns list shows none of the mesh's namespaces any more");
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    t.same(Object.entries(pids).filter(([, pid]) => alive(pid)), [], 'and none of its probe processes');
  },
);
