/**
 * Status callbacks over real sockets: sluice posts each message's `sent` and final status to its
 * callbackUrl, a real HTTP server here, signed with the API key's callbackSecret; failures are
 * tried again through the store, survive a restart, and end (refused, expired) counted.
 */
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OUTBOX } from '../../src/store/types.js';
import { type Rig, startRig, storeMatrix } from './helpers.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: {
    event: { id: string; status: string; at: string; attempt: number };
    message: {
      id: string;
      status: string;
      parts: Array<{ state: string; smscId: string | null }>;
      reference: string | null;
    };
  };
}

/** A callback receiver: records every POST and answers what `respond` says (200 by default). */
class Receiver {
  readonly received: Received[] = [];
  /** null: no answer at all (the request hangs until sluice gives up on it). */
  respond: (r: Received) => { status: number; headers?: Record<string, string> } | null = () => ({
    status: 200,
  });
  readonly #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const r: Received = { headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] };
      this.received.push(r);
      const answer = this.respond(r);
      if (answer !== null) res.writeHead(answer.status, answer.headers ?? {}).end();
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.done()) return true;
        w.resolve();
        return false;
      });
    });
  });
  #waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  async listen(port = 0): Promise<string> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks/sms?token=t0k3n`;
  }

  /** Resolves once the POSTs received satisfy `done`. */
  until(done: (received: Received[]) => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (done(this.received)) resolve();
      else this.#waiters.push({ done: () => done(this.received), resolve });
    });
  }

  statuses(messageId: string): string[] {
    return this.received.filter((r) => r.body.message.id === messageId).map((r) => r.body.event.status);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

let rig: Rig | null = null;
let receiver: Receiver | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
  await receiver?.close();
  receiver = null;
});

const stores = storeMatrix('cb');
const SECRET = 'whsec-0123456789abcdef';
const MSG = { from: '12345', to: '+447700900123', body: 'Your code is 4711' };

