import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SmppNotBoundError, SmppStatusError, SmppWindowFullError } from '../../src/errors.js';
import { type ClientEvents, type ClientOptions, CommandStatus, SmppClient } from '../../src/smpp/index.js';
import { type RawPeer, RawServer } from '../support/raw-peer.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: Partial<ClientOptions> = {}) {
  const clock = new ManualClock();
  const raw = new RawServer();
  const port = await raw.listen();
  const client = new SmppClient({
    host: '127.0.0.1',
    port,
    system_id: 'test',
    password: 'secret',
    clock,
    random: () => 0,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0.5 },
    ...options,
  });
  cleanups.push(async () => {
    // The raw peers never answer unbind, and this clock never moves by itself: drop them first.
    await raw.close();
    await client.stop();
  });
  return { clock, raw, client };
}

/** Accepts the next connection and answers its bind with `status`. */
async function answerBind(raw: RawServer, status = 0): Promise<RawPeer> {
  const peer = await raw.accept();
  const bind = await peer.next();
  if (!bind.command.startsWith('bind_')) throw new Error(`expected a bind, got ${bind.command}`);
  peer.sendPdu(
    `${bind.command as 'bind_transceiver'}_resp`,
    { system_id: 'raw' },
    bind.sequence_number,
    status,
  );
  return peer;
}

function nextEvent<K extends keyof ClientEvents>(client: SmppClient, event: K): Promise<ClientEvents[K]> {
  return once(client, event) as Promise<ClientEvents[K]>;
}

