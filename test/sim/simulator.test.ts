import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SmppStatusError } from '../../src/errors.js';
import { Simulator, type SimulatorOptions } from '../../src/sim/index.js';
import { formatReceiptId, type IdFormat, type ReceiptIdFormat } from '../../src/sim/receipt.js';
import {
  type AppRequest,
  CommandStatus,
  EsmClass,
  MessageState,
  type Pdu,
  type Session,
  SmppClient,
} from '../../src/smpp/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startSim(options: Partial<SimulatorOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 30));
  const sim = new Simulator({
    port: 0,
    accounts: [
      { systemId: 'alpha', password: 'pw-a' },
      { systemId: 'beta', password: 'pw-b' },
    ],
    clock,
    random: () => 0.5,
    ...options,
  });
  const { smpp, control } = await sim.start();
  cleanups.push(() => sim.stop());
  return { sim, clock, port: smpp.port, control };
}

/** A bound client of the simulator, collecting every deliver_sm it receives (and answering it). */
async function bindClient(
  port: number,
  clock: ManualClock,
  systemId = 'alpha',
  bind: 'transceiver' | 'transmitter' | 'receiver' = 'transceiver',
) {
  const client = new SmppClient({
    host: '127.0.0.1',
    port,
    system_id: systemId,
    password: systemId === 'alpha' ? 'pw-a' : 'pw-b',
    bind,
    clock,
    session: { enquireLinkIntervalMs: 0 },
  });
  const received: Pdu<'deliver_sm'>[] = [];
  let wake: (() => void) | null = null;
  client.on('request', (pdu: AppRequest, session: Session) => {
    session.respond(pdu, {});
    if (pdu.command === 'deliver_sm') received.push(pdu);
    wake?.();
  });
  const bound = once(client, 'bound');
  client.start();
  await bound;
  cleanups.push(() => client.stop());
  const receivedAtLeast = async (n: number) => {
    while (received.length < n) await new Promise<void>((r) => (wake = r));
    return received;
  };
  return { client, received, receivedAtLeast };
}

function receiptText(pdu: Pdu<'deliver_sm'>): Record<string, string> {
  const text = pdu.short_message.toString('latin1');
  const fields: Record<string, string> = {};
  for (const m of text.matchAll(/(id|sub|dlvrd|submit date|done date|stat|err|text):(\S*)/g))
    fields[m[1]!] = m[2]!;
  return fields;
}

const message = {
  source_addr: '12345',
  destination_addr: '447700900123',
  short_message: Buffer.from('Hello from the simulator test'),
  registered_delivery: 1,
};