/** sluice_callbacks_total{outcome} as the gateway's registry has it. */
async function callbacksCounted(r: Rig, outcome: string): Promise<number> {
  const metric = await r.gateway.metrics.registry.getSingleMetric('sluice_callbacks_total')!.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** Resolves once sluice_callbacks_total{outcome} reaches n: the outcome is recorded by then. */
async function untilCounted(r: Rig, outcome: string, n: number): Promise<void> {
  while ((await callbacksCounted(r, outcome)) < n) await new Promise((resolve) => setImmediate(resolve));
}

describe.each(stores)('status callbacks with the %s store', (_, store) => {
  it('posts sent and delivered to the callbackUrl, signed with the API key’s callbackSecret', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.apiKeys[0]!.callbackSecret = SECRET;
      },
    });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url, reference: 'order-17' });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    await receiver.until((got) => got.some((r) => r.body.event.status === 'delivered'));
    await untilCounted(rig, 'ok', 2);
    expect(receiver.statuses(id).sort()).toEqual(['delivered', 'sent']);
    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toMatch(/^sluice\/\d+\.\d+\.\d+/);
      expect(r.headers['sluice-event-id']).toBe(`${id}.${r.body.event.status}`);
      expect(r.body.event).toMatchObject({ id: `${id}.${r.body.event.status}`, attempt: 1 });
      expect(r.body.message).toMatchObject({ id, reference: 'order-17' });
      expect(r.body.message).not.toHaveProperty('body');
      const timestamp = r.headers['sluice-timestamp'] as string;
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
      const expected = createHmac('sha256', SECRET).update(`${timestamp}.${r.raw}`).digest('hex');
      expect(r.headers['sluice-signature']).toBe(`v1=${expected}`);
    }
    const delivered = receiver.received.find((r) => r.body.event.status === 'delivered')!;
    expect(delivered.body.message.status).toBe('delivered');
    expect(delivered.body.message.parts[0]).toMatchObject({ state: 'delivered' });
    expect(Date.parse(delivered.body.event.at)).not.toBeNaN();
    // Everything posted was taken: the outbox is empty.
    expect(await rig.gateway.store.queue.depth(OUTBOX)).toBe(0);
  });

  it('posts nothing for a message without a callbackUrl, and unsigned for a key without a secret', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    rig = await startRig({ store: store() });
    const plain = await rig.post('/v1/messages', MSG);
    await rig.statusReached(plain.json.id as string, 'delivered');
    expect(await rig.gateway.store.queue.depth(OUTBOX)).toBe(0);
    const hooked = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    const id = hooked.json.id as string;
    await receiver.until((got) => got.length === 2);
    expect(receiver.statuses(id).sort()).toEqual(['delivered', 'sent']);
    expect(receiver.received.every((r) => r.headers['sluice-signature'] === undefined)).toBe(true);
  });

  it('sends the credentials of a callbackUrl as Basic authorization', async () => {
    receiver = new Receiver();
    const url = (await receiver.listen()).replace('http://', 'http://hooks:s3cr%40t@');
    rig = await startRig({ store: store() });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    expect(res.status).toBe(202);
    await receiver.until((got) => got.length === 2);
    const expected = `Basic ${Buffer.from('hooks:s3cr@t').toString('base64')}`;
    expect(receiver.received.map((r) => r.headers.authorization)).toEqual([expected, expected]);
  });

  it('tries a failed POST again (503, then 500 with Retry-After) with the same event id', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    const answers = [503, 500];
    receiver.respond = (r) =>
      r.body.event.status === 'sent' && answers.length > 0
        ? {
            status: answers.shift()!,
            headers: answers.length === 0 ? { 'retry-after': '0' } : ({} as Record<string, string>),
          }
        : { status: 204 };
    rig = await startRig({ store: store() });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    const id = res.json.id as string;
    await receiver.until((got) => got.filter((r) => r.body.event.status === 'sent').length === 3);
    await untilCounted(rig, 'ok', 2);
    const sent = receiver.received.filter((r) => r.body.event.status === 'sent');
    expect(sent.map((r) => r.body.event.id)).toEqual([`${id}.sent`, `${id}.sent`, `${id}.sent`]);
    expect(sent.map((r) => r.body.event.attempt)).toEqual([1, 2, 3]);
    expect(await callbacksCounted(rig, 'retry')).toBe(2);
    expect(await rig.gateway.store.queue.depth(OUTBOX)).toBe(0);
  });

  it('drops an event its receiver refuses with a 4xx, once, and counts it', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.respond = () => ({ status: 410 });
    rig = await startRig({ store: store() });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    await rig.statusReached(res.json.id as string, 'delivered');
    await untilCounted(rig, 'refused', 2);
    expect(receiver.received).toHaveLength(2);
    expect(await callbacksCounted(rig, 'retry')).toBe(0);
    // Acked, not deferred: nothing is left to try again.
    expect(await rig.gateway.store.queue.depth(OUTBOX)).toBe(0);
  });

  it('rests a receiver that keeps failing: its events wait untried, and other receivers are served', async () => {
    receiver = new Receiver();
    const healthy = await receiver.listen();
    const failing = new Receiver();
    failing.respond = () => ({ status: 503 });
    try {
      const dead = await failing.listen();
      rig = await startRig({ store: store() });
      for (let i = 0; i < 6; i++) {
        const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: dead });
        expect(res.status).toBe(202);
      }
      await untilCounted(rig, 'held', 6);
      const alive = await rig.post('/v1/messages', { ...MSG, callbackUrl: healthy });
      await receiver.until((got) => got.length === 2);
      expect(receiver.statuses(alive.json.id as string).sort()).toEqual(['delivered', 'sent']);
      // 12 events (sent and delivered of 6 messages), tried again within tens of ms: without a
      // rest they would have been posted again and again by now. With it, each failed about
      // once before the 5th failure in a row put the receiver to rest (5 s, beyond this test).
      expect(failing.received.length).toBeGreaterThanOrEqual(5);
      expect(failing.received.length).toBeLessThanOrEqual(24);
      expect(await callbacksCounted(rig, 'expired')).toBe(0);
    } finally {
      await failing.close();
    }
  });

  it('gives up on an event not taken within callbacks.maxAgeSeconds', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.respond = () => ({ status: 502 });
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.callbacks.maxAgeSeconds = 1;
      },
    });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    await rig.statusReached(res.json.id as string, 'delivered');
    await untilCounted(rig, 'expired', 2);
    expect(await callbacksCounted(rig, 'ok')).toBe(0);
    expect(await callbacksCounted(rig, 'retry')).toBeGreaterThan(0);
    expect(await rig.gateway.store.queue.depth(OUTBOX)).toBe(0);
  });

  it('posts blocked for a message to an opted-out number', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    rig = await startRig({ store: store() });
    const optOut = await fetch(`http://127.0.0.1:${rig.gateway.httpPort}/v1/optouts/447700900123`, {
      method: 'PUT',
      headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'global' }),
    });
    expect(optOut.status).toBe(201);
    const single = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    expect(single.json.status).toBe('blocked');
    const batch = await rig.post('/v1/messages/batch', { messages: [{ ...MSG, callbackUrl: url }] });
    const batchId = (batch.json.results as Array<{ message: { id: string } }>)[0]!.message.id;
    await receiver.until((got) => got.length === 2);
    expect(receiver.statuses(single.json.id as string)).toEqual(['blocked']);
    expect(receiver.statuses(batchId)).toEqual(['blocked']);
    expect(receiver.received[0]!.body.message.status).toBe('blocked');
  });

  it('refuses a callbackUrl with 422 when callbacks are turned off', async () => {
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.callbacks.enabled = false;
      },
    });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: 'https://example.com/hook' });
    expect(res.status).toBe(422);
    expect(res.json.errors).toEqual([{ field: 'callbackUrl', message: expect.stringContaining('GET') }]);
  });
});

