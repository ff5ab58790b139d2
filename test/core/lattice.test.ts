import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeNumber } from '../../src/core/intake.js';
import { partFinal, partSubmitted, transition } from '../../src/core/lattice.js';
import { Router } from '../../src/core/router.js';
import { type MessageRecord, type MessageStatus, STATUS_RANK } from '../../src/core/types.js';
import { ApiError } from '../../src/errors.js';

function record(parts: number): MessageRecord {
  return {
    id: '01J00000000000000000000000',
    channel: 'sms',
    account: 'dev',
    from: '12345',
    to: '447700900123',
    body: 'x',
    encoding: 'gsm7',
    dataCoding: 0,
    connector: 'sim',
    reference: null,
    campaignId: null,
    callbackUrl: null,
    createdAt: 0,
    validUntil: 1_000,
    status: 'queued',
    error: null,
    parts: Array.from({ length: parts }, (_, index) => ({
      index,
      units: 153,
      smscId: null,
      state: 'pending' as const,
      submittedAt: null,
      finalAt: null,
      error: null,
    })),
    attempts: 0,
    events: [
      { status: 'accepted', at: 0 },
      { status: 'queued', at: 0 },
    ],
    version: 1,
  };
}

describe('status lattice', () => {
  it('only ever moves up, records each transition once, and never replaces a final status', () => {
    const r = record(1);
    expect(transition(r, 'sending', 1)).toBe(true);
    expect(transition(r, 'queued', 2)).toBe(false);
    expect(transition(r, 'sending', 3)).toBe(false);
    expect(transition(r, 'failed', 4)).toBe(true);
    expect(transition(r, 'delivered', 5)).toBe(false);
    expect(r.status).toBe('failed');
    expect(r.events.map((e) => e.status)).toEqual(['accepted', 'queued', 'sending', 'failed']);
  });

  it('never lowers the rank, whatever the sequence of transitions asked for', () => {
    const statuses: MessageStatus[] = [
      'accepted',
      'queued',
      'sending',
      'sent',
      'delivered',
      'undelivered',
      'failed',
      'expired',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...statuses), { maxLength: 20 }), (asked) => {
        const r = record(1);
        let rank = STATUS_RANK[r.status];
        asked.forEach((s, i) => {
          transition(r, s, i);
          expect(STATUS_RANK[r.status]).toBeGreaterThanOrEqual(rank);
          rank = STATUS_RANK[r.status];
        });
        expect(new Set(r.events.map((e) => e.status)).size).toBe(r.events.length);
      }),
    );
  });

  it('a 3-part message is sent when every part is answered, delivered only when every part is', () => {
    const r = record(3);
    transition(r, 'sending', 1);
    partSubmitted(r, 0, 'a', 2);
    partSubmitted(r, 1, 'b', 2);
    expect(r.status).toBe('sending');
    partSubmitted(r, 2, 'c', 3);
    expect(r.status).toBe('sent');
    partFinal(r, 0, 'delivered', 4, null);
    partFinal(r, 2, 'delivered', 5, null);
    expect(r.status).toBe('sent');
    partFinal(r, 1, 'delivered', 6, null);
    expect(r.status).toBe('delivered');
    expect(r.events.at(-1)).toEqual({ status: 'delivered', at: 6 });
  });

  it('mixed part outcomes: failed over undelivered over expired, with the first failing part named', () => {
    const r = record(3);
    partSubmitted(r, 0, 'a', 1);
    partFinal(r, 1, 'failed', 2, 'ESME_RINVDSTADR');
    partSubmitted(r, 2, 'c', 2);
    partFinal(r, 0, 'undelivered', 3, 'UNDELIV err:001');
    expect(r.status).not.toBe('failed');
    partFinal(r, 2, 'delivered', 4, null);
    expect(r.status).toBe('failed');
    expect(r.error).toEqual({ code: 'UNDELIV', message: 'part 1: UNDELIV err:001' });
    expect(r.parts.map((p) => p.state)).toEqual(['undelivered', 'failed', 'delivered']);
  });

  it('a part reaches a final state once: a second receipt for it changes nothing', () => {
    const r = record(1);
    partSubmitted(r, 0, 'a', 1);
    expect(partFinal(r, 0, 'delivered', 2, null)).toBe(true);
    expect(partFinal(r, 0, 'undelivered', 3, 'UNDELIV')).toBe(false);
    expect(r.status).toBe('delivered');
    expect(partSubmitted(r, 0, 'other', 4)).toBe(false);
    expect(r.parts[0]?.smscId).toBe('a');
  });
});

describe('router', () => {
  const router = new Router([
    { connector: 'uk', senders: [], prefixes: ['44'] },
    { connector: 'promo', senders: ['PROMO'], prefixes: ['1', '1212'] },
    { connector: 'default', senders: [], prefixes: [] },
  ]);

  it('takes the first matching route, by sender and destination prefix', () => {
    expect(router.route('12345', '447700900123')).toBe('uk');
    expect(router.route('PROMO', '447700900123')).toBe('uk');
    expect(router.route('PROMO', '12125550123')).toBe('promo');
    expect(router.route('12345', '12125550123')).toBe('default');
    expect(router.route('PROMO', '33612345678')).toBe('default');
  });

  it('matches nothing without a default route', () => {
    expect(
      new Router([{ connector: 'uk', senders: [], prefixes: ['44'] }]).route('1', '33612345678'),
    ).toBeNull();
  });
});

describe('destination numbers', () => {
  it('normalizes E.164 with or without +', () => {
    expect(normalizeNumber('+447700900123')).toBe('447700900123');
    expect(normalizeNumber(' 14155550123 ')).toBe('14155550123');
  });

  it.each(['12345', '+999123456789', 'not a number', '+44 7700 900123', ''])(
    'refuses %j with a 422 naming the field',
    (n) => {
      try {
        normalizeNumber(n);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).status).toBe(422);
        expect((err as ApiError).fields[0]?.field).toBe('to');
      }
    },
  );
});
