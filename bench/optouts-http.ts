/**
 * `npm run bench -- optouts-http [--json] [--count N]`
 *
 * An opt-out import the way an operator runs one: N rows of CSV (`number,scope,reason`, E.164 with
 * '+') streamed to POST /v1/optouts/import of sluice (a child process on a redis-server started for
 * the run), every number checked as intake checks it, written in batches. Reports rows/s from the
 * first byte sent to the report received, the report's counts, and sluice's peak RSS.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startSluice } from '../test/support/processes.js';
import { startRedis } from '../test/support/redis-server.js';

const KEY = 'bench-key-0123456789abcdef';

/** Row i: a distinct UK mobile number (+447 then 9 digits), global scope, a short reason. */
function row(i: number): string {
  return `+447${String(100_000_000 + i).slice(1)},global,bench import\n`;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Streams the CSV in 64 KiB chunks, honouring backpressure; resolves with the report. */
function upload(port: number, count: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/optouts/import',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/csv' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    let i = 0;
    const pump = (): void => {
      while (i < count) {
        let chunk = '';
        while (i < count && chunk.length < 64 * 1024) chunk += row(i++);
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, count: { type: 'string' } },
  });
  const count = Number(values.count ?? 1_000_000);
  if (!(Number.isInteger(count) && count >= 1 && count <= 100_000_000)) {
    console.error('usage: bench optouts-http [--json] [--count N (default 1000000)]');
    return 2;
  }
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  try {
    const httpPort = await freePort();
    const config = join(dir, 'sluice.yaml');
    writeFileSync(
      config,
      `
http: { host: 127.0.0.1, port: ${httpPort} }
store: { kind: redis, url: '${redis.url}', keyPrefix: bench }
connectors: [{ name: sim, host: 127.0.0.1, port: ${await freePort()}, systemId: sluice, password: sluice }]
senders: [{ address: '12345', type: shortcode }]
routes: [{ connector: sim }]
apiKeys: [{ name: bench, key: ${KEY}, senders: ['*'] }]
log: { level: info }
`,
    );
    const sluice = await startSluice(config, 'inherit');
    try {
      const started = performance.now();
      const { status, body } = await upload(httpPort, count);
      const seconds = (performance.now() - started) / 1000;
      if (status !== 200) throw new Error(`import answered ${status}: ${body.slice(0, 500)}`);
      const report = JSON.parse(body) as {
        rows: number;
        added: number;
        alreadyOptedOut: number;
        invalid: number;
      };
      const out = {
        bench: 'optouts-http',
        what: 'CSV streamed to POST /v1/optouts/import of sluice (child process) on redis-server',
        machine: { cpus: os.cpus().length, node: process.version },
        rows: count,
        seconds,
        rowsPerSecond: Math.round(count / seconds),
        report: {
          rows: report.rows,
          added: report.added,
          alreadyOptedOut: report.alreadyOptedOut,
          invalid: report.invalid,
        },
        sluicePeakRssMb: Math.round(peakRssMb(sluice.pid!)),
      };
      if (values.json) console.log(JSON.stringify(out));
      else {
        console.log(
          `optouts-http: ${count.toLocaleString('en-US')} rows in ${seconds.toFixed(2)} s = ${out.rowsPerSecond.toLocaleString('en-US')} rows/s; added ${report.added.toLocaleString('en-US')}, invalid ${report.invalid}; sluice peak RSS ${out.sluicePeakRssMb} MB`,
        );
      }
    } finally {
      sluice.kill('SIGTERM');
      await new Promise((r) => sluice.once('exit', r));
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}