describe('status callbacks across a restart (redis)', () => {
  const [, [, redisStore]] = stores as [
    unknown,
    [string, () => import('../../src/config/types.js').StoreConfig],
  ];

  it('keeps an event that failed in Redis, and the next process posts it', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.respond = () => ({ status: 503, headers: { 'retry-after': '1' } });
    const store = redisStore();
    rig = await startRig({ store });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    const id = res.json.id as string;
    await rig.statusReached(id, 'delivered');
    await untilCounted(rig, 'retry', 2);
    await rig.stop();
    rig = null;
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
    receiver.respond = () => ({ status: 200 });
    const before = receiver.received.length;
    rig = await startRig({ store });
    await untilCounted(rig, 'ok', 2);
    const after = receiver.received.slice(before);
    expect(after.map((r) => r.body.event.status).sort()).toEqual(['delivered', 'sent']);
    expect(after.every((r) => r.body.event.attempt >= 2)).toBe(true);
  });

  it('cuts off POSTs still unanswered when it stops, and leaves their events for the next process', async () => {
    receiver = new Receiver();
    const url = await receiver.listen();
    receiver.respond = () => null;
    const store = redisStore();
    // A timeout and a shutdown deadline beyond the test's own (30 s): the stop must not wait for them.
    rig = await startRig({
      store,
      edit: (c) => {
        c.callbacks.timeoutMs = 60_000;
        c.shutdownTimeoutSeconds = 60;
      },
    });
    const res = await rig.post('/v1/messages', { ...MSG, callbackUrl: url });
    const id = res.json.id as string;
    await receiver.until((got) => got.length === 2);
    await rig.stop();
    rig = null;
    receiver.respond = () => ({ status: 200 });
    rig = await startRig({ store });
    // Neither acked nor deferred: still pending, taken over once idle, and posted again.
    await untilCounted(rig, 'ok', 2);
    expect(receiver.statuses(id).sort()).toEqual(['delivered', 'delivered', 'sent', 'sent']);
  });
});
