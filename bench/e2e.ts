/**
 * `npm run bench -- e2e [--json] [--seconds N] [--connections N] [--batch-connections N] [--batch-size N]
 *   [--store redis|memory] [--processes N] [--policies on|off] [--cpu-prof DIR] [--only single|batch]
 *   [--dlr-delay-ms N] [--roles all|split] [--gateway sluice|floor] [--rate N] [--callbacks]`
 *
 * The whole path under load: autocannon → sluice's HTTP API (a child process running the compiled
 * build, on a real redis-server) → SMPP → the simulator (in this process, receipts at once, or --dlr-delay-ms after each submit) → receipts → status.
 * Two runs: single-message requests to POST /v1/messages, and POST /v1/messages/batch.
 * Reports accepted msgs/s, end-to-end msgs/s (first request to last receipt recorded), p50/p99
 * accept latency and sluice's peak RSS; and per message: the CPU time sluice, the load (this
 * process: autocannon and the simulator) and redis-server spent, and Redis's commands (those
 * scripts run count too; in all, and by name with Redis's µs in each), client writes and bytes
 * received. Any non-2xx responses are listed by status.
 * Before each run a calibration times a fixed CPU loop in two processes at once: the machine's
 * speed at that moment, to tell a slower host from slower code.
 *
 * --policies on (the default) gives the sender, the connector and the API key rate limits far above
 * the load (so every message takes its tokens through the leaser and none waits), an open
 * quiet-hours window (each message's zones are looked up) and an opt-out list of 10,000 other
 * numbers. off: no limits and no quiet hours. The opt-out check runs either way: it is not
 * optional.
 *
 * --connections (64) and --batch-connections (an eighth of --connections, at least 4): the
 * requests autocannon keeps in flight to each endpoint.
 *
 * --rate N holds autocannon to N requests per second: below what the machine can take, the CPU
 * each process spends per message compares two builds with less noise than their top rates.
 *
 * --callbacks gives every message a callbackUrl on an HTTP server in this process, which answers
 * 204: sluice posts two status callbacks per message (sent, delivered), and end to end then lasts
 * until the last of them is in (the outcome has reached the campaign system).
 *
 * --gateway floor runs bench/floor-gateway.ts in sluice's place: the same durable steps on the
 * same stack with none of sluice's own work, so the figures say what the stack and this machine
 * allow at most.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { Simulator } from '../src/sim/index.js';
import { RedisStore } from '../src/store/index.js';
import { buildSluice, freePort, startListening, startSluice } from '../test/support/processes.js';
import { startRedis } from '../test/support/redis-server.js';

const KEY = 'bench-key-0123456789abcdef';

interface RunResult {
  endpoint: string;
  requests: number;
  messagesAccepted: number;
  seconds: number;
  acceptedPerSec: number;
  endToEndSeconds: number;
  endToEndPerSec: number;
  acceptP50Ms: number;
  acceptP99Ms: number;
  non2xx: number;
  /** Status callbacks received (--callbacks), by the time end to end was measured. */
  callbacks: number;
  /** Of the largest sluice process (or the floor gateway). */
  sluicePeakRssMb: number;
  /** Receipts by how sluice matched them (sluice_receipts_total); with one process only. */
  receipts: Record<string, number>;
  /** Redis's own counters over the run, per message accepted (redis store only). */
  redis: {
    commandsPerMessage: number;
    readsPerMessage: number;
    bytesInPerMessage: number;
    cpuMicrosPerMessage: number;
    /** Calls of each command (INFO commandstats; a script's own calls count under their names). */
    commandsByName: Record<string, number>;
    /**
     * Redis's own µs in each command per message (INFO commandstats usec: a script's time counts
     * under evalsha and again under the commands it runs).
     */
    microsByName: Record<string, number>;
  } | null;
  /**
   * CPU time (user + system, all threads) sluice (or the floor gateway) spent per message, from
   * first request to last receipt.
   */
  sluiceCpuMicrosPerMessage: number;
  /** Responses by status, when any was not 2xx (which ones, to tell a 429 from a 503). */
  statuses: Record<string, number>;
  /** CPU time this process (autocannon and the simulator) spent per message: the load's own cost. */
  loadCpuMicrosPerMessage: number;
  /** ms each of two processes took, at once, for a fixed CPU loop just before the load: the cores' speed then. */
  calibrationMs: number[];
}

/**
 * The machine's speed right now: two processes run the same fixed loop (JSON of a message-sized
 * object) at once, one per core. On a VM whose host is busy the times grow, or one does; runs are
 * comparable only when their calibrations are.
 */
