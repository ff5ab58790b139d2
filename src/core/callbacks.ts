/**
 * Status callbacks, the part core owns: which transitions a message's callbackUrl is told of, and
 * the outbox entry each becomes. The entry is written by the store in the same step as the record
 * (store/types.ts, OUTBOX); http/callbacks.ts posts it.
 */
import type { MessageRecord, MessageStatus } from './types.js';

/** The transitions a callback is posted for: the message left sluice (sent), and its outcome. */
export const CALLBACK_STATUSES: ReadonlySet<MessageStatus> = new Set<MessageStatus>([
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'expired',
  'blocked',
]);

/** One transition to post, as its outbox entry carries it. */
export interface CallbackEvent {
  messageId: string;
  status: MessageStatus;
  /** ms since the epoch: when the message took the status. */
  at: number;
  /** POSTs tried before this one (0: the first). */
  attempt: number;
}

/** The event's stable id, the same on every retry: a receiver drops the repeats by it. */
export function callbackEventId(e: Pick<CallbackEvent, 'messageId' | 'status'>): string {
  return `${e.messageId}.${e.status}`;
}

/** The outbox entry of an event: four fields, none of which holds a space. */
export function encodeCallbackEvent(e: CallbackEvent): string {
  return `${e.messageId} ${e.status} ${e.at} ${e.attempt}`;
}

const DIGITS = /^(0|[1-9][0-9]*)$/;

/** The event an outbox entry carries, or null when it is not one (a newer or foreign layout). */
export function decodeCallbackEvent(entry: string): CallbackEvent | null {
  const fields = entry.split(' ');
  if (fields.length !== 4) return null;
  const [messageId, status, at, attempt] = fields as [string, string, string, string];
  if (messageId === '' || !CALLBACK_STATUSES.has(status as MessageStatus)) return null;
  // Digits as encodeCallbackEvent writes them: no sign, exponent, hex or leading zero.
  if (!DIGITS.test(at) || !DIGITS.test(attempt)) return null;
  const atMs = Number(at);
  const attempts = Number(attempt);
  if (!Number.isSafeInteger(atMs) || !Number.isSafeInteger(attempts)) return null;
  return { messageId, status: status as MessageStatus, at: atMs, attempt: attempts };
}

/**
 * The outbox entries a change of `record` owes its callbackUrl: one for each transition recorded
 * from `record.events[from]` on whose status is in CALLBACK_STATUSES. None without a callbackUrl.
 */
export function callbackEntries(record: MessageRecord, from: number): string[] {
  if (record.callbackUrl === null || record.events.length <= from) return [];
  const out: string[] = [];
  for (let i = from; i < record.events.length; i++) {
    const e = record.events[i]!;
    if (CALLBACK_STATUSES.has(e.status))
      out.push(encodeCallbackEvent({ messageId: record.id, status: e.status, at: e.at, attempt: 0 }));
  }
  return out;
}