describe('Simulator', () => {
  it('answers a submit with a hex id and sends the receipt after the delay, addressed back to the sender', async () => {
    const { port, clock, sim } = await startSim({ dlrDelayMs: 5_000 });
    const { client, receivedAtLeast, received } = await bindClient(port, clock);
    const resp = await client.submit(message);
    expect(resp.message_id).toMatch(/^[0-9a-f]{10,}$/);
    clock.advance(4_999);
    expect(sim.stats().queued).toBe(1);
    expect(received).toHaveLength(0);
    clock.advance(1);
    const [receipt] = await receivedAtLeast(1);
    expect(receipt!.esm_class).toBe(EsmClass.DELIVERY_RECEIPT);
    expect(receipt!.source_addr).toBe('447700900123');
    expect(receipt!.destination_addr).toBe('12345');
    expect(receipt!.tlvs.receipted_message_id).toBe(resp.message_id);
    expect(receipt!.tlvs.message_state).toBe(MessageState.DELIVERED);
    const f = receiptText(receipt!);
    expect(f).toMatchObject({
      id: resp.message_id,
      sub: '001',
      dlvrd: '001',
      'submit date': '2611220930',
      'done date': '2611220930',
      stat: 'DELIVRD',
      err: '000',
      text: 'Hello',
    });
  });

  it('holds receipts until released, one at a time, when asked to', async () => {
    const { port, clock, sim } = await startSim({ dlrDelayMs: 0, holdReceipts: true });
    const { client, received, receivedAtLeast } = await bindClient(port, clock);
    await client.submit(message);
    await client.submit(message);
    clock.advance(10);
    expect(sim.heldReceipts).toBe(2);
    expect(received).toHaveLength(0);
    sim.releaseReceipts(1);
    await receivedAtLeast(1);
    expect(sim.heldReceipts).toBe(1);
    sim.releaseReceipts(1);
    await receivedAtLeast(2);
    expect(sim.heldReceipts).toBe(0);
  });

  it('writes the receipt id in another form than the submit response when asked', async () => {
    const { port, clock } = await startSim({ idFormat: 'hex', receiptIdFormat: 'dec', dlrDelayMs: 0 });
    const { client, receivedAtLeast } = await bindClient(port, clock);
    const resp = await client.submit(message);
    clock.advance(0);
    const [receipt] = await receivedAtLeast(1);
    const id = receiptText(receipt!).id!;
    expect(id).toMatch(/^\d+$/);
    expect(BigInt(id)).toBe(BigInt(`0x${resp.message_id}`));
  });

  it.each([
    ['hex', 'hex', /^[0-9A-F]+$/],
    ['dec', 'hex', /^[0-9A-F]+$/],
    ['uuid', 'same', /^[0-9a-f-]{36}$/],
    ['uuid', 'dec', /^\d+$/],
  ] as Array<[IdFormat, ReceiptIdFormat, RegExp]>)(
    'id format %s with receipt id format %s',
    (idFormat, receiptFormat, pattern) => {
      const submitId =
        idFormat === 'uuid'
          ? '0000a3f1-0000-4000-8000-000000000001'
          : idFormat === 'hex'
            ? '000000a3f1'
            : '41969';
      const receiptId = formatReceiptId(submitId, 0xa3f1, idFormat, receiptFormat);
      expect(receiptId).toMatch(pattern);
      if (receiptFormat === 'hex' && idFormat !== 'uuid') expect(receiptId).toBe('A3F1');
    },
  );

  it('quotes the start of a UCS-2 or GSM message in the receipt, unsafe characters as ?', async () => {
    const { port, clock } = await startSim({ dlrDelayMs: 0 });
    const { client, receivedAtLeast } = await bindClient(port, clock);
    const ucs2 = Buffer.from('Привет, $5 @ noon', 'utf16le').swap16();
    await client.submit({ ...message, data_coding: 0x08, short_message: ucs2 });
    // GSM 03.38: 0x02 is '$', 0x00 is '@'.
    await client.submit({
      ...message,
      data_coding: 0x00,
      short_message: Buffer.from([0x02, 0x35, 0x20, 0x00, 0x20, 0x41]),
    });
    clock.advance(0);
    const [first, second] = await receivedAtLeast(2);
    expect(first!.short_message.toString('latin1')).toMatch(/ text:\?{6}, \?5 \? noon$/);
    expect(second!.short_message.toString('latin1')).toMatch(/ text:\?5 \? A$/);
  });

  it('says UNDELIV with message_state UNDELIVERABLE for the failing share', async () => {
    const { port, clock } = await startSim({ dlrFailFraction: 1, dlrDelayMs: 0 });
    const { client, receivedAtLeast } = await bindClient(port, clock);
    await client.submit(message);
    clock.advance(0);
    const [receipt] = await receivedAtLeast(1);
    expect(receiptText(receipt!)).toMatchObject({ stat: 'UNDELIV', dlvrd: '000', err: '001' });
    expect(receipt!.tlvs.message_state).toBe(MessageState.UNDELIVERABLE);
  });

  it('sends no receipt when registered_delivery does not ask for one', async () => {
    const { port, clock, sim } = await startSim({ dlrDelayMs: 0 });
    const { client } = await bindClient(port, clock);
    await client.submit({ ...message, registered_delivery: 0 });
    // Failure-only receipts (2) for a delivered message: none either.
    await client.submit({ ...message, registered_delivery: 2 });
    clock.advance(10);
    expect(sim.stats()).toMatchObject({ submits: 2, queued: 0, receiptsSent: 0 });
  });

  it('throttles the configured share with ESME_RTHROTTLED, a retryable status', async () => {
    const { port, clock, sim } = await startSim({ throttleFraction: 1 });
    const { client } = await bindClient(port, clock);
    const err = await client.submit(message).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmppStatusError);
    expect((err as SmppStatusError).commandStatus).toBe(CommandStatus.ESME_RTHROTTLED);
    expect((err as SmppStatusError).retryable).toBe(true);
    expect(sim.stats().throttled).toBe(1);
  });

  it('holds submits to --max-submit-rate with a one-second bucket', async () => {
    const { port, clock } = await startSim({ maxSubmitRate: 5 });
    const { client } = await bindClient(port, clock);
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, () =>
        client.submit({ ...message, registered_delivery: 0 }).then(
          () => 'ok',
          () => 'throttled',
        ),
      ),
    );
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'throttled', 'throttled']);
    clock.advance(200);
    expect(
      await client.submit({ ...message, registered_delivery: 0 }).then(
        () => 'ok',
        () => 'throttled',
      ),
    ).toBe('ok');
    expect(
      await client.submit({ ...message, registered_delivery: 0 }).then(
        () => 'ok',
        () => 'throttled',
      ),
    ).toBe('throttled');
  });

  it('keeps receipts while no receiver of the account is bound, and sends them to the receiver that binds', async () => {
    const { port, clock, sim } = await startSim({ dlrDelayMs: 0 });
    const tx = await bindClient(port, clock, 'alpha', 'transmitter');
    const beta = await bindClient(port, clock, 'beta', 'receiver');
    const ids = [(await tx.client.submit(message)).message_id, (await tx.client.submit(message)).message_id];
    clock.advance(0);
    expect(sim.stats().queued).toBe(2);
    const delivered = new Promise<void>((resolve) => {
      let n = 0;
      sim.on('delivered', () => {
        if (++n === 2) resolve();
      });
    });
    const rx = await bindClient(port, clock, 'alpha', 'receiver');
    const receipts = await rx.receivedAtLeast(2);
    await delivered;
    expect(receipts.map((r) => r.tlvs.receipted_message_id)).toEqual(ids);
    // The other account's receiver got none of them.
    expect(beta.received).toHaveLength(0);
    expect(sim.stats()).toMatchObject({ queued: 0, receiptsSent: 2 });
  });

  it('injects a long MO message as concatenated parts in the order asked for', async () => {
    const { port, clock, sim } = await startSim();
    const { receivedAtLeast } = await bindClient(port, clock);
    // 176 characters outside GSM: UCS-2, 67 per part with a UDH, so 3 parts.
    const text = 'Ответ: да. '.repeat(16);
    const parts = sim.injectMo({ from: '447700900123', to: '12345', text, order: [3, 1, 2] });
    expect(parts).toBe(3);
    const got = await receivedAtLeast(3);
    const udh = got.map((p) => {
      expect(p.esm_class & EsmClass.UDHI).toBe(EsmClass.UDHI);
      expect(p.source_addr).toBe('447700900123');
      const sm = p.short_message;
      // IE 0x00: 8-bit reference, total, sequence (3GPP TS 23.040 §9.2.3.24.1).
      expect([sm[1], sm[2]]).toEqual([0x00, 0x03]);
      return { ref: sm[3], total: sm[4], seq: sm[5], body: sm.subarray(1 + sm[0]!) };
    });
    expect(udh.map((u) => u.seq)).toEqual([3, 1, 2]);
    expect(new Set(udh.map((u) => u.ref)).size).toBe(1);
    expect(udh.every((u) => u.total === 3)).toBe(true);
    expect(got.every((p) => p.data_coding === 0x08)).toBe(true);
    const ordered = [...udh].sort((a, b) => a.seq! - b.seq!);
    expect(
      Buffer.concat(ordered.map((u) => u.body))
        .swap16()
        .toString('utf16le'),
    ).toBe(text);
  });

  it('refuses an MO part order that is not a permutation of the parts', async () => {
    const { sim } = await startSim();
    expect(() => sim.injectMo({ from: '1', to: '2', text: 'short', order: [2] })).toThrow(
      /permutation of 1..1/,
    );
  });

  it('takes MO and STATS on the control port and closes after ten bad commands', async () => {
    const { port, clock, control } = await startSim({ controlPort: 0 });
    const { receivedAtLeast } = await bindClient(port, clock);
    const socket = net.connect({ host: '127.0.0.1', port: control!.port });
    socket.setEncoding('utf8');
    const lines: string[] = [];
    let buffered = '';
    let wake: (() => void) | null = null;
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
      wake?.();
    });
    const line = async (n: number) => {
      while (lines.length < n) await new Promise<void>((r) => (wake = r));
      return lines[n - 1]!;
    };
    socket.write('MO 447700900123 12345 STOP please\n');
    expect(await line(1)).toBe('OK queued 1 part');
    const [mo] = await receivedAtLeast(1);
    expect(mo!.destination_addr).toBe('12345');
    socket.write('STATS\n');
    const stats = JSON.parse((await line(2)).slice(3)) as { moSent: number; binds: { transceiver: number } };
    expect(stats.moSent).toBe(1);
    expect(stats.binds.transceiver).toBe(1);
    const closed = once(socket, 'close');
    socket.write('NOPE\n'.repeat(10));
    await closed;
    expect(lines.at(-1)).toBe('ERR too many bad commands');
    expect(lines.filter((l) => l.startsWith('ERR unknown command'))).toHaveLength(10);
  });

  it('refuses an unknown system_id with ESME_RINVSYSID and a wrong password with ESME_RINVPASWD', async () => {
    const { port, clock } = await startSim();
    for (const [systemId, password, status] of [
      ['nobody', 'x', CommandStatus.ESME_RINVSYSID],
      ['alpha', 'wrong', CommandStatus.ESME_RINVPASWD],
    ] as const) {
      const client = new SmppClient({ host: '127.0.0.1', port, system_id: systemId, password, clock });
      cleanups.push(() => client.stop());
      const failed = once(client, 'connect_failed') as Promise<[{ error: Error }]>;
      client.start();
      const [info] = await failed;
      expect((info.error as SmppStatusError).commandStatus).toBe(status);
    }
  });
});
