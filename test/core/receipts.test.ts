/**
 * The receipt handler against a real (memory) store: a receipt for a part this process is still
 * recording waits for the dispatcher's write and is applied to the record as written, without a
 * lookup of its id or a read of its record; one for a part sent elsewhere goes through the store,
 * and one that comes before any record of its id is stashed for the write of the id to take.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { normalizeSmscId } from '../../src/codec/receipt.js';
import { ReceiptHandler, readReceipt } from '../../src/core/receipts.js';
import type { MessageRecord } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { formatReceipt } from '../../src/sim/receipt.js';
import { makePdu } from '../../src/smpp/pdu/codec.js';
import type { Pdu } from '../../src/smpp/pdu/types.js';
import { MemoryCorrelationStore, MemoryStore } from '../../src/store/memory/index.js';
import { makeRecord } from '../store/contract.js';

/** A receipt deliver_sm as the simulator writes one: the Appendix B text, no TLVs. */
function receiptPdu(smscId: string): Pdu<'deliver_sm'> {
  const text = formatReceipt({ id: smscId, submitted: 0, done: 0, stat: 'DELIVRD', err: 0, text: '' });
  return makePdu('deliver_sm', { esm_class: 0x04, short_message: Buffer.from(text, 'latin1') });
}

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore({ messageTtlSeconds: 3600, clock });
  const metrics = createMetrics({ defaultMetrics: false });
  const handler = new ReceiptHandler({
    connector: 'c1',
    store,
    clock,
    metrics,
    logger: silentLogger,
    correlationTtlSeconds: 3600,
  });
  const lookups = vi.spyOn(store.correlation, 'getCorrelations');
  const reads = vi.spyOn(store.messages, 'getMany');
  return { store, handler, lookups, reads, metrics };
}

/** A one-part record as the dispatcher writes it after the submit: sent, with its SMSC id. */
async function sentRecord(store: MemoryStore, smscId: string): Promise<MessageRecord> {
  const queued = makeRecord();
  await store.messages.enqueue([queued]);
  const sent: MessageRecord = {
    ...queued,
    version: 2,
    status: 'sent',
    parts: [{ ...queued.parts[0]!, smscId, state: 'submitted', submittedAt: queued.createdAt + 5 }],
    events: [...queued.events, { status: 'sent', at: queued.createdAt + 5 }],
  };
  expect(await store.messages.compareAndSet(sent, 1)).toBe(true);
  return sent;
}

