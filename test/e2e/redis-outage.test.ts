/**
 * Redis goes away under a running sluice, first hung (SIGSTOP: connections open, nothing
 * answered), then stopped and started again empty on its port. Meanwhile requests that need the
 * store are answered 503 with problem JSON and Retry-After instead of waiting on it, /readyz
 * says the store is down, and the process stays up; once Redis answers again, sluice accepts and
 * delivers again. Every message answered 202 is delivered, once; a request retried with its
 * Idempotency-Key right after a timeout is one message.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Simulator } from '../../src/sim/index.js';
import { freePort, startSluice, tmpDirForFile, writeCarrierConfig } from '../support/processes.js';
import { type RedisServer, startRedis, startRedisOn } from '../support/redis-server.js';
import { countSubmits, untilDelivered } from './helpers.js';

const KEY = 'outage-test-key-0123456789';
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const dir = tmpDirForFile('sluice-outage-');

let redis: RedisServer | null = null;
afterEach(async () => {
  redis?.resume();
  await redis?.stop();
  redis = null;
});

describe('Redis hung, then down, then back', () => {
  it('answers 503 while the store cannot answer, and accepts and delivers once it can', async () => {
    redis = await startRedis();
    const sim = new Simulator({
      port: 0,
      accounts: [{ systemId: 'sluice', password: 'sluice' }],
      dlrDelayMs: 0,
    });
    const { smpp } = await sim.start();
    const submitted = countSubmits(sim);
    const httpPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const config = writeCarrierConfig(join(dir.path, 'sluice.yaml'), {
      httpPort,
      smscPort: smpp.port,
      redisUrl: redis.url,
      keyPrefix: 'outage',
      window: 10,
      apiKey: KEY,
      // Its limit lives in the same Redis: while it is down, that is a 503 too, never a 429.
      apiKeyRateLimit: 1000,
      commandTimeoutMs: 500,
    });
    const sluice = await startSluice(config);
    const accepted: Array<{ id: string; body: string }> = [];
    let n = 0;
    const submit = async (
      idempotencyKey?: string,
      body = `outage test message ${n++}`,
    ): Promise<Response> => {
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: idempotencyKey ? { ...headers, 'idempotency-key': idempotencyKey } : headers,
        body: JSON.stringify({ from: '12345', to: '+447700900123', body }),
      });
      if (res.status === 202 || res.status === 200)
        accepted.push({ id: ((await res.clone().json()) as { id: string }).id, body });
      return res;
    };
    const expectUnavailable = async () => {
      const res = await submit();
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { type: string }).type).toMatch(/\/unavailable$/);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { store: boolean }).store).toBe(false);
    };
    // The messages accepted since the last call are delivered, each submitted to the SMSC.
    let checked = 0;
    const expectDelivered = async () => {
      const fresh = accepted.slice(checked);
      checked = accepted.length;
      const statuses = await untilDelivered(
        sim,
        base,
        headers,
        fresh.map((a) => a.id),
      );
      expect([...statuses.values()]).toEqual(fresh.map(() => 'delivered'));
      for (const a of fresh) expect([a.body, submitted.get(a.body)]).toEqual([a.body, 1]);
    };
    try {
      // 1. Hung, just as the SMSC takes a message: the writes after its submit time out (as the
      // request answered 503 meanwhile does) and are tried again until they land, so the
      // message is not sent a second time.
      const server = redis;
      const hung = new Promise<void>((resolve) =>
        sim.once('submit', () => {
          server.pause();
          resolve();
        }),
      );
      expect((await submit()).status).toBe(202);
      await hung;
      await expectUnavailable();
      redis.resume();
      await expectDelivered();
      expect((await submit()).status).toBe(202);

      // An Idempotency-Key retried after a timed-out attempt, at once: one message, whatever
      // the first attempt got to write (the key is settled after its writes).
      redis.pause();
      expect((await submit('retry-me', 'outage test message with a key')).status).toBe(503);
      redis.resume();
      expect([200, 202]).toContain((await submit('retry-me', 'outage test message with a key')).status);
      await expectDelivered();

      // 2. Down: the connection is refused. (This Redis keeps nothing on disk: what it held is
      // gone when it comes back, so everything accepted so far was delivered first.)
      const { port } = redis;
      await redis.stop();
      await expectUnavailable();

      // 3. Back, empty, on the same port: sluice reconnects (with backoff) and is ready again.
      redis = await startRedisOn(port);
      await untilReady(base);
      expect((await submit()).status).toBe(202);
      await expectDelivered();
      expect(accepted).toHaveLength(4);
      expect(sluice.exitCode).toBeNull();
    } finally {
      if (sluice.exitCode === null) {
        sluice.kill('SIGTERM');
        await new Promise((resolve) => sluice.once('exit', resolve));
      }
      await sim.stop();
    }
  }, 60_000);
});

/** Asks /readyz until it answers 200: sluice's reconnection has no event a test can await. */
async function untilReady(base: string): Promise<void> {
  for (;;) {
    if ((await fetch(`${base}/readyz`)).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
