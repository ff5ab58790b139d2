/**
 * An orderly shutdown under load: sluice on Redis takes messages from concurrent clients while
 * its SMSC answers each submit after a delay (so the window is full), and gets SIGTERM. It must
 * stop taking requests (503, or the connection refused: never a 202 it then loses), let the
 * submits in flight be answered and recorded, leave no queue entry handed out to itself, unbind,
 * and exit 0. Started again, it delivers
 * every message it had accepted, and none was sent twice: only a crash may cause duplicates.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/sim/index.js';
import type { Session } from '../../src/smpp/session.js';
import { GROUP, RedisKeys } from '../../src/store/redis/keys.js';
import { freePort, startSluice, tmpDirForFile, writeCarrierConfig } from '../support/processes.js';
import { redisForFile } from '../support/redis-server.js';
import { countSubmits } from './helpers.js';

const KEY = 'shutdown-test-key-0123456789';
const CLIENTS = 16;
/** Accepted messages before the SIGTERM. */
const BEFORE = 120;

const redis = redisForFile();
const dir = tmpDirForFile('sluice-shutdown-');

describe('SIGTERM under load', () => {
  it('refuses new work, drains the window, unbinds, exits 0; after a restart all accepted are delivered once', async () => {
    const sim = new Simulator({
      port: 0,
      accounts: [{ systemId: 'sluice', password: 'sluice' }],
      dlrDelayMs: 0,
      submitDelayMs: 150,
    });
    const { smpp } = await sim.start();
    const submitsByBody = countSubmits(sim);
    const closes: string[] = [];
    sim.server.on('connection', (session: Session) =>
      session.on('close', (info) => closes.push(info.reason)),
    );

    const httpPort = await freePort();
    const config = writeCarrierConfig(join(dir.path, 'sluice.yaml'), {
      httpPort,
      smscPort: smpp.port,
      redisUrl: redis.url,
      keyPrefix: 'shutdown',
      window: 20,
      apiKey: KEY,
      extra: 'shutdownTimeoutSeconds: 20',
    });
    const base = `http://127.0.0.1:${httpPort}`;
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

    let sluice = await startSluice(config);
    const accepted = new Map<string, string>();
    const refused: Array<number | string> = [];
    let next = 0;
    let signalled: (() => void) | null = null;
    const enough = new Promise<void>((resolve) => {
      signalled = resolve;
    });
    const client = async () => {
      for (;;) {
        const body = `shutdown test message ${next++}`;
        let status: number;
        let json: { id?: string } = {};
        try {
          const res = await fetch(`${base}/v1/messages`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ from: '12345', to: '+447700900123', body }),
          });
          status = res.status;
          json = (await res.json()) as { id?: string };
        } catch (err) {
          // Refused or reset once the listener is closed: no answer is no promise.
          refused.push((err as { cause?: { code?: string } }).cause?.code ?? 'fetch failed');
          return;
        }
        if (status !== 202) {
          refused.push(status);
          return;
        }
        accepted.set(json.id!, body);
        if (accepted.size >= BEFORE) signalled?.();
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await enough;
    const submittedAtSignal = sim.stats().submits;
    sluice.kill('SIGTERM');
    const [code] = (await once(sluice, 'exit')) as [number | null];
    await Promise.all(clients);

    expect(code).toBe(0);
    // The bind ended with an unbind from sluice, not a dropped connection.
    expect(closes).toEqual(['peer unbound']);
    // Every client's last request was refused in the protocol's terms or not taken at all.
    expect(refused).toHaveLength(CLIENTS);
    for (const r of refused) expect([503, 'ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']).toContain(r);
    // The drain was real: submits were answered after the signal.
    expect(sim.stats().submits).toBeGreaterThan(submittedAtSignal);
    // And finished: no queue entry is left handed out to the stopped process, waiting to be
    // reclaimed (what a crash leaves); the messages it had not sent are back in the queue.
    const pending = (await redis.admin.xpending(new RedisKeys('shutdown').stream('carrier'), GROUP)) as [
      number,
    ];
    expect(pending[0]).toBe(0);

    // Started again, every accepted message goes out, and none twice.
    let receipts = 0;
    const allReceipts = new Promise<void>((resolve) =>
      sim.on('delivered', (pdu) => {
        if (pdu.esm_class === 0x04 && ++receipts >= accepted.size) resolve();
      }),
    );
    const receiptsBefore = sim.stats().receiptsSent;
    receipts = receiptsBefore;
    sluice = await startSluice(config);
    try {
      if (receipts < accepted.size) await allReceipts;
      expect(new Set(submitsByBody.keys())).toEqual(new Set(accepted.values()));
      const duplicates = [...submitsByBody.values()].filter((n) => n > 1).length;
      expect(duplicates).toBe(0);
      const statuses = new Map<string, string>();
      for (let round = 0; round < 100; round++) {
        const pending = [...accepted.keys()].filter((id) => statuses.get(id) !== 'delivered');
        if (pending.length === 0) break;
        for (const id of pending) {
          const res = await fetch(`${base}/v1/messages/${id}`, { headers });
          statuses.set(id, ((await res.json()) as { status: string }).status);
        }
      }
      expect([...statuses.values()].filter((s) => s === 'delivered')).toHaveLength(accepted.size);
    } finally {
      sluice.kill('SIGTERM');
      await once(sluice, 'exit');
      await sim.stop();
    }
  }, 60_000);
});
