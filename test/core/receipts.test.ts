/**
 * The receipt handler against a real (memory) store: a receipt for a part this process is still
 * recording waits for the dispatcher's write and is applied to the record as written, without a
 * lookup of its id or a read of its record; one for a part sent elsewhere goes through the store.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { normalizeSmscId } from '../../src/codec/receipt.js';
import { ReceiptHandler } from '../../src/core/receipts.js';
import type { MessageRecord } from '../../src/core/types.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { formatReceipt } from '../../src/sim/receipt.js';
import { makePdu } from '../../src/smpp/pdu/codec.js';
import type { Pdu } from '../../src/smpp/pdu/types.js';
import { MemoryStore } from '../../src/store/memory/index.js';
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
  return { store, handler, lookups, reads };
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
    await store.correlation.setCorrelations(
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
    await store.correlation.setCorrelations(
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
});
