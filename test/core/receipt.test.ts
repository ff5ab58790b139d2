import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  normalizeSmscId,
  outcomeOfMessageState,
  outcomeOfStat,
  parseReceiptText,
  receiptIdCandidates,
} from '../../src/codec/receipt.js';
import { formatReceipt } from '../../src/sim/receipt.js';

describe('parseReceiptText', () => {
  it('reads the standard form of SMPP v3.4 Appendix B', () => {
    const r = parseReceiptText(
      'id:0123456789 sub:001 dlvrd:001 submit date:2611220930 done date:2611220931 stat:DELIVRD err:000 text:Hello there',
    );
    expect(r).toEqual({
      id: '0123456789',
      stat: 'DELIVRD',
      err: '000',
      sub: '001',
      dlvrd: '001',
      submitDate: '2611220930',
      doneDate: '2611220931',
      text: 'Hello there',
    });
  });

  it.each([
    [
      'lowercase keys and stat',
      'id:ab12 sub:001 dlvrd:001 submit date:2611220930 done date:2611220931 stat:delivrd err:0',
      'ab12',
      'DELIVRD',
    ],
    [
      'no sub and no text',
      'id:77 dlvrd:000 submit date:2611220930 done date:2611220931 stat:UNDELIV err:001',
      '77',
      'UNDELIV',
    ],
    [
      'seconds in the dates',
      'id:5 sub:001 dlvrd:001 submit date:261122093015 done date:261122093120 stat:EXPIRED err:000',
      '5',
      'EXPIRED',
    ],
    [
      'underscored date keys and vendor fields',
      'id:x-1 submit_date:2611220930 done_date:2611220930 stat:REJECTD err:0B9 imsi:001010123456789',
      'x-1',
      'REJECTD',
    ],
    ['fields in another order', 'stat:DELIVRD err:000 id:abc', 'abc', 'DELIVRD'],
    ['extra spaces after colons', 'id: 42 stat: DELIVRD', '42', 'DELIVRD'],
  ])('reads receipts with %s', (_, text, id, stat) => {
    const r = parseReceiptText(text);
    expect(r?.id).toBe(id);
    expect(r?.stat).toBe(stat);
  });

  it('takes the whole rest of the line as text, spaces and colons included', () => {
    expect(parseReceiptText('id:1 stat:DELIVRD err:000 text:Meet at 10:30 id:fake')?.text).toBe(
      'Meet at 10:30 id:fake',
    );
    expect(parseReceiptText('id:1 stat:DELIVRD err:000 text:Meet at 10:30 id:fake')?.id).toBe('1');
  });

  it('says null for text that is not a receipt', () => {
    expect(parseReceiptText('Hello, STOP')).toBeNull();
    expect(parseReceiptText('id:123 without a state')).toBeNull();
    expect(parseReceiptText('')).toBeNull();
  });

  it('reads back what the simulator writes', () => {
    const text = formatReceipt({
      id: 'A3F1',
      submitted: Date.UTC(2026, 10, 22, 9, 30),
      done: Date.UTC(2026, 10, 22, 9, 31),
      stat: 'UNDELIV',
      err: 1,
      text: 'hi',
    });
    expect(parseReceiptText(text)).toMatchObject({
      id: 'A3F1',
      stat: 'UNDELIV',
      err: '001',
      submitDate: '2611220930',
      doneDate: '2611220931',
      text: 'hi',
    });
  });

  it('never throws on arbitrary input, and what it returns has an id and a stat', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        const r = parseReceiptText(s);
        if (r) {
          expect(r.id.length).toBeGreaterThan(0);
          expect(r.stat).toMatch(/^[A-Z_]+$/);
        }
      }),
    );
  });
});

describe('receipt outcomes', () => {
  it.each([
    ['DELIVRD', 'delivered'],
    ['EXPIRED', 'expired'],
    ['UNDELIV', 'undelivered'],
    ['REJECTD', 'undelivered'],
    ['DELETED', 'undelivered'],
    ['ACCEPTD', 'pending'],
    ['ENROUTE', 'pending'],
    ['UNKNOWN', 'pending'],
  ] as const)('stat %s means %s', (stat, outcome) => {
    expect(outcomeOfStat(stat)).toBe(outcome);
  });

  it.each([
    [1, 'pending'],
    [2, 'delivered'],
    [3, 'expired'],
    [4, 'undelivered'],
    [5, 'undelivered'],
    [6, 'pending'],
    [7, 'pending'],
    [8, 'undelivered'],
  ] as const)('message_state %i means %s', (state, outcome) => {
    expect(outcomeOfMessageState(state)).toBe(outcome);
  });
});

describe('SMSC id spellings', () => {
  it('normalizes case and leading zeros', () => {
    expect(normalizeSmscId(' 000000A3F1 ')).toBe('a3f1');
    expect(normalizeSmscId('0')).toBe('0');
    expect(normalizeSmscId('000')).toBe('0');
  });

  it('tries the id as written first, then the other base', () => {
    // The simulator's hex submit id 000000a3f1 written in a receipt as decimal, or as bare upper hex.
    expect(receiptIdCandidates('41969')).toEqual([
      { id: '41969', via: 'as-written' },
      { id: '268649', via: 'hex-read-as-decimal' },
      { id: 'a3f1', via: 'decimal-read-as-hex' },
    ]);
    expect(receiptIdCandidates('A3F1').map((c) => c.id)).toEqual(['a3f1', '41969']);
    expect(receiptIdCandidates('0a3f1')[0]?.id).toBe('a3f1');
  });

  it('does not convert ids that are not numbers', () => {
    expect(receiptIdCandidates('0000a3f1-0000-4000-8000-000000000001').map((c) => c.id)).toEqual([
      'a3f1-0000-4000-8000-000000000001',
    ]);
    expect(receiptIdCandidates('msg-77').map((c) => c.id)).toEqual(['msg-77']);
  });

  it('round-trips every 64-bit id between bases', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
        expect(receiptIdCandidates(n.toString(10)).map((c) => c.id)).toContain(n.toString(16));
        expect(receiptIdCandidates(n.toString(16).toUpperCase()).map((c) => c.id)).toContain(n.toString(10));
      }),
    );
  });
});