async function calibrate(): Promise<number[]> {
  const code = `const r={id:'01KAQ5Z4J8X3M1V2B7N6C5D4E3',to:'447700900123',body:'Your appointment is tomorrow at 10:00.',parts:[{index:0,smscId:null}],events:[{status:'queued',at:1}]};let x=0;const t=process.hrtime.bigint();for(let i=0;i<600000;i++)x+=JSON.stringify(r).length;console.log(Number(process.hrtime.bigint()-t)/1e6,x)`;
  const runs = [0, 1].map(
    () =>
      new Promise<number>((resolve, reject) => {
        execFile(process.execPath, ['-e', code], (err, stdout) => {
          if (err) reject(err);
          else resolve(Math.round(Number(stdout.split(' ')[0])));
        });
      }),
  );
  return Promise.all(runs);
}

/** CPU seconds (user + system, every thread) a process has used: /proc/PID/stat, in clock ticks. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the ')' closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** INFO stats counters: commands run, socket reads done (one per client write that arrived), bytes in. */
async function redisCounters(url: string): Promise<{
  commands: number;
  reads: number;
  bytesIn: number;
  cpuSeconds: number;
  byCommand: Record<string, number>;
  usecByCommand: Record<string, number>;
}> {
  const conn = new Redis(url, { lazyConnect: false });
  try {
    const info = `${await conn.info('stats')}${await conn.info('cpu')}`;
    const byCommand: Record<string, number> = {};
    const usecByCommand: Record<string, number> = {};
    for (const m of (await conn.info('commandstats')).matchAll(
      /^cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/gm,
    )) {
      byCommand[m[1]!] = Number(m[2]);
      usecByCommand[m[1]!] = Number(m[3]);
    }
    const field = (name: string) =>
      Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return {
      commands: field('total_commands_processed'),
      reads: field('total_reads_processed'),
      bytesIn: field('total_net_input_bytes'),
      cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
      byCommand,
      usecByCommand,
    };
  } finally {
    conn.disconnect();
  }
}

/** sluice_receipts_total of one process, by result. */
async function receiptCounts(httpPort: number, into: Record<string, number>): Promise<void> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  for (const m of text.matchAll(/^sluice_receipts_total\{[^}]*result="(\w+)"[^}]*\} (\d+)$/gm)) {
    into[m[1]!] = (into[m[1]!] ?? 0) + Number(m[2]);
  }
}

/** An opt-out list of `count` numbers (none of them the bench's recipient), as sluice's store keeps it. */
async function seedOptOuts(url: string, keyPrefix: string, count: number): Promise<void> {
  const store = new RedisStore({ url, keyPrefix, messageTtlSeconds: 60 });
  try {
    const at = Date.now();
    for (let i = 0; i < count; i += 1000) {
      await store.optouts.add(
        Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({
          number: String(447800000000 + i + k),
          scope: 'global' as const,
          at,
          source: 'import' as const,
          keyword: null,
          reason: null,
          sender: null,
        })),
      );
    }
  } finally {
    await store.close();
  }
}