describe('ReceiptHandler', () => {
  it('applies a receipt for a part being recorded to the written record, reading nothing', async () => {
    const { store, handler, lookups, reads } = setup();
    let recorded!: (written: MessageRecord | null) => void;
    const written = new Promise<MessageRecord | null>((resolve) => (recorded = resolve));
    const sent = await sentRecord(store, 'AB12');
    handler.expect('AB12', { messageId: sent.id, part: 0 }, written);
    const handled = handler.handle(receiptPdu('AB12'));
    // The dispatcher's write lands: the receipt goes on from there.
    await store.correlation.correlate(
      'c1',
      [{ smscIds: [normalizeSmscId('AB12')], ref: { messageId: sent.id, part: 0 } }],
      60,
    );
    recorded(sent);
    await handled;
    expect(reads).not.toHaveBeenCalled();
    const [now] = await store.messages.getMany([sent.id]);
    expect(now).toMatchObject({ status: 'delivered', version: 3 });
    expect(now!.parts[0]).toMatchObject({ state: 'delivered', error: null });
    expect(lookups).not.toHaveBeenCalled();
    expect(reads).toHaveBeenCalledTimes(1);
    // Applied to a copy: the dispatcher's object is as it wrote it.
    expect(sent).toMatchObject({ status: 'sent', version: 2 });
    expect(sent.parts[0]!.state).toBe('submitted');
  });

  it('with an older copy, the compare-and-set fails and the receipt is applied to a fresh read', async () => {
    const { store, handler, reads } = setup();
    const sent = await sentRecord(store, 'AB13');
    // Meanwhile another instance wrote the record again (a hold reason cleared, say).
    expect(await store.messages.compareAndSet({ ...sent, version: 3, attempts: 2 }, 2)).toBe(true);
    handler.expect('AB13', { messageId: sent.id, part: 0 }, Promise.resolve(sent));
    await handler.handle(receiptPdu('AB13'));
    const [now] = await store.messages.getMany([sent.id]);
    expect(now).toMatchObject({ status: 'delivered', version: 4, attempts: 2 });
    expect(reads).toHaveBeenCalled();
  });

  it('looks a receipt up in the store when no part here expects it', async () => {
    const { store, handler, lookups, reads } = setup();
    const sent = await sentRecord(store, 'AB14');
    await store.correlation.correlate(
      'c1',
      [{ smscIds: [normalizeSmscId('AB14')], ref: { messageId: sent.id, part: 0 } }],
      60,
    );
    await handler.handle(receiptPdu('AB14'));
    expect(lookups).toHaveBeenCalled();
    expect(reads).toHaveBeenCalled();
    const [now] = await store.messages.getMany([sent.id]);
    expect(now!.status).toBe('delivered');
  });

  it('a receipt for an id nobody has recorded is stashed, and the correlation of the id takes it', async () => {
    const { store, handler, metrics } = setup();
    const sent = await sentRecord(store, 'AB15');
    await handler.handle(receiptPdu('AB15'));
    expect(await counted(metrics)).toEqual({ early: 1 });
    expect((await store.messages.getMany([sent.id]))[0]!.status).toBe('sent');
    // What the dispatcher does when it records the id: the write hands it the stashed receipt.
    const ref = { messageId: sent.id, part: 0 };
    const [taken] = await store.correlation.correlate(
      'c1',
      [{ smscIds: [normalizeSmscId('AB15')], ref }],
      60,
    );
    const receipt = ReceiptHandler.parseStashed(taken!);
    expect(receipt).toMatchObject({ id: 'AB15', outcome: 'delivered' });
    await handler.apply(ref, receipt!, 'early');
    expect((await store.messages.getMany([sent.id]))[0]!.status).toBe('delivered');
    // Counted once, when it was stashed.
    expect(await counted(metrics)).toEqual({ early: 1 });
  });

  it('a receipt whose id is recorded between its lookup and its stash is applied, not stashed', async () => {
    const { store, handler, lookups, metrics } = setup();
    const sent = await sentRecord(store, 'AB16');
    const ref = { messageId: sent.id, part: 0 };
    // The lookup finds nothing; the dispatcher's write lands just after it.
    lookups.mockImplementationOnce(async (connector, ids) => {
      const refs = await MemoryCorrelationStore.prototype.getCorrelations.call(
        store.correlation,
        connector,
        ids,
      );
      await store.correlation.correlate('c1', [{ smscIds: [normalizeSmscId('AB16')], ref }], 60);
      return refs;
    });
    await handler.handle(receiptPdu('AB16'));
    expect((await store.messages.getMany([sent.id]))[0]!.status).toBe('delivered');
    expect(await counted(metrics)).toEqual({ matched: 1 });
    // Nothing was left stashed for a later write of the id to apply again.
    expect(
      await store.correlation.correlate('c1', [{ smscIds: [normalizeSmscId('AB16')], ref }], 60),
    ).toEqual([null]);
  });
});

/** A part this process sent and recorded, as the dispatcher does: the handler learns the id's form. */
async function submitted(
  store: MemoryStore,
  handler: ReceiptHandler,
  smscId: string,
): Promise<MessageRecord> {
  const sent = await sentRecord(store, smscId);
  const ref = { messageId: sent.id, part: 0 };
  await store.correlation.correlate('c1', [{ smscIds: [normalizeSmscId(smscId)], ref }], 60);
  const recorded = Promise.resolve(sent);
  handler.expect(smscId, ref, recorded);
  await recorded;
  return sent;
}

async function statusOf(store: MemoryStore, id: string): Promise<string | undefined> {
  return (await store.messages.getMany([id]))[0]?.status;
}

