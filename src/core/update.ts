/**
 * Read-modify-write of a message record under optimistic concurrency: the change is a function
 * that can be applied again to a fresh copy, so a lost race (another instance handled a receipt
 * of another part meanwhile) is simply retried.
 */
import { SluiceError } from '../errors.js';
import type { MessageStore } from '../store/types.js';
import { callbackEntries } from './callbacks.js';
import type { MessageRecord } from './types.js';

/** Attempts before giving up: contention on one message is a few parts' receipts at most. */
const MAX_ATTEMPTS = 16;

/**
 * Applies `change` (which returns whether it changed anything) and writes the record with
 * compare-and-set, re-reading and reapplying on conflict, with the status callbacks its new
 * transitions owe (core/callbacks.ts). `known` is a copy the caller already
 * holds (saves a read). Returns the record as written, or null if it no longer exists.
 */
export async function updateRecord(
  store: MessageStore,
  id: string,
  known: MessageRecord | null,
  change: (record: MessageRecord) => boolean,
): Promise<MessageRecord | null> {
  let record = known ?? (await store.getMany([id]))[0] ?? null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && record; attempt++) {
    const seen = record.events.length;
    if (!change(record)) return record;
    const expected = record.version;
    record.version = expected + 1;
    // The callbacks the change owes are written with it (the store's outbox), or not at all.
    if (await store.compareAndSet(record, expected, callbackEntries(record, seen))) return record;
    record = (await store.getMany([id]))[0] ?? null;
  }
  if (!record) return null;
  throw new SluiceError(
    'SLUICE_ERR_CONTENTION',
    `message ${id}: ${MAX_ATTEMPTS} conflicting updates in a row`,
  );
}