function peakRssMb(pid: number): number {
  // VmHWM: the resident set's high-water mark, kept by the kernel for the process's lifetime.
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      seconds: { type: 'string' },
      connections: { type: 'string' },
      'batch-connections': { type: 'string' },
      'batch-size': { type: 'string' },
      store: { type: 'string' },
      processes: { type: 'string' },
      policies: { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
      'dlr-delay-ms': { type: 'string' },
      roles: { type: 'string' },
      gateway: { type: 'string' },
      rate: { type: 'string' },
      callbacks: { type: 'boolean' },
    },
  });
  const withCallbacks = values.callbacks ?? false;
  const policies = values.policies ?? 'on';
  const seconds = Number(values.seconds ?? 10);
  const connections = Number(values.connections ?? 64);
  // Concurrent batch requests: by default an eighth of --connections (8 for 64). With --roles
  // split, 8 and 16 gave the same figures within their spread in three alternated pairs.
  const batchConnections = Number(values['batch-connections'] ?? Math.max(4, Math.round(connections / 8)));
  const batchSize = Number(values['batch-size'] ?? 100);
  const storeKind = values.store ?? 'redis';
  // Several sluice processes share the HTTP port (uWS listens with SO_REUSEPORT) and one Redis.
  const processes = Number(values.processes ?? 1);
  // split: one process with role api on the HTTP port, and --processes N with role dispatch (each
  // its HTTP port of its own, for /metrics): intake and sending on a core each.
  const roles = values.roles ?? 'all';
  const only = values.only ?? 'both';
  // floor: bench/floor-gateway.ts in sluice's place, the stack's own cost with none of sluice's
  // work (one process, Redis store).
  const gateway = values.gateway ?? 'sluice';
  // How long after each submit the simulator sends its receipt: 0 (the default) at once; a
  // carrier's seconds keep that many seconds of messages in flight in sluice.
  const dlrDelayMs = Number(values['dlr-delay-ms'] ?? 0);
  // Requests per second autocannon holds itself to (0: as fast as answers come). Below the
  // machine's most, the CPU per message compares two builds without the noise of saturation.
  const rate = Number(values.rate ?? 0);
  // One sluice process runs everything: its /metrics counts every receipt.
  const oneSluice = processes === 1 && roles === 'all' && gateway === 'sluice';
  const endpoints = [
    ...(only !== 'batch' ? ['/v1/messages'] : []),
    ...(only !== 'single' ? ['/v1/messages/batch'] : []),
  ];
  if (
    !(seconds > 0) ||
    !(connections > 0) ||
    !(batchConnections > 0) ||
    !(batchSize >= 1 && batchSize <= 1000) ||
    !['redis', 'memory'].includes(storeKind) ||
    !(Number.isInteger(processes) && processes >= 1 && processes <= 8) ||
    ((processes > 1 || roles === 'split') && storeKind !== 'redis') ||
    !['all', 'split'].includes(roles) ||
    !['sluice', 'floor'].includes(gateway) ||
    (gateway === 'floor' && (storeKind !== 'redis' || processes > 1 || roles !== 'all' || withCallbacks)) ||
    !['on', 'off'].includes(policies) ||
    !['single', 'batch', 'both'].includes(only) ||
    !(Number.isInteger(dlrDelayMs) && dlrDelayMs >= 0 && dlrDelayMs <= 600_000) ||
    !(Number.isInteger(rate) && rate >= 0)
  ) {
    console.error(
      'usage: bench e2e [--json] [--seconds N] [--connections N] [--batch-connections N] [--batch-size 1..1000] [--store redis|memory] [--processes N (redis)] [--policies on|off] [--cpu-prof DIR] [--only single|batch] [--dlr-delay-ms N] [--roles all|split] [--gateway sluice|floor (redis, one process)] [--rate requests/s] [--callbacks (sluice)]',
    );
    return 2;
  }

  // The compiled build, as deployed (npm run build, the Dockerfile), not the sources through tsx.
  const compiled = await buildSluice('.bench/dist');
  const redis = storeKind === 'redis' ? await startRedis() : null;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const runs: RunResult[] = [];
  try {
    for (const endpoint of endpoints) {
      const sim = new Simulator({
        port: 0,
        accounts: [{ systemId: 'sluice', password: 'sluice' }],
        dlrDelayMs,
        window: 1000,
      });
      const { smpp } = await sim.start();
      const httpPort = await freePort();
      const config = join(dir, 'sluice.yaml');
      writeFileSync(
        config,
        `
http: { host: 127.0.0.1, port: ${httpPort}, maxBodyBytes: 4194304 }
store: ${redis ? `{ kind: redis, url: '${redis.url}', keyPrefix: 'b${runs.length}' }` : '{ kind: memory }'}
connectors:
  - { name: sim, host: 127.0.0.1, port: ${smpp.port}, systemId: sluice, password: sluice, window: 500, binds: 2, enquireLinkIntervalMs: 0, tps: ${policies === 'on' ? 1000000 : 0} }
${
  policies === 'on'
    ? `senders: [{ address: '12345', type: shortcode, rateLimit: 1000000, quietHours: { start: '00:00', end: '23:59' } }]
apiKeys: [{ name: bench, key: ${KEY}, senders: ['*'], rateLimit: 1000000 }]`
    : `senders: [{ address: '12345', type: shortcode, rateLimit: 0 }]
apiKeys: [{ name: bench, key: ${KEY}, senders: ['*'] }]`
}
routes: [{ connector: sim }]
log: { level: info }
`,
      );
      if (policies === 'on' && redis) await seedOptOuts(redis.url, `b${runs.length}`, 10_000);
      const sluices = [];
      // The node flags of `npm start`; --cpu-prof DIR adds a V8 CPU profile of each sluice process.
      const nodeArgs = ['--max-semi-space-size=64'];
      if (values['cpu-prof']) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`);
      if (gateway === 'floor') {
        sluices.push(
          await startListening([...nodeArgs, '--import', 'tsx', 'bench/floor-gateway.ts', config], 'inherit'),
        );
      } else if (roles === 'split') {
        sluices.push(await startSluice(config, 'inherit', nodeArgs, compiled, ['--role', 'api']));
        for (let i = 0; i < processes; i++) {
          const args = ['--role', 'dispatch', '--http-port', '0'];
          sluices.push(await startSluice(config, 'inherit', nodeArgs, compiled, args));
        }
      } else {
        for (let i = 0; i < processes; i++)
          sluices.push(await startSluice(config, 'inherit', nodeArgs, compiled));
      }
      // Two binds (TX and RX, or two TRX) per process that binds.
      while (sim.stats().binds.transceiver < 2 * processes) await once(sim.server, 'bound');
      let receipts = 0;
      let lastReceiptAt = 0;
      let waiting: { target: number; resolve: () => void } | null = null;
      // Every receipt in, and with --callbacks both callbacks of every message.
      const done = () =>
        waiting !== null && receipts >= waiting.target && (!withCallbacks || callbacks >= 2 * waiting.target);
      sim.on('delivered', (pdu) => {
        if (pdu.esm_class !== 0x04) return;
        receipts++;
        lastReceiptAt = performance.now();
        if (waiting && done()) waiting.resolve();
      });
      // --callbacks: the campaign system's receiver, counting what sluice posts.
      let callbacks = 0;
      let lastCallbackAt = 0;
      const receiver = withCallbacks
        ? http.createServer((req, res) => {
            req.resume();
            req.on('end', () => {
              callbacks++;
              lastCallbackAt = performance.now();
              res.writeHead(204).end();
              if (waiting && done()) waiting.resolve();
            });
          })
        : null;
      if (receiver) {
        receiver.listen(0, '127.0.0.1');
        await once(receiver, 'listening');
      }
      const message = {
        from: '12345',
        to: '+447700900123',
        body: 'Your appointment is tomorrow at 10:00. Reply STOP to opt out.',
        ...(receiver
          ? { callbackUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/sms` }
          : {}),
      };
      const body =
        endpoint === '/v1/messages'
          ? JSON.stringify(message)
          : JSON.stringify({ messages: Array.from({ length: batchSize }, () => message) });
      const redisBefore = redis ? await redisCounters(redis.url) : null;
      const calibrationMs = await calibrate();
      const cpuBefore = sluices.map((p) => cpuSeconds(p.pid!));
      const loadCpuBefore = cpuSeconds(process.pid);
      const started = performance.now();
      const result = await autocannon({
        url: `http://127.0.0.1:${httpPort}${endpoint}`,
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body,
        connections: endpoint === '/v1/messages' ? connections : batchConnections,
        duration: seconds,
        ...(rate > 0 ? { overallRate: rate } : {}),
      });
      const acceptSeconds = (performance.now() - started) / 1000;
      const ok = result['2xx'];
      const accepted = endpoint === '/v1/messages' ? ok : ok * batchSize;
      // Every accepted message gets exactly one receipt (no failures), dlrDelayMs after its submit.
      await new Promise<void>((resolve) => {
        waiting = { target: accepted, resolve };
        if (done()) resolve();
      });
      const endToEnd = (Math.max(lastReceiptAt, lastCallbackAt) - started) / 1000;
      const sluiceCpu = sluices.reduce((sum, p, i) => sum + cpuSeconds(p.pid!) - cpuBefore[i]!, 0);
      const loadCpu = cpuSeconds(process.pid) - loadCpuBefore;
      const redisAfter = redis ? await redisCounters(redis.url) : null;
      const perMessage = (n: number) => Math.round((n / accepted) * 100) / 100;
      // With several processes on one port a scrape reaches any one of them: counted for one only.
      const matchedBy: Record<string, number> = {};
      if (oneSluice) await receiptCounts(httpPort, matchedBy);
      runs.push({
        endpoint,
        requests: result.requests.total,
        messagesAccepted: accepted,
        seconds: acceptSeconds,
        acceptedPerSec: Math.round(accepted / acceptSeconds),
        endToEndSeconds: endToEnd,
        endToEndPerSec: Math.round(accepted / endToEnd),
        acceptP50Ms: result.latency.p50,
        acceptP99Ms: result.latency.p99,
        non2xx: result.non2xx,
        sluicePeakRssMb: Math.max(...sluices.map((p) => peakRssMb(p.pid!))),
        receipts: matchedBy,
        callbacks,
        redis:
          redisBefore && redisAfter
            ? {
                commandsPerMessage: perMessage(redisAfter.commands - redisBefore.commands),
                readsPerMessage: perMessage(redisAfter.reads - redisBefore.reads),
                bytesInPerMessage: Math.round((redisAfter.bytesIn - redisBefore.bytesIn) / accepted),
                cpuMicrosPerMessage: Math.round(
                  ((redisAfter.cpuSeconds - redisBefore.cpuSeconds) / accepted) * 1e6,
                ),
                commandsByName: Object.fromEntries(
                  Object.entries(redisAfter.byCommand)
                    .map(([name, n]) => [name, perMessage(n - (redisBefore.byCommand[name] ?? 0))] as const)
                    .filter(([, n]) => n > 0)
                    .sort((a, b) => b[1] - a[1]),
                ),
                microsByName: Object.fromEntries(
                  Object.entries(redisAfter.usecByCommand)
                    .map(
                      ([name, us]) =>
                        [
                          name,
                          Math.round(((us - (redisBefore.usecByCommand[name] ?? 0)) / accepted) * 10) / 10,
                        ] as const,
                    )
                    .filter(([, us]) => us > 0)
                    .sort((a, b) => b[1] - a[1]),
                ),
              }
            : null,
        sluiceCpuMicrosPerMessage: Math.round((sluiceCpu / accepted) * 1e6),
        loadCpuMicrosPerMessage: Math.round((loadCpu / accepted) * 1e6),
        statuses:
          result.non2xx > 0
            ? Object.fromEntries(
                Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]),
              )
            : {},
        calibrationMs,
      });
      if (!values.json)
        console.error(
          `${endpoint}: ${runs.at(-1)!.acceptedPerSec} accepted/s, ${runs.at(-1)!.endToEndPerSec} end-to-end/s`,
        );
      for (const p of sluices) {
        p.kill('SIGTERM');
        await once(p, 'exit');
      }
      receiver?.closeAllConnections();
      receiver?.close();
      await sim.stop();
    }
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = {
    bench: 'e2e',
    what: `autocannon → ${gateway === 'floor' ? 'the floor gateway' : 'sluice'} (child process) → SMPP → simulator → receipts; store ${storeKind}`,
    machine: { cpus: os.cpus().length, node: process.version },
    seconds,
    connections,
    batchConnections,
    processes,
    roles,
    gateway,
    batchSize,
    policies,
    dlrDelayMs,
    rate,
    callbacks: withCallbacks,
    runs,
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(
      '\nendpoint              accepted/s  end-to-end/s  p50 ms  p99 ms  non-2xx  gateway RSS MB  receipts early  gateway CPU µs/msg  load CPU µs/msg  redis CPU µs/msg  redis cmds/msg  writes/msg  bytes/msg  calibration ms',
    );
    for (const r of runs) {
      const early = oneSluice ? String(r.receipts.early ?? 0) : '-';
      console.log(
        `${r.endpoint.padEnd(20)} ${String(r.acceptedPerSec).padStart(11)} ${String(r.endToEndPerSec).padStart(13)} ${r.acceptP50Ms.toFixed(1).padStart(7)} ${r.acceptP99Ms.toFixed(1).padStart(7)} ${String(r.non2xx).padStart(8)} ${r.sluicePeakRssMb.toFixed(0).padStart(15)} ${early.padStart(15)} ${String(r.sluiceCpuMicrosPerMessage).padStart(18)} ${String(r.loadCpuMicrosPerMessage).padStart(14)} ${String(r.redis?.cpuMicrosPerMessage ?? '-').padStart(17)} ${String(r.redis?.commandsPerMessage ?? '-').padStart(15)} ${String(r.redis?.readsPerMessage ?? '-').padStart(11)} ${String(r.redis?.bytesInPerMessage ?? '-').padStart(10)} ${r.calibrationMs.join('/').padStart(14)}`,
      );
    }
    for (const r of runs) {
      if (r.non2xx > 0) console.log(`${r.endpoint}: responses by status ${JSON.stringify(r.statuses)}`);
      if (r.redis) {
        console.log(`${r.endpoint}: redis commands per message ${JSON.stringify(r.redis.commandsByName)}`);
        console.log(`${r.endpoint}: redis µs per message by command ${JSON.stringify(r.redis.microsByName)}`);
      }
    }
  }
  return 0;
}
