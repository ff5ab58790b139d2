/**
 * The outbox entries of status callbacks: which transitions owe one, and their encoding, which a
 * process reads back from the store (written by any version of sluice that shares it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALLBACK_STATUSES,
  callbackEntries,
  decodeCallbackEvent,
  encodeCallbackEvent,
} from '../../src/core/callbacks.js';
import { MESSAGE_STATUSES, type MessageRecord } from '../../src/core/types.js';
import { makeRecord } from '../http/helpers.js';

describe('callback events', () => {
  it('round-trip through their outbox entry', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9A-Z]{26}$/),
        fc.constantFrom(...CALLBACK_STATUSES),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.nat({ max: 1_000 }),
        (messageId, status, at, attempt) => {
          const e = { messageId, status, at, attempt };
          expect(decodeCallbackEvent(encodeCallbackEvent(e))).toEqual(e);
        },
      ),
    );
  });

  it('reads any other string as no event, without throwing', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const e = decodeCallbackEvent(s);
        // Whatever it accepts is a well-formed event that encodes back to the same entry.
        if (e !== null) expect(encodeCallbackEvent(e)).toBe(s);
      }),
    );
    for (const bad of [
      '',
      'id',
      'id sent 1',
      'id queued 1 0',
      'id sent x 0',
      'id sent 1 -1',
      ' sent 1 0',
      'id sent 1 0 extra',
    ])
      expect(decodeCallbackEvent(bad)).toBeNull();
  });

  it('are owed for sent and the final statuses after `from`, and only with a callbackUrl', () => {
    const record: MessageRecord = makeRecord({
      callbackUrl: 'https://example.com/hook',
      events: MESSAGE_STATUSES.map((status, i) => ({ status, at: 1_000 + i })),
    });
    const owed = callbackEntries(record, 0).map((s) => decodeCallbackEvent(s)!.status);
    expect(owed).toEqual(['sent', 'delivered', 'undelivered', 'failed', 'expired', 'blocked']);
    // `from` skips the transitions already written (and posted) before this change.
    expect(callbackEntries(record, 4).map((s) => decodeCallbackEvent(s)!.status)).toEqual([
      'delivered',
      'undelivered',
      'failed',
      'expired',
      'blocked',
    ]);
    expect(callbackEntries(record, record.events.length)).toEqual([]);
    expect(callbackEntries({ ...record, callbackUrl: null }, 0)).toEqual([]);
    expect(decodeCallbackEvent(callbackEntries(record, 3)[0]!)).toEqual({
      messageId: record.id,
      status: 'sent',
      at: 1_003,
      attempt: 0,
    });
  });
});
