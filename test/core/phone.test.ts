import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import metadata from 'libphonenumber-js/min/metadata';
import { describe, expect, it } from 'vitest';
import { possibleE164 } from '../../src/core/phone.js';

/** libphonenumber's own answer, with the full country detection: what possibleE164 must equal. */
function reference(candidate: string): string | null {
  const parsed = parsePhoneNumberFromString(candidate);
  return parsed?.isPossible() ? parsed.number.slice(1) : null;
}

const CODES = Object.keys(metadata.country_calling_codes);
const SHARED = CODES.filter((c) => (metadata.country_calling_codes[c]?.length ?? 0) > 1);

/** '+', a calling code, then 1 to 14 digits: mostly numbers libphonenumber has a plan for. */
const e164ish = (codes: readonly string[]) =>
  fc
    .tuple(fc.constantFrom(...codes), fc.stringMatching(/^\d{1,14}$/))
    .map(([code, rest]) => `+${code}${rest}`);

describe('possibleE164', () => {
  it('answers as libphonenumber does, on numbers of every calling code', () => {
    fc.assert(
      fc.property(e164ish(CODES), (n) => {
        expect(possibleE164(n)).toBe(reference(n));
      }),
      { numRuns: 20_000 },
    );
  });

  it('answers as libphonenumber does on the shared calling codes, whatever the country and length', () => {
    fc.assert(
      fc.property(e164ish(SHARED), (n) => {
        expect(possibleE164(n)).toBe(reference(n));
      }),
      { numRuns: 20_000 },
    );
  });

  it('answers as libphonenumber does on any digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+\d{6,15}$/), (n) => {
        expect(possibleE164(n)).toBe(reference(n));
      }),
      { numRuns: 5_000 },
    );
  });

  it('takes the full parse where the countries of a code disagree on the length', () => {
    // +1 with a 7-digit national number is possible only in Canada's plan, +44 with 7 digits in
    // Great Britain's and Guernsey's but not the Isle of Man's or Jersey's.
    for (const n of ['+12045551', '+15551234', '+441481123', '+447624123', '+441534123', '+4420712']) {
      expect(possibleE164(n)).toBe(reference(n));
    }
    expect(possibleE164('+447700900123')).toBe('447700900123');
    expect(possibleE164('+14155550123')).toBe('14155550123');
    expect(possibleE164('+4477009001')).toBeNull();
    // The national prefix, stripped by Canada's plan (7 digits are possible there) and not by the
    // US plan: found by the property test above (seed -610028560).
    for (const n of ['+113100000', '+112045551', '+1123']) expect(possibleE164(n)).toBe(reference(n));
    expect(possibleE164('+113100000')).toBe('13100000');
  });
});
