/**
 * `npm run bench -- smpp [--json] [--seconds N] [--windows 1,10,100,1000] [--no-npm]`
 *
 * submit_sm + submit_sm_resp over TCP loopback: sluice's SmppClient against sluice's SmppServer
 * (in a child process, so each side has a core), at each window size; then the same with the
 * `smpp` npm package as the client. Per run: submits/s, p50/p99 response latency, CPU seconds of
 * each side and peak RSS of each side.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import smpp from 'smpp';
import { SmppClient } from '../src/smpp/index.js';

interface RunResult {
  client: 'sluice' | 'smpp-npm';
  window: number;
  submits: number;
  seconds: number;
  submitsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  clientPeakRssMb: number;
  serverPeakRssMb: number;
  errors: number;
}

interface ServerStats {
  cpuSeconds: number;
  peakRssMb: number;
}

const TEXT = Buffer.from('Your appointment is tomorrow at 10:00. Reply STOP to opt out.');

async function startServer(): Promise<{ child: ChildProcess; port: number; stats(): Promise<ServerStats> }> {
  const child = fork(fileURLToPath(new URL('./smpp-server.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ type: string; port: number }];
  return {
    child,
    port: ready.port,
    async stats() {
      child.send({ type: 'stats' });
      const [m] = (await once(child, 'message')) as [ServerStats];
      return m;
    },
  };
}

/** A submit function: resolves on the response, rejects on an error status. */
type Submit = () => Promise<void>;

/**
 * Keeps `window` submits in flight for `ms`, recording each one's latency. Returns the latencies
 * (ms) and the error count.
 */
async function drive(
  submit: Submit,
  window: number,
  ms: number,
): Promise<{ latencies: Float64Array; errors: number }> {
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let errors = 0;
  let inflight = 0;
  const end = performance.now() + ms;
  await new Promise<void>((resolve) => {
    const fire = (): void => {
      while (inflight < window && performance.now() < end) {
        inflight++;
        const start = performance.now();
        submit().then(
          () => {
            if (count === latencies.length) {
              const grown = new Float64Array(latencies.length * 2);
              grown.set(latencies);
              latencies = grown;
            }
            latencies[count++] = performance.now() - start;
            inflight--;
            fire();
          },
          () => {
            errors++;
            inflight--;
            fire();
          },
        );
      }
      if (inflight === 0) resolve();
    };
    fire();
  });
  return { latencies: latencies.subarray(0, count), errors };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(
  name: RunResult['client'],
  window: number,
  seconds: number,
  connect: (port: number) => Promise<{ submit: Submit; close(): Promise<void> }>,
): Promise<RunResult> {
  const server = await startServer();
  try {
    const conn = await connect(server.port);
    await drive(conn.submit, window, 500); // warm-up: JIT, buffers
    let peakRss = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 50);
    const serverBefore = await server.stats();
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    const { latencies, errors } = await drive(conn.submit, window, seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const serverAfter = await server.stats();
    clearInterval(sampler);
    await conn.close();
    latencies.sort();
    return {
      client: name,
      window,
      submits: latencies.length,
      seconds: elapsed,
      submitsPerSec: Math.round(latencies.length / elapsed),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
      serverCpuSeconds: serverAfter.cpuSeconds - serverBefore.cpuSeconds,
      clientPeakRssMb: peakRss / 1024 / 1024,
      serverPeakRssMb: serverAfter.peakRssMb,
      errors,
    };
  } finally {
    server.child.send({ type: 'exit' });
    await once(server.child, 'exit');
  }
}

async function connectSluice(port: number, window: number) {
  const client = new SmppClient({
    host: '127.0.0.1',
    port,
    system_id: 'bench',
    password: 'bench',
    session: { window, requestTimeoutMs: 60_000, enquireLinkIntervalMs: 0 },
  });
  const bound = once(client, 'bound');
  client.start();
  await bound;
  const fields = { source_addr: '12345', destination_addr: '447700900123', short_message: TEXT };
  return {
    submit: async () => {
      await client.submit(fields);
    },
    close: () => client.stop(),
  };
}

async function connectNpm(port: number) {
  const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
  await once(session, 'connect');
  await new Promise<void>((resolve, reject) =>
    session.bind_transceiver({ system_id: 'bench', password: 'bench' }, (pdu) =>
      pdu.command_status === 0 ? resolve() : reject(new Error(`bind failed: ${pdu.command_status}`)),
    ),
  );
  const fields = { source_addr: '12345', destination_addr: '447700900123', short_message: TEXT };
  return {
    submit: () =>
      new Promise<void>((resolve, reject) => {
        session.submit_sm(fields, (pdu) =>
          pdu.command_status === 0 ? resolve() : reject(new Error('status')),
        );
      }),
    close: () =>
      new Promise<void>((resolve) => {
        session.close(() => resolve());
        session.socket.once('close', () => resolve());
      }),
  };
}

function table(runs: RunResult[]): string {
  const head = [
    'client',
    'window',
    'submits/s',
    'p50 ms',
    'p99 ms',
    'client CPU s',
    'server CPU s',
    'client RSS MB',
    'server RSS MB',
  ];
  const rows = runs.map((r) => [
    r.client,
    String(r.window),
    r.submitsPerSec.toLocaleString('en-US'),
    r.p50Ms.toFixed(3),
    r.p99Ms.toFixed(3),
    r.clientCpuSeconds.toFixed(2),
    r.serverCpuSeconds.toFixed(2),
    r.clientPeakRssMb.toFixed(0),
    r.serverPeakRssMb.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      seconds: { type: 'string' },
      windows: { type: 'string' },
      'no-npm': { type: 'boolean' },
    },
  });
  const seconds = Number(values.seconds ?? 3);
  const windows = (values.windows ?? '1,10,100,1000').split(',').map(Number);
  if (!(seconds > 0) || windows.some((w) => !Number.isInteger(w) || w < 1)) {
    console.error('usage: bench smpp [--json] [--seconds N>0] [--windows 1,10,100,1000] [--no-npm]');
    return 2;
  }
  const runs: RunResult[] = [];
  for (const w of windows) {
    runs.push(await measure('sluice', w, seconds, (port) => connectSluice(port, w)));
    if (!values.json) console.error(`sluice window ${w}: ${runs.at(-1)!.submitsPerSec} submits/s`);
  }
  if (!values['no-npm']) {
    for (const w of windows) {
      runs.push(await measure('smpp-npm', w, seconds, (port) => connectNpm(port)));
      if (!values.json) console.error(`smpp-npm window ${w}: ${runs.at(-1)!.submitsPerSec} submits/s`);
    }
  }
  const result = {
    bench: 'smpp',
    what: 'submit_sm + submit_sm_resp over TCP loopback; sluice SmppServer in a child process',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    secondsPerRun: seconds,
    runs,
  };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(`\n${table(runs)}\n`);
  return 0;
}