describe('SmppClient', () => {
  it('binds, submits, and fails fast with SmppNotBoundError before any bind is up', async () => {
    const { raw, client } = await setup();
    await expect(client.submit({ destination_addr: '1' })).rejects.toBeInstanceOf(SmppNotBoundError);
    const bound = nextEvent(client, 'bound');
    client.start();
    const peer = await answerBind(raw);
    const [info] = await bound;
    expect(info.mode).toBe('transceiver');
    const p = client.submit({
      source_addr: '12345',
      destination_addr: '447700900123',
      short_message: Buffer.from('x'),
    });
    const s = await peer.expect('submit_sm');
    expect(s.destination_addr).toBe('447700900123');
    peer.sendPdu('submit_sm_resp', { message_id: 'abc' }, s.sequence_number);
    expect((await p).message_id).toBe('abc');
  });

  it('reports a wrong password as ESME_RINVPASWD and retries with capped exponential backoff', async () => {
    const { clock, raw, client } = await setup();
    const delays: number[] = [];
    const statuses: number[] = [];
    client.start();
    for (let attempt = 0; attempt < 6; attempt++) {
      const failed = nextEvent(client, 'connect_failed');
      await answerBind(raw, CommandStatus.ESME_RINVPASWD);
      const [info] = await failed;
      expect(info.error).toBeInstanceOf(SmppStatusError);
      statuses.push((info.error as SmppStatusError).commandStatus);
      delays.push(info.retryInMs);
      // Just before the delay nothing is dialled; at the delay the next attempt starts.
      clock.advance(info.retryInMs - 1);
      expect(raw.connections).toBe(attempt + 1);
      clock.advance(1);
    }
    expect(statuses.every((s) => s === CommandStatus.ESME_RINVPASWD)).toBe(true);
    // random() = 0 takes no jitter off: 100 × 2^n, capped at 1,000.
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('backs off a carrier that takes the bind and drops it, until a bind stays up 30 s', async () => {
    const { clock, raw, client } = await setup();
    client.start();
    // Each bind that lasts less than 30 s doubles the wait (100 × 2^n, capped at 1,000); one that
    // lasted 30 s starts over.
    const rounds: Array<[upMs: number, delayMs: number]> = [
      [0, 100],
      [0, 200],
      [10_000, 400],
      [0, 800],
      [30_000, 100],
    ];
    for (const [i, [upMs, delayMs]] of rounds.entries()) {
      const bound = nextEvent(client, 'bound');
      const peer = await answerBind(raw);
      await bound;
      clock.advance(upMs);
      const dropped = nextEvent(client, 'disconnected');
      peer.socket.destroy();
      const [info] = await dropped;
      expect(info.retryInMs, `round ${i}`).toBe(delayMs);
      clock.advance(delayMs);
    }
    await answerBind(raw);
    expect(raw.connections).toBe(rounds.length + 1);
  });

  it('takes the jitter share off the delay', async () => {
    const { raw, client } = await setup({ random: () => 0.999999 });
    client.start();
    const failed = nextEvent(client, 'connect_failed');
    await answerBind(raw, CommandStatus.ESME_RBINDFAIL);
    const [info] = await failed;
    // jitter 0.5 with random() near 1: half of the 100 ms base.
    expect(info.retryInMs).toBe(50);
  });

  it('detects a dead link through enquire_link, reconnects after the backoff, and binds again', async () => {
    const { clock, raw, client } = await setup({
      session: { enquireLinkIntervalMs: 1_000, requestTimeoutMs: 500 },
    });
    const firstBound = nextEvent(client, 'bound');
    client.start();
    const first = await answerBind(raw);
    await firstBound;
    const disconnected = nextEvent(client, 'disconnected');
    clock.advance(2_000);
    await first.expect('enquire_link');
    clock.advance(500);
    const [info] = await disconnected;
    expect(info.reason).toMatch(/enquire_link/);
    await first.closed;
    expect(client.sessions).toHaveLength(0);
    const rebound = nextEvent(client, 'bound');
    clock.advance(99);
    expect(raw.connections).toBe(1);
    clock.advance(1);
    await answerBind(raw);
    await rebound;
    expect(client.sessions).toHaveLength(1);
    expect(raw.connections).toBe(2);
  });

  it('spreads submits over several binds and fails fast once every window is full', async () => {
    const { raw, client } = await setup({ binds: 2, session: { window: 1 } });
    client.start();
    const peers = [await answerBind(raw), await answerBind(raw)];
    while (client.sessions.length < 2) await nextEvent(client, 'bound');
    expect(client.capacity).toBe(2);
    const a = client.submit({ destination_addr: '1' });
    const b = client.submit({ destination_addr: '2' });
    await expect(client.submit({ destination_addr: '3' })).rejects.toBeInstanceOf(SmppWindowFullError);
    const [sa, sb] = [await peers[0]!.expect('submit_sm'), await peers[1]!.expect('submit_sm')];
    expect([sa.destination_addr, sb.destination_addr].sort()).toEqual(['1', '2']);
    const waiting = client.waitForCapacity();
    peers[0]!.sendPdu('submit_sm_resp', { message_id: 'a' }, sa.sequence_number);
    await waiting;
    expect(client.capacity).toBe(1);
    peers[1]!.sendPdu('submit_sm_resp', { message_id: 'b' }, sb.sequence_number);
    await Promise.all([a, b]);
  });

  it('binds a transmitter and a receiver per slot, and sends submits only on the transmitter', async () => {
    const { raw, client } = await setup({ bind: 'transmitter+receiver' });
    client.start();
    const [p1, p2] = [await raw.accept(), await raw.accept()];
    const [b1, b2] = [await p1.next(), await p2.next()];
    expect([b1.command, b2.command].sort()).toEqual(['bind_receiver', 'bind_transmitter']);
    for (const [peer, bind] of [
      [p1, b1],
      [p2, b2],
    ] as const) {
      peer.sendPdu(`${bind.command as 'bind_transmitter'}_resp`, { system_id: 'raw' }, bind.sequence_number);
    }
    while (client.sessions.length < 2) await nextEvent(client, 'bound');
    const tx = b1.command === 'bind_transmitter' ? p1 : p2;
    const p = client.submit({ destination_addr: '9' });
    const s = await tx.expect('submit_sm');
    tx.sendPdu('submit_sm_resp', { message_id: 'tx' }, s.sequence_number);
    expect((await p).message_id).toBe('tx');
  });
});