describe('ReceiptHandler: an id in the other base', () => {
  it('does not pin an early receipt on the message whose id is its other reading (sequential decimal ids)', async () => {
    const { store, handler } = setup();
    const a = await submitted(store, handler, '100');
    // B's SMSC id is 256 and its receipt comes before the id is recorded; 256 read as hex is 100.
    const b = await sentRecord(store, '256');
    await handler.handle(receiptPdu('256'));
    expect(await statusOf(store, a.id)).toBe('sent');
    const ref = { messageId: b.id, part: 0 };
    const [taken] = await store.correlation.correlate('c1', [{ smscIds: ['256'], ref }], 60);
    await handler.applyStashed(ref, taken!, '256');
    expect(await statusOf(store, b.id)).toBe('delivered');
    expect(await statusOf(store, a.id)).toBe('sent');
  });

  it('keeps a receipt for an id it never sent away from the message whose id is its other reading', async () => {
    const { store, handler } = setup();
    const sixteen = await submitted(store, handler, '16');
    await handler.handle(receiptPdu('10')); // 10 read as hex is 16
    expect(await statusOf(store, sixteen.id)).toBe('sent');
    // Nor is it stashed under that reading for a later message with id 64 (100 read as hex).
    await handler.handle(receiptPdu('100'));
    const later = { messageId: 'later', part: 0 };
    expect(await store.correlation.correlate('c1', [{ smscIds: ['256'], ref: later }], 60)).toEqual([null]);
  });

  it('matches a decimal receipt to a hex id, and a hex receipt to a decimal id, from the first', async () => {
    const hexIds = setup();
    const a = await submitted(hexIds.store, hexIds.handler, '000000A3F1');
    await hexIds.handler.handle(receiptPdu('41969'));
    expect(await statusOf(hexIds.store, a.id)).toBe('delivered');

    const decimalIds = setup();
    const b = await submitted(decimalIds.store, decimalIds.handler, '41969');
    await decimalIds.handler.handle(receiptPdu('A3F1'));
    expect(await statusOf(decimalIds.store, b.id)).toBe('delivered');
  });

  it('reads a receipt id in the other base when that is how this connector’s receipts match', async () => {
    const { store, handler } = setup();
    // Hex ids, decimal receipts: 41969 → a3f1, 41970 → a3f2 (readings with letters) teach the
    // handler; then 256 → 100, a reading without letters, is taken too.
    for (const [id, receipt] of [
      ['A3F1', '41969'],
      ['A3F2', '41970'],
    ]) {
      const sent = await submitted(store, handler, id!);
      await handler.handle(receiptPdu(receipt!));
      expect(await statusOf(store, sent.id)).toBe('delivered');
    }
    const hundred = await submitted(store, handler, '100');
    await handler.handle(receiptPdu('256'));
    expect(await statusOf(store, hundred.id)).toBe('delivered');
  });
});

describe('ReceiptHandler.applyStashed', () => {
  it('applies a receipt the correlation took, and drops its copies under the other spellings', async () => {
    const { store, handler, metrics } = setup();
    // The SMSC answered A3F1 (hex); its receipt, early, says 41969 (decimal): stashed under
    // 41969, a3f1 and 268649 (41969 read as hex).
    const sent = await sentRecord(store, 'A3F1');
    await handler.handle(receiptPdu('41969'));
    expect(await counted(metrics)).toEqual({ early: 1 });
    const ref = { messageId: sent.id, part: 0 };
    const [taken] = await store.correlation.correlate('c1', [{ smscIds: ['a3f1'], ref }], 60);
    expect(taken).not.toBeNull();
    await handler.applyStashed(ref, taken!, 'a3f1');
    expect((await store.messages.getMany([sent.id]))[0]!.status).toBe('delivered');
    // Later parts whose SMSC ids are those other spellings find nothing stashed for them.
    const other = { messageId: 'another', part: 0 };
    expect(
      await store.correlation.correlate(
        'c1',
        [
          { smscIds: ['41969'], ref: other },
          { smscIds: ['268649'], ref: other },
        ],
        60,
      ),
    ).toEqual([null, null]);
    expect(await counted(metrics)).toEqual({ early: 1 });
  });

  it('ignores a stashed value that is not a receipt', async () => {
    const { store, handler } = setup();
    const sent = await sentRecord(store, 'AB17');
    await handler.applyStashed({ messageId: sent.id, part: 0 }, 'not json', 'ab17');
    expect((await store.messages.getMany([sent.id]))[0]!.status).toBe('sent');
  });
});

/** sluice_receipts_total by result. */
async function counted(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.receipts.get()).values) out[String(v.labels.result)] = v.value;
  return out;
}

describe('readReceipt', () => {
  const text = formatReceipt({ id: 'AB20', submitted: 0, done: 0, stat: 'DELIVRD', err: 0, text: '' });

  it('reads the text’s id when receipted_message_id is there but empty', () => {
    const pdu = makePdu('deliver_sm', {
      esm_class: 0x04,
      short_message: Buffer.from(text, 'latin1'),
      tlvs: { receipted_message_id: '', message_state: 2 },
    });
    expect(readReceipt(pdu, 1)).toMatchObject({ id: 'AB20', outcome: 'delivered' });
  });

  it('reads the receipt text from message_payload when short_message is empty', () => {
    const pdu = makePdu('deliver_sm', {
      esm_class: 0x04,
      short_message: Buffer.alloc(0),
      tlvs: { message_payload: Buffer.from(text, 'latin1') },
    });
    expect(readReceipt(pdu, 1)).toMatchObject({ id: 'AB20', outcome: 'delivered' });
  });
});
