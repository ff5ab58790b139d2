/**
 * The whole SMS path over real sockets: HTTP → sluice → SMPP → the simulator → receipt → status,
 * once with the memory store and once with a real redis-server.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { MessageRecord } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { type GatewayHandle, startGateway } from '../../src/main.js';
import { CommandStatus } from '../../src/smpp/constants.js';
import { SmppClient } from '../../src/smpp/index.js';
import { GROUP, RedisKeys } from '../../src/store/redis/index.js';
import { encodeRecord } from '../../src/store/redis/record.js';
import type { RawServer } from '../support/raw-peer.js';
import { countSubmits, gatewayOnRawSmsc, type Rig, startRig, storeMatrix } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const stores = storeMatrix('e2e');

const LONG = 'Your parcel 4711 is out for delivery today between 10:00 and 14:00. '.repeat(6).trim();

describe.each(stores)('end to end with the %s store', (_, store) => {
  it('accepts a message with 202, sends it, and shows it delivered once the receipt is in', async () => {
    rig = await startRig({ store: store() });
    const res = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'Your code is 4711',
    });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    await rig.statusReached(id, 'delivered');
    const got = await rig.get(`/v1/messages/${id}`);
    expect(got.status).toBe(200);
    expect(got.json.status).toBe('delivered');
    const events = (got.json.events as Array<{ status: string }>).map((e) => e.status);
    expect(events).toEqual(['accepted', 'queued', 'sending', 'sent', 'delivered']);
    const parts = got.json.parts as Array<{ state: string; smscId: string | null }>;
    expect(parts).toHaveLength(1);
    expect(parts[0]?.state).toBe('delivered');
    expect(parts[0]?.smscId).toMatch(/^[0-9a-f]{10,}$/);
    expect(rig.sim.stats().submits).toBe(1);
  });

  it('delivers a 3-part message only once all 3 parts have their receipts', async () => {
    rig = await startRig({ store: store(), sim: { holdReceipts: true } });
    const res = await rig.post('/v1/messages', { from: '12345', to: '+447700900123', body: LONG });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    const sent = await rig.statusReached(id, 'sent');
    expect(sent.parts.map((p) => p.state)).toEqual(['submitted', 'submitted', 'submitted']);
    for (let i = 1; i <= 2; i++) {
      const accepted = rig.receiptsAccepted(1);
      rig.sim.releaseReceipts(1);
      await accepted;
      const mid = (await rig.gateway.store.messages.getMany([id]))[0]!;
      expect(mid.status).toBe('sent');
      expect(mid.parts.filter((p) => p.state === 'delivered')).toHaveLength(i);
    }
    rig.sim.releaseReceipts(1);
    const done = await rig.statusReached(id, 'delivered');
    expect(done.parts.every((p) => p.state === 'delivered')).toBe(true);
    // Concatenated with a UDH: three submit_sm with esm_class 0x40 and one shared reference.
    expect(rig.sim.stats().submits).toBe(3);
  });

  it('retries a submit the SMSC throttles (ESME_RTHROTTLED) and still delivers the message', async () => {
    let throttled = 0;
    rig = await startRig({
      store: store(),
      sim: {
        decideSubmit: () => {
          if (throttled < 2) {
            throttled++;
            return CommandStatus.ESME_RTHROTTLED;
          }
          return 0;
        },
      },
    });
    const res = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'Payment reminder',
    });
    const done = await rig.statusReached(res.json.id as string, 'delivered');
    expect(throttled).toBe(2);
    expect(done.attempts).toBe(3);
  });

  it('counts a submit left unanswered (timed out) as a possible duplicate, and sends its part again', async () => {
    // The SMSC takes each submit, but answers after sluice has stopped waiting.
    rig = await startRig({
      store: store(),
      sim: { submitDelayMs: 300 },
      edit: (c) => {
        c.connectors[0]!.requestTimeoutMs = 100;
      },
    });
    const taken = new Promise<void>((resolve) => {
      let n = 0;
      rig!.sim.on('submit', () => {
        if (++n === 2) resolve();
      });
    });
    await rig.post('/v1/messages', { from: '12345', to: '+447700900123', body: 'Delivery notice' });
    await taken;
    // Both reached the SMSC; each had timed out 200 ms before the SMSC took it.
    const counted = await rig.gateway.metrics.duplicateSubmits.get();
    const by = (reason: string) =>
      counted.values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
    expect(by('unanswered')).toBeGreaterThanOrEqual(2);
    expect(by('reclaimed')).toBe(0);
  });

  it('fails a message on a permanent error (ESME_RINVDSTADR), naming it', async () => {
    rig = await startRig({ store: store(), sim: { decideSubmit: () => CommandStatus.ESME_RINVDSTADR } });
    const res = await rig.post('/v1/messages', { from: '12345', to: '+447700900123', body: 'Fraud alert' });
    const failed = await rig.statusReached(res.json.id as string, 'failed');
    expect(failed.parts[0]?.error).toBe('ESME_RINVDSTADR');
    expect(failed.error?.code).toBe('ESME_RINVDSTADR');
    const got = await rig.get(`/v1/messages/${res.json.id as string}`);
    expect(got.json.status).toBe('failed');
  });

  it('gives one message for two requests with the same Idempotency-Key', async () => {
    rig = await startRig({ store: store() });
    const body = { from: '12345', to: '+447700900123', body: 'Appointment tomorrow at 9' };
    const first = await rig.post('/v1/messages', body, { 'idempotency-key': 'order-1234' });
    const second = await rig.post('/v1/messages', body, { 'idempotency-key': 'order-1234' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
    await rig.statusReached(first.json.id as string, 'delivered');
    expect(rig.sim.stats().submits).toBe(1);
  });

  it('gives one message for concurrent requests with the same Idempotency-Key', async () => {
    rig = await startRig({ store: store() });
    const body = { from: '12345', to: '+447700900123', body: 'Payment reminder 7781' };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => rig!.post('/v1/messages', body, { 'idempotency-key': 'pay-7781' })),
    );
    // One is accepted; the others see it either still being accepted (409, retry) or done (200,
    // the same message).
    const created = answers.filter((a) => a.status === 202);
    expect(created).toHaveLength(1);
    const id = created[0]!.json.id as string;
    for (const a of answers) {
      if (a.status === 202) continue;
      if (a.status === 200) expect(a.json.id).toBe(id);
      else
        expect(a).toMatchObject({
          status: 409,
          json: { type: 'https://sluice.dev/problems/idempotency-key-in-use' },
        });
    }
    // A retry once it is accepted gets the message.
    const retry = await rig.post('/v1/messages', body, { 'idempotency-key': 'pay-7781' });
    expect(retry).toMatchObject({ status: 200, json: { id } });
    await rig.statusReached(id, 'delivered');
    expect(rig.sim.stats().submits).toBe(1);
  });

  it('answers 409 for an Idempotency-Key reused with a different request, and takes a reordered one', async () => {
    rig = await startRig({ store: store() });
    const body = { from: '12345', to: '+447700900123', body: 'Your order 55 shipped' };
    const first = await rig.post('/v1/messages', body, { 'idempotency-key': 'ship-55' });
    expect(first.status).toBe(202);
    // The same fields in another order, and the number without its '+': the same request.
    const same = await rig.post(
      '/v1/messages',
      { body: body.body, to: '447700900123', from: body.from },
      { 'idempotency-key': 'ship-55' },
    );
    expect(same).toMatchObject({ status: 200, json: { id: first.json.id } });
    const other = await rig.post(
      '/v1/messages',
      { ...body, body: 'Your order 56 shipped' },
      {
        'idempotency-key': 'ship-55',
      },
    );
    expect(other).toMatchObject({ status: 409, json: { type: 'https://sluice.dev/problems/conflict' } });
    await rig.statusReached(first.json.id as string, 'delivered');
    expect(rig.sim.stats().submits).toBe(1);
  });

  it('matches receipts whose id is written in another base than the submit response', async () => {
    rig = await startRig({
      store: store(),
      sim: { idFormat: 'hex', receiptIdFormat: 'dec', receiptTlvs: false },
    });
    const res = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'Delivery notice',
    });
    const done = await rig.statusReached(res.json.id as string, 'delivered');
    expect(done.parts[0]?.smscId).toMatch(/^0*[0-9a-f]+$/);
  });

  it('applies receipts that come before their submit_sm_resp is recorded, each counted once', async () => {
    // The simulator sends each receipt right behind its submit_sm_resp: most arrive before sluice
    // has written the SMSC id down. They wait for that write instead of going through the stash.
    rig = await startRig({ store: store() });
    const messages = Array.from({ length: 200 }, (_, i) => ({
      from: '12345',
      to: `+4477009${String(i).padStart(5, '0')}`,
      body: `Reminder ${i}`,
    }));
    const res = await rig.post('/v1/messages/batch', { messages });
    const ids = (res.json.results as Array<{ message: { id: string } }>).map((r) => r.message.id);
    await Promise.all(ids.map((id) => rig!.statusReached(id, 'delivered')));
    const counts = Object.fromEntries(
      (await rig.gateway.metrics.receipts.get()).values.map((v) => [v.labels.result, v.value]),
    );
    // Every result's series is there from the start, at 0 until it happens.
    expect(counts).toEqual({ matched: 200, early: 0, not_final: 0, unreadable: 0 });
    expect(rig.sim.stats().submits).toBe(200);
  });

  it('sends a message held longer than the reclaim time once: it is not handed to its own holder again', async () => {
    // The rig reclaims entries idle for 200 ms; the SMSC takes 600 ms to answer each submit, so
    // every entry is handed out again while this process still waits for its answer.
    rig = await startRig({ store: store(), sim: { submitDelayMs: 600 } });
    const messages = Array.from({ length: 20 }, (_, i) => ({
      from: '12345',
      to: `+4477009${String(i).padStart(5, '0')}`,
      body: `Slow carrier ${i}`,
    }));
    const res = await rig.post('/v1/messages/batch', { messages });
    const ids = (res.json.results as Array<{ message: { id: string } }>).map((r) => r.message.id);
    await Promise.all(ids.map((id) => rig!.statusReached(id, 'delivered')));
    expect(rig.sim.stats().submits).toBe(20);
    const duplicates = (await rig.gateway.metrics.duplicateSubmits.get()).values.reduce(
      (n, v) => n + v.value,
      0,
    );
    expect(duplicates).toBe(0);
  });

  it('stores nothing for a request with another pipelined behind it: uWS drops that connection unanswered', async () => {
    rig = await startRig({ store: store() });
    const submits = countSubmits(rig.sim);
    const post = (path: string, body: unknown, key: string | null) => {
      const json = JSON.stringify(body);
      return (
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-key\r\n` +
        `Content-Type: application/json\r\n${key === null ? '' : `Idempotency-Key: ${key}\r\n`}` +
        `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`
      );
    };
    const message = (body: string) => ({ from: '12345', to: '+447700900123', body });
    for (const requests of [
      `${post('/v1/messages', message('pipelined 1'), 'pipe-key')}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
      post('/v1/messages', message('pipelined 2'), null) + post('/v1/messages', message('pipelined 3'), null),
      post('/v1/messages/batch', { messages: [message('pipelined 4')] }, null) +
        post('/v1/messages', message('pipelined 5'), null),
    ]) {
      const socket = net.connect(rig.gateway.httpPort, '127.0.0.1');
      let received = 0;
      socket.on('data', (d: Buffer) => {
        received += d.length;
      });
      socket.write(requests);
      await once(socket, 'close');
      expect(received).toBe(0);
    }
    // The queue is first in, first out: a pipelined message stored would be sent before this one.
    const after = await rig.post('/v1/messages', message('after'));
    await rig.statusReached(after.json.id as string, 'delivered');
    expect([...submits.keys()]).toEqual(['after']);
    // Nor is the key left bound: a retry with it makes the message.
    const retry = await rig.post('/v1/messages', message('pipelined 1'), { 'idempotency-key': 'pipe-key' });
    expect(retry.status).toBe(202);
  });

  it('takes a batch: valid items queued and delivered, invalid ones reported by index', async () => {
    rig = await startRig({ store: store() });
    const res = await rig.post('/v1/messages/batch', {
      messages: [
        { from: '12345', to: '+447700900123', body: 'one' },
        { from: '12345', to: 'not-a-number', body: 'two' },
        { from: '12345', to: '+447700900124', body: 'three' },
      ],
    });
    expect(res.status).toBe(200);
    const results = res.json.results as Array<{ index: number; status: number; message?: { id: string } }>;
    expect(results.map((r) => r.status)).toEqual([202, 422, 202]);
    await Promise.all([
      rig.statusReached(results[0]!.message!.id, 'delivered'),
      rig.statusReached(results[2]!.message!.id, 'delivered'),
    ]);
  });
});

describe('POST /v1/segments with from and to', () => {
  it('previews what a message between them is sent as: the connector’s mode, the sender’s tables, the part limit', async () => {
    rig = await startRig({
      store: { kind: 'memory' },
      edit: (c) => {
        c.connectors[0]!.concatenation = 'udh16';
        c.messages.maxParts = 255;
      },
    });
    const submits = countSubmits(rig.sim);
    const text = 'x'.repeat(1530); // 10 parts of 153 (udh8), 11 of 152 (udh16)
    const routed = await rig.post('/v1/segments', { text, from: '12345', to: '+447700900123' });
    expect(routed.status).toBe(200);
    expect(routed.json).toMatchObject({ encoding: 'gsm7', partCount: 11 });
    const sent = await rig.post('/v1/messages', { from: '12345', to: '+447700900123', body: text });
    await rig.statusReached(sent.json.id as string, 'delivered');
    expect([...submits.values()].reduce((a, b) => a + b, 0)).toBe(11);
    // Without them: the text engine's defaults (udh8), but the configured part limit (not 10).
    const plain = await rig.post('/v1/segments', { text: 'x'.repeat(2295) });
    expect(plain.json).toMatchObject({ partCount: 15 });
    // A body as long as 255 parts of GSM-7 can carry is taken (131 parts here).
    const long = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'x'.repeat(20_001),
    });
    expect(long.status).toBe(202);
  });

  it('answers for a sender, recipient or text it could not send', async () => {
    rig = await startRig({ store: { kind: 'memory' } });
    const cases: Array<[unknown, number, string]> = [
      [{ text: 'hi', from: 'NOPE', to: '+447700900123' }, 422, 'from'],
      [{ text: 'hi', from: '12345' }, 400, 'to'],
      [{ text: 'hi', from: '12345', to: '+447700900123', mode: 'sar' }, 400, 'mode'],
      [{ text: '' }, 422, 'text'],
    ];
    for (const [body, status, field] of cases) {
      const res = await rig.post('/v1/segments', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((res.json.errors as Array<{ field: string }>).map((e) => e.field)).toContain(field);
    }
  });
});

describe('data_sm from the SMSC', () => {
  /** A gateway bound to a raw SMSC (the test plays it) through the embedded configuration. */
  async function withRawSmsc(
    run: (gateway: GatewayHandle, smsc: Awaited<ReturnType<RawServer['accept']>>) => Promise<void>,
  ): Promise<void> {
    const { raw, gateway } = await gatewayOnRawSmsc();
    try {
      const smsc = await raw.accept();
      const bind = await smsc.expect('bind_transceiver');
      smsc.sendPdu('bind_transceiver_resp', { system_id: 'raw' }, bind.sequence_number);
      await run(gateway, smsc);
    } finally {
      // The raw SMSC never answers the unbind: drop it first.
      await raw.close();
      await gateway.stop('test done');
    }
  }

  it('as a receipt is applied as a deliver_sm receipt would be, and answered with data_sm_resp', async () => {
    await withRawSmsc(async (gateway, smsc) => {
      const res = await fetch(`http://127.0.0.1:${gateway.httpPort}/v1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
        body: JSON.stringify({ from: '12345', to: '+447700900123', body: 'Receipt by data_sm' }),
      });
      const { id } = (await res.json()) as { id: string };
      const submit = await smsc.expect('submit_sm');
      smsc.sendPdu('submit_sm_resp', { message_id: 'DS1' }, submit.sequence_number);
      const delivered = new Promise<MessageRecord>((resolve) =>
        gateway.events.on('status', (r) => {
          if (r.id === id && r.status === 'delivered') resolve(r);
        }),
      );
      smsc.sendPdu(
        'data_sm',
        { esm_class: 0x04, tlvs: { receipted_message_id: 'DS1', message_state: 2 } },
        900,
      );
      const resp = await smsc.expect('data_sm_resp');
      expect([resp.sequence_number, resp.command_status]).toEqual([900, 0]);
      expect((await delivered).parts[0]).toMatchObject({ smscId: 'DS1', state: 'delivered' });
    });
  });

  it('counts receipts it cannot apply: not final (ENROUTE), unreadable (no id anywhere)', async () => {
    await withRawSmsc(async (gateway, smsc) => {
      const receipt = (text: string, seq: number) => {
        smsc.sendPdu('deliver_sm', { esm_class: 0x04, short_message: Buffer.from(text) }, seq);
      };
      receipt(
        'id:0A1B sub:001 dlvrd:000 submit date:2611230101 done date:2611230101 stat:ENROUTE err:000',
        50,
      );
      receipt('your message was delivered', 51);
      // Answered either way (the SMSC must not send them again), and counted.
      for (const seq of [50, 51]) {
        const resp = await smsc.expect('deliver_sm_resp');
        expect([resp.sequence_number, resp.command_status]).toEqual([seq, 0]);
      }
      const counted = (await gateway.metrics.receipts.get()).values.map((v) => [v.labels.result, v.value]);
      expect(counted.sort()).toEqual([
        ['early', 0],
        ['matched', 0],
        ['not_final', 1],
        ['unreadable', 1],
      ]);
    });
  });

  it('as MO is a keyword like a deliver_sm: STOP opts the number out and is confirmed', async () => {
    await withRawSmsc(async (gateway, smsc) => {
      // The text of a data_sm is in message_payload (it has no short_message).
      smsc.sendPdu(
        'data_sm',
        {
          source_addr: '447700900124',
          destination_addr: '12345',
          tlvs: { message_payload: Buffer.from('Stop') },
        },
        901,
      );
      // Answered once the opt-out and the confirmation are stored; the confirmation then goes out.
      const resp = await smsc.expect('data_sm_resp');
      expect([resp.sequence_number, resp.command_status]).toEqual([901, 0]);
      const confirmation = await smsc.expect('submit_sm');
      expect([confirmation.source_addr, confirmation.destination_addr]).toEqual(['12345', '447700900124']);
      expect(confirmation.short_message.toString('latin1')).toContain('You are unsubscribed');
      const entries = await gateway.store.optouts.get('447700900124');
      expect(entries.map((e) => [e.scope, e.source, e.keyword])).toEqual([
        [expect.any(String), 'keyword', 'STOP'],
      ]);
    });
  });
});

describe('an SMSC that says it is throttling', () => {
  it('pauses the connector for 100 ms, then sends the rest', async () => {
    const clock = new ManualClock();
    let answers = 0;
    rig = await startRig({
      store: { kind: 'memory' },
      clock,
      sim: { decideSubmit: () => (++answers === 1 ? CommandStatus.ESME_RTHROTTLED : 0) },
      edit: (c) => {
        c.connectors[0]!.window = 1; // one submit at a time: the second waits behind the first
      },
    });
    const res = await rig.post('/v1/messages/batch', {
      messages: ['first', 'second'].map((body) => ({ from: '12345', to: '+447700900123', body })),
    });
    const [first, second] = (res.json.results as Array<{ message: { id: string } }>).map((r) => r.message.id);
    const pauses = async () =>
      (await rig!.gateway.metrics.throttledWaits.get()).values.find((v) => v.labels.limit === 'smsc')
        ?.value ?? 0;
    // The throttled answer starts the pause (one event-loop turn at a time: no timer runs here).
    while ((await pauses()) === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const delivered = rig.statusReached(second!, 'delivered');
    clock.advance(99);
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(rig.sim.stats().submits).toBe(0);
    clock.advance(1);
    await delivered;
    // The throttled one comes back after its own backoff.
    const again = rig.statusReached(first!, 'delivered');
    clock.advance(1_000);
    await again;
    expect(await pauses()).toBe(1);
  });
});

describe('two processes on one Redis', () => {
  const redisStore = stores.find(([name]) => name === 'redis')![1];

  it('sends a message held longer than the reclaim time once: its holder keeps it from the other process', async () => {
    // Both reclaim entries idle for 200 ms; the SMSC takes 600 ms to answer each submit. Without
    // the holder's heartbeat the other process would take every entry in hand and send it again.
    rig = await startRig({ store: redisStore(), sim: { submitDelayMs: 600 } });
    let peer: GatewayHandle | null = null;
    try {
      peer = await startGateway(rig.config, { logger: silentLogger, retryInitialMs: 20, reclaimIdleMs: 200 });
      while (rig.sim.stats().binds.transceiver < 2) await once(rig.sim.server, 'bound');
      const messages = Array.from({ length: 20 }, (_, i) => ({
        from: '12345',
        to: `+4477009${String(i).padStart(5, '0')}`,
        body: `Slow carrier ${i}`,
      }));
      // Either process may send a message and record its receipt: delivered is heard from both.
      const delivered = new Set<string>();
      const allDelivered = new Promise<void>((resolve) => {
        const onStatus = (r: MessageRecord) => {
          if (r.status === 'delivered') delivered.add(r.id);
          if (delivered.size === messages.length) resolve();
        };
        rig!.gateway.events.on('status', onStatus);
        peer!.events.on('status', onStatus);
      });
      const res = await rig.post('/v1/messages/batch', { messages });
      expect(res.status).toBe(200);
      await allDelivered;
      expect(rig.sim.stats().submits).toBe(20);
      let duplicates = 0;
      for (const g of [rig.gateway, peer]) {
        for (const v of (await g.metrics.duplicateSubmits.get()).values) duplicates += v.value;
      }
      expect(duplicates).toBe(0);
    } finally {
      await peer?.stop('test done');
    }
  });

  it('answers a STOP with ESME_RX_T_APPN, recording nothing, while Redis may evict; takes it once it may not', async () => {
    const storeConfig = redisStore();
    if (storeConfig.kind !== 'redis') throw new Error('a Redis store is needed');
    const admin = new Redis(storeConfig.url);
    await admin.config('SET', 'maxmemory', '1gb');
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
    const { raw, gateway } = await gatewayOnRawSmsc(storeConfig);
    try {
      const smsc = await raw.accept();
      const bind = await smsc.expect('bind_transceiver');
      smsc.sendPdu('bind_transceiver_resp', { system_id: 'raw' }, bind.sequence_number);
      const stop = (seq: number) =>
        smsc.sendPdu(
          'deliver_sm',
          { source_addr: '447700900125', destination_addr: '12345', short_message: Buffer.from('STOP') },
          seq,
        );
      stop(1);
      const refused = await smsc.expect('deliver_sm_resp');
      expect([refused.sequence_number, refused.command_status]).toEqual([1, CommandStatus.ESME_RX_T_APPN]);
      expect(await gateway.store.optouts.get('447700900125')).toEqual([]);
      // Fixed: the SMSC's resend is taken, recorded once and confirmed.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      stop(2);
      const taken = await smsc.expect('deliver_sm_resp');
      expect([taken.sequence_number, taken.command_status]).toEqual([2, 0]);
      expect(await gateway.store.optouts.get('447700900125')).toHaveLength(1);
      expect((await gateway.metrics.keywordEvents.get()).values.map((v) => v.value)).toEqual([1]);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
      await raw.close();
      await gateway.stop('test done');
    }
  });

  it('says at start, at error level, that messages wait for a connector no longer configured', async () => {
    const storeConfig = redisStore();
    if (storeConfig.kind !== 'redis') throw new Error('a Redis store is needed');
    // Two messages queued for 'retired', a connector the configuration no longer has.
    const keys = new RedisKeys(storeConfig.keyPrefix);
    const admin = new Redis(storeConfig.url);
    try {
      for (const id of ['01JRETIRED00000000000000001', '01JRETIRED00000000000000002'])
        await admin.xadd(keys.stream('retired'), '*', 'm', id);
    } finally {
      admin.disconnect();
    }
    let tell!: (entry: Record<string, unknown>) => void;
    const said = new Promise<Record<string, unknown>>((resolve) => {
      tell = resolve;
    });
    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.connector === 'retired') tell(entry);
        },
      },
    );
    rig = await startRig({ store: storeConfig, logger });
    expect(await said).toMatchObject({ level: 50, connector: 'retired', waiting: 2 });
    expect((await said).msg).toMatch(/not configured: nobody sends them; configure it again/);
  });

  it('keeps the record and the correlation of a message valid past their TTLs until a day after its validity', async () => {
    const storeConfig = redisStore();
    if (storeConfig.kind !== 'redis') throw new Error('a Redis store is needed');
    rig = await startRig({ store: storeConfig, sim: { holdReceipts: true } });
    // Ten days of validity, past both default TTLs (7 days for records, 3 for correlations).
    const res = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'Valid for ten days',
      validitySeconds: 10 * 86_400,
    });
    expect(res.status).toBe(202);
    const sent = await rig.statusReached(res.json.id as string, 'sent');
    const keys = new RedisKeys(storeConfig.keyPrefix);
    const admin = new Redis(storeConfig.url);
    try {
      const day = 86_400_000;
      const record = await admin.pttl(keys.message(sent.id));
      const correlation = await admin.pttl(keys.correlation(sent.connector, sent.parts[0]!.smscId!));
      for (const ttl of [record, correlation]) {
        expect(ttl).toBeGreaterThan(11 * day - 60_000);
        expect(ttl).toBeLessThanOrEqual(11 * day);
      }
    } finally {
      admin.disconnect();
    }
  });

  it('takes over a message whose holder died after recording its SMSC id and before its correlation: the receipt still matches', async () => {
    const storeConfig = redisStore();
    if (storeConfig.kind !== 'redis') throw new Error('a Redis store is needed');
    rig = await startRig({ store: storeConfig, sim: { holdReceipts: true } });
    // A real SMSC id and a receipt held for it: a submit from another client of the same account.
    const other = new SmppClient({
      host: '127.0.0.1',
      port: rig.config.connectors[0]!.port,
      system_id: 'sluice',
      password: 'sluice',
      bind: 'transmitter',
      session: { enquireLinkIntervalMs: 0 },
    });
    const bound = once(other, 'bound');
    other.start();
    await bound;
    const resp = await other.submit({
      source_addr: '12345',
      destination_addr: '447700900123',
      registered_delivery: 1,
      short_message: Buffer.from('Taken over'),
    });
    await other.stop();
    // The dead holder's state: the record written with the SMSC id, the correlation not, and the
    // queue entry still pending for it. One transaction, so no live reader takes the entry first.
    const record = makeSentRecord(resp.message_id, rig.config.connectors[0]!.name);
    const keys = new RedisKeys(storeConfig.keyPrefix);
    const admin = new Redis(storeConfig.url);
    try {
      await admin
        .multi()
        .set(keys.message(record.id), encodeRecord(record), 'EX', 3600)
        .xadd(keys.stream(record.connector), '*', 'm', record.id)
        .xreadgroup('GROUP', GROUP, 'dead-holder', 'COUNT', 1, 'STREAMS', keys.stream(record.connector), '>')
        .exec();
    } finally {
      admin.disconnect();
    }
    const delivered = rig.statusReached(record.id, 'delivered');
    rig.sim.releaseReceipts(1);
    expect((await delivered).parts[0]).toMatchObject({ smscId: resp.message_id, state: 'delivered' });
    // Taken over, not sent again: counted delivered here, never sent.
    const counted = (await rig.gateway.metrics.messages.get()).values.map((v) => [v.labels.status, v.value]);
    expect(counted).toEqual([['delivered', 1]]);
    expect(rig.sim.stats().submits).toBe(1);
  });
});

/** A one-part message as a dispatcher records it once the SMSC has answered with `smscId`. */
function makeSentRecord(smscId: string, connector: string): MessageRecord {
  const at = Date.now();
  return {
    id: '01JTAKEOVER0000000000000001',
    channel: 'sms',
    account: 'dev',
    from: '12345',
    to: '447700900123',
    body: 'Taken over',
    encoding: 'gsm7',
    dataCoding: 0,
    connector,
    reference: null,
    campaignId: null,
    callbackUrl: null,
    createdAt: at,
    validUntil: at + 3_600_000,
    status: 'sent',
    error: null,
    attempts: 1,
    parts: [{ index: 0, units: 10, smscId, state: 'submitted', submittedAt: at, finalAt: null, error: null }],
    events: [
      { status: 'accepted', at },
      { status: 'queued', at },
      { status: 'sending', at },
      { status: 'sent', at },
    ],
    version: 2,
  };
}
