import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isAllowedAt,
  nextAllowedAt,
  parseQuietHours,
  QUIET_HOURS_HORIZON_MS,
  type QuietHours,
  QuietHoursError,
  UnknownTimeZoneError,
  WEEKDAYS,
  type Weekday,
  zonesForNumber,
} from '../../src/policy/quiet-hours.js';
import { PREFIX_ZONES, REGION_ZONES } from '../../src/policy/zone-data.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const utc = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi);
const DAYTIME: QuietHours = { start: '09:00', end: '21:00' };

const AU_MOBILE = '61412345678';

describe('zonesForNumber', () => {
  it.each([
    ['UK London landline', '442079460000', ['Europe/London']],
    [
      'UK mobile (Britain and the Crown Dependencies share the clock)',
      '447700900123',
      ['Europe/Guernsey', 'Europe/Isle_of_Man', 'Europe/Jersey', 'Europe/London'],
    ],
    ['Germany landline', '4930901820', ['Europe/Berlin', 'Europe/Busingen']],
    ['Germany mobile', '4915112345678', ['Europe/Berlin', 'Europe/Busingen']],
    ['India', '912212345678', ['Asia/Kolkata']],
    ['Nepal', '97714412345', ['Asia/Kathmandu']],
    ['Sydney landline', '61298765432', ['Australia/Sydney']],
    ['Brisbane landline (Queensland, no DST)', '61731234567', ['Australia/Brisbane']],
    ['US 212 Eastern', '12125550100', ['America/New_York']],
    ['US 312 Central', '13125550100', ['America/Chicago']],
    ['US 303 Mountain', '13035550100', ['America/Denver']],
    ['US 415 Pacific', '14155550100', ['America/Los_Angeles']],
    ['US 602 Arizona', '16025550100', ['America/Phoenix']],
    ['US 808 Hawaii', '18085550100', ['Pacific/Honolulu']],
    ['Canada 416 Toronto', '14165550123', ['America/Toronto']],
    ['Canada 709 St. John’s exchange', '17092271234', ['America/St_Johns']],
    ['Kosovo (no zone.tab row)', '38344123456', ['Europe/Belgrade']],
  ])('%s', (_name, number, zones) => {
    expect(zonesForNumber(number)).toEqual(zones);
  });

  it('gives an Australian mobile every mainland and island zone of Australia', () => {
    const zones = zonesForNumber(AU_MOBILE);
    for (const zone of [
      'Australia/Perth',
      'Australia/Eucla',
      'Australia/Darwin',
      'Australia/Adelaide',
      'Australia/Brisbane',
      'Australia/Sydney',
      'Australia/Lord_Howe',
    ]) {
      expect(zones).toContain(zone);
    }
    expect(zones.every((z) => z.startsWith('Australia/') || z === 'Antarctica/Macquarie')).toBe(true);
  });

  it('gives a Russian mobile every Russian zone, Kaliningrad to Kamchatka', () => {
    const zones = zonesForNumber('79161234567');
    expect(zones).toContain('Europe/Kaliningrad');
    expect(zones).toContain('Asia/Kamchatka');
    expect(zones).not.toContain('Europe/Bucharest');
  });

  it('gives a US number of an area code absent from the data every US zone', () => {
    const zones = zonesForNumber('19005550100');
    expect(zones).toContain('America/New_York');
    expect(zones).toContain('Pacific/Honolulu');
    expect(zones).not.toContain('America/Toronto');
  });

  it('returns the same frozen array for numbers of the same prefix', () => {
    const a = zonesForNumber('12125550100');
    expect(zonesForNumber('12129876543')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(zonesForNumber(AU_MOBILE)).toBe(zonesForNumber('61498765432'));
  });

  it('knows no zone for international services or for text that is not E.164 digits', () => {
    expect(zonesForNumber('80012345678')).toEqual([]);
    expect(zonesForNumber('88213123456')).toEqual([]);
    expect(zonesForNumber('+12125550100')).toEqual([]);
    expect(zonesForNumber('')).toEqual([]);
    expect(zonesForNumber('0123')).toEqual([]);
  });

  it('names only zones the runtime knows, and has zones for every region', () => {
    const zones = new Set<string>();
    for (const [set, prefixes] of Object.entries(PREFIX_ZONES)) {
      for (const z of set.split(' ')) zones.add(z);
      expect(prefixes).toMatch(/^[1-9][0-9]*( [1-9][0-9]*)*$/);
    }
    for (const list of Object.values(REGION_ZONES)) for (const z of list.split(' ')) zones.add(z);
    for (const zone of zones) {
      expect(() => new Intl.DateTimeFormat('en', { timeZone: zone }), zone).not.toThrow();
    }
  });
});

describe('parseQuietHours', () => {
  it('accepts a window, with or without days, and a window spanning midnight', () => {
    expect(parseQuietHours({ start: '09:00', end: '21:00' })).toEqual({ start: '09:00', end: '21:00' });
    expect(parseQuietHours({ start: '22:00', end: '06:30', days: ['fri', 'sat', 'fri'] })).toEqual({
      start: '22:00',
      end: '06:30',
      days: ['fri', 'sat'],
    });
  });

  it.each([
    [null, null, /mapping/],
    ['09:00-21:00', null, /mapping/],
    [{ start: '9:00', end: '21:00' }, 'start', /'HH:MM'.*got '9:00'/],
    [{ start: '09:00', end: '24:00' }, 'end', /got '24:00'/],
    [{ start: '09:00' }, 'end', /got nothing/],
    [{ start: '09:00', end: '09:00' }, 'end', /must differ from start/],
    [{ start: '09:00', end: '21:00', days: [] }, 'days', /non-empty/],
    [{ start: '09:00', end: '21:00', days: ['monday'] }, 'days', /got 'monday'/],
    [{ start: '09:00', end: '21:00', zone: 'UTC' }, null, /unknown key zone/],
  ])('rejects %j naming %s', (value, field, message) => {
    const result = parseQuietHours(value);
    expect(result).toBeInstanceOf(QuietHoursError);
    const error = result as QuietHoursError;
    expect(error.field).toBe(field);
    expect(error.code).toBe('SLUICE_ERR_QUIET_HOURS');
    expect(error.message).toMatch(message);
  });

  it('makes nextAllowedAt throw the same typed error for an unusable window', () => {
    expect(() => nextAllowedAt(['Europe/London'], { start: '25:00', end: '06:00' }, 0)).toThrow(
      QuietHoursError,
    );
  });
});

describe('nextAllowedAt', () => {
  it('is now when the window is open, in a fixed-offset and a DST zone', () => {
    const now = utc(2026, 7, 15, 12, 0);
    expect(nextAllowedAt(['Asia/Kolkata'], DAYTIME, now)).toBe(now);
    expect(nextAllowedAt(['Europe/London'], DAYTIME, now)).toBe(now);
  });

  it.each([
    // zone, a moment in the night, the opening at 09:00 local in UTC
    ['Europe/London', 'January (GMT)', utc(2026, 1, 15, 3), utc(2026, 1, 15, 9)],
    ['Europe/London', 'July (BST)', utc(2026, 7, 15, 3), utc(2026, 7, 15, 8)],
    ['Europe/Berlin', 'January (CET)', utc(2026, 1, 15, 3), utc(2026, 1, 15, 8)],
    ['Europe/Berlin', 'July (CEST)', utc(2026, 7, 15, 3), utc(2026, 7, 15, 7)],
    ['Asia/Kolkata', '+05:30', utc(2026, 1, 15, 0), utc(2026, 1, 15, 3, 30)],
    ['Asia/Kathmandu', '+05:45', utc(2026, 1, 15, 0), utc(2026, 1, 15, 3, 15)],
    ['America/New_York', 'January (EST)', utc(2026, 1, 15, 6), utc(2026, 1, 15, 14)],
    ['America/New_York', 'July (EDT)', utc(2026, 7, 15, 6), utc(2026, 7, 15, 13)],
    ['America/Chicago', 'January (CST)', utc(2026, 1, 15, 6), utc(2026, 1, 15, 15)],
    ['America/Denver', 'January (MST)', utc(2026, 1, 15, 6), utc(2026, 1, 15, 16)],
    ['America/Los_Angeles', 'July (PDT)', utc(2026, 7, 15, 6), utc(2026, 7, 15, 16)],
    ['America/Phoenix', 'January (MST)', utc(2026, 1, 15, 6), utc(2026, 1, 15, 16)],
    ['America/Phoenix', 'July (still MST)', utc(2026, 7, 15, 6), utc(2026, 7, 15, 16)],
    ['Pacific/Honolulu', 'July (HST, no DST)', utc(2026, 7, 15, 8), utc(2026, 7, 15, 19)],
    ['America/St_Johns', 'January (-03:30)', utc(2026, 1, 15, 6), utc(2026, 1, 15, 12, 30)],
    ['America/St_Johns', 'July (-02:30)', utc(2026, 7, 15, 6), utc(2026, 7, 15, 11, 30)],
  ])('%s, %s: opens at 09:00 local', (zone, _when, now, opens) => {
    expect(nextAllowedAt([zone], DAYTIME, now)).toBe(opens);
  });

  it('waits until the window is open in every zone of an Australian mobile', () => {
    const zones = zonesForNumber(AU_MOBILE);
    // 2026-01-10 12:00Z: 20:00 in Perth (open), 23:00 on Lord Howe (closed). Perth's 09:00 is
    // 01:00Z, when Lord Howe (+11 in summer) is at 12:00: the first instant open everywhere.
    expect(nextAllowedAt(zones, DAYTIME, utc(2026, 1, 10, 12))).toBe(utc(2026, 1, 11, 1));
    // In July no DST: Lord Howe +10:30, Perth +8; the window opens with Perth, closes with Lord Howe.
    const opens = nextAllowedAt(zones, DAYTIME, utc(2026, 7, 10, 12))!;
    expect(opens).toBe(utc(2026, 7, 11, 1));
    expect(isAllowedAt(zones, DAYTIME, utc(2026, 7, 11, 10, 29))).toBe(true);
    expect(isAllowedAt(zones, DAYTIME, utc(2026, 7, 11, 10, 30))).toBe(false);
  });

  it('treats end as exclusive and lets a window span midnight', () => {
    const night: QuietHours = { start: '20:00', end: '02:00' };
    const london = ['Europe/London'];
    expect(isAllowedAt(london, DAYTIME, utc(2026, 1, 15, 20, 59) + 59_999)).toBe(true);
    expect(isAllowedAt(london, DAYTIME, utc(2026, 1, 15, 21))).toBe(false);
    expect(nextAllowedAt(london, night, utc(2026, 1, 15, 1))).toBe(utc(2026, 1, 15, 1));
    expect(nextAllowedAt(london, night, utc(2026, 1, 15, 2))).toBe(utc(2026, 1, 15, 20));
    expect(nextAllowedAt(london, night, utc(2026, 1, 15, 23, 59))).toBe(utc(2026, 1, 15, 23, 59));
  });

  it('opens a window spanning midnight on the day it starts, for its days only', () => {
    const fridayNight: QuietHours = { start: '22:00', end: '02:00', days: ['fri'] };
    const london = ['Europe/London'];
    // 2026-01-16 is a Friday.
    expect(nextAllowedAt(london, fridayNight, utc(2026, 1, 14, 12))).toBe(utc(2026, 1, 16, 22));
    expect(isAllowedAt(london, fridayNight, utc(2026, 1, 17, 1, 59))).toBe(true);
    expect(isAllowedAt(london, fridayNight, utc(2026, 1, 17, 22, 30))).toBe(false);
    const weekdays: QuietHours = { start: '09:00', end: '17:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'] };
    expect(nextAllowedAt(london, weekdays, utc(2026, 1, 17, 10))).toBe(utc(2026, 1, 19, 9));
  });

  describe('across daylight-saving changes', () => {
    it('US, 8 March 2026: after the jump, 09:00 is an hour earlier in UTC', () => {
      expect(nextAllowedAt(['America/New_York'], DAYTIME, utc(2026, 3, 8, 3))).toBe(utc(2026, 3, 8, 13));
      expect(nextAllowedAt(['America/Los_Angeles'], DAYTIME, utc(2026, 3, 8, 6))).toBe(utc(2026, 3, 8, 16));
      // Arizona keeps MST: nothing moves.
      expect(nextAllowedAt(['America/Phoenix'], DAYTIME, utc(2026, 3, 8, 6))).toBe(utc(2026, 3, 8, 16));
    });

    it('US, 1 November 2026: after the fall back, 09:00 is an hour later in UTC', () => {
      expect(nextAllowedAt(['America/New_York'], DAYTIME, utc(2026, 11, 1, 2))).toBe(utc(2026, 11, 1, 14));
      expect(nextAllowedAt(['America/Chicago'], DAYTIME, utc(2026, 11, 1, 3))).toBe(utc(2026, 11, 1, 15));
    });

    it('EU, 29 March and 25 October 2026', () => {
      expect(nextAllowedAt(['Europe/Berlin'], DAYTIME, utc(2026, 3, 28, 21))).toBe(utc(2026, 3, 29, 7));
      expect(nextAllowedAt(['Europe/London'], DAYTIME, utc(2026, 3, 28, 22))).toBe(utc(2026, 3, 29, 8));
      expect(nextAllowedAt(['Europe/Berlin'], DAYTIME, utc(2026, 10, 24, 20))).toBe(utc(2026, 10, 25, 8));
      expect(nextAllowedAt(['Europe/London'], DAYTIME, utc(2026, 10, 24, 22))).toBe(utc(2026, 10, 25, 9));
    });

    it('a window opening at 02:30 on a spring-forward day opens when the clocks reach 03:00', () => {
      const early: QuietHours = { start: '02:30', end: '06:00' };
      // New York jumps from 02:00 EST to 03:00 EDT at 07:00Z on 8 March 2026.
      expect(nextAllowedAt(['America/New_York'], early, utc(2026, 3, 8, 5))).toBe(utc(2026, 3, 8, 7));
      expect(nextAllowedAt(['America/New_York'], early, utc(2026, 3, 7, 5))).toBe(utc(2026, 3, 7, 7, 30));
      // Berlin jumps from 02:00 CET to 03:00 CEST at 01:00Z on 29 March 2026.
      expect(nextAllowedAt(['Europe/Berlin'], early, utc(2026, 3, 28, 23))).toBe(utc(2026, 3, 29, 1));
    });

    it('a window closing in the skipped hour closes at the jump', () => {
      const late: QuietHours = { start: '22:00', end: '02:30' };
      const ny = ['America/New_York'];
      expect(isAllowedAt(ny, late, utc(2026, 3, 8, 7) - 1)).toBe(true);
      expect(isAllowedAt(ny, late, utc(2026, 3, 8, 7))).toBe(false);
      expect(nextAllowedAt(ny, late, utc(2026, 3, 8, 7))).toBe(utc(2026, 3, 9, 2));
    });

    it('on a fall-back day, the repeated hour is judged by the wall clock each time', () => {
      const window: QuietHours = { start: '01:30', end: '03:00' };
      const ny = ['America/New_York'];
      // 1 November 2026: 01:30 EDT is 05:30Z; at 06:00Z the clocks go from 02:00 EDT back to 01:00 EST.
      expect(nextAllowedAt(ny, window, utc(2026, 11, 1, 4))).toBe(utc(2026, 11, 1, 5, 30));
      expect(isAllowedAt(ny, window, utc(2026, 11, 1, 5, 59))).toBe(true);
      expect(nextAllowedAt(ny, window, utc(2026, 11, 1, 6))).toBe(utc(2026, 11, 1, 6, 30));
      expect(isAllowedAt(ny, window, utc(2026, 11, 1, 7, 59))).toBe(true);
      expect(isAllowedAt(ny, window, utc(2026, 11, 1, 8))).toBe(false);
    });

    it('Morocco, Ramadan 2026: +01 to +00 on 15 February and back on 22 March', () => {
      const casablanca = ['Africa/Casablanca'];
      expect(nextAllowedAt(casablanca, DAYTIME, utc(2026, 2, 10, 22))).toBe(utc(2026, 2, 11, 8));
      expect(nextAllowedAt(casablanca, DAYTIME, utc(2026, 3, 1, 22))).toBe(utc(2026, 3, 2, 9));
      expect(nextAllowedAt(casablanca, DAYTIME, utc(2026, 3, 25, 22))).toBe(utc(2026, 3, 26, 8));
    });

    it('across a year boundary', () => {
      // 22:00 in Tokyo on 31 December is 13:00Z; 09:00 on 1 January is midnight UTC.
      expect(nextAllowedAt(['Asia/Tokyo'], DAYTIME, utc(2026, 12, 31, 13))).toBe(utc(2027, 1, 1, 0));
      expect(nextAllowedAt(['America/New_York'], DAYTIME, utc(2027, 1, 1, 3))).toBe(utc(2027, 1, 1, 14));
    });
  });

  it('is null when the window is never open in every zone at once, and now with no zone at all', () => {
    const office: QuietHours = { start: '09:00', end: '17:00' };
    expect(nextAllowedAt(['Asia/Tokyo', 'America/New_York'], office, utc(2026, 1, 15))).toBeNull();
    expect(nextAllowedAt([], office, utc(2026, 1, 15, 3))).toBe(utc(2026, 1, 15, 3));
  });

  it('throws a typed error for a zone the runtime does not know', () => {
    expect(() => nextAllowedAt(['Mars/Olympus_Mons'], DAYTIME, 0)).toThrow(UnknownTimeZoneError);
  });
});

// An oracle written independently of the module: the wall clock straight from Intl, every time.
const formatters = new Map<string, Intl.DateTimeFormat>();
function wallClock(zone: string, at: number): { minute: number; weekday: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, Number(x.value)]));
  return {
    minute: p.hour! * 60 + p.minute!,
    weekday: new Date(Date.UTC(p.year!, p.month! - 1, p.day!)).getUTCDay(),
  };
}

function minutesOf(time: string): number {
  return Number(time.slice(0, 2)) * 60 + Number(time.slice(3));
}

function oracleAllowed(zones: readonly string[], w: QuietHours, at: number): boolean {
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  const days = w.days ?? WEEKDAYS;
  return zones.every((zone) => {
    const { minute, weekday } = wallClock(zone, at);
    const today = WEEKDAYS[weekday]!;
    const yesterday = WEEKDAYS[(weekday + 6) % 7]!;
    if (start < end) return minute >= start && minute < end && days.includes(today);
    if (minute >= start) return days.includes(today);
    return minute < end && days.includes(yesterday);
  });
}

describe('nextAllowedAt, property', () => {
  const ZONE_SETS: ReadonlyArray<readonly string[]> = [
    ['Europe/London'],
    ['Europe/Berlin'],
    ['America/New_York'],
    ['America/Phoenix'],
    ['America/St_Johns'],
    ['Asia/Kathmandu'],
    ['Australia/Lord_Howe'],
    // Two changes five weeks apart (daylight saving suspended for Ramadan).
    ['Africa/Casablanca'],
    ['America/New_York', 'America/Los_Angeles'],
    ['Europe/Berlin', 'America/Sao_Paulo'],
    ['Pacific/Honolulu', 'America/Chicago'],
    zonesForNumber(AU_MOBILE),
  ];
  // DST changes of 2026 in the zones above, to start near them often.
  const TRANSITIONS = [
    utc(2026, 3, 8, 7),
    utc(2026, 3, 8, 10),
    utc(2026, 11, 1, 6),
    utc(2026, 11, 1, 9),
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 4, 4, 15),
    utc(2026, 10, 3, 16),
    utc(2026, 2, 15, 2),
    utc(2026, 3, 22, 2),
  ];
  const clock = fc.integer({ min: 0, max: 1439 }).map((m) => {
    const hh = String(Math.floor(m / 60)).padStart(2, '0');
    const mm = String(m % 60).padStart(2, '0');
    return `${hh}:${mm}`;
  });
  const windowArb = fc
    .record({
      start: clock,
      end: clock,
      days: fc.option(fc.uniqueArray(fc.constantFrom<Weekday>(...WEEKDAYS), { minLength: 1, maxLength: 7 }), {
        freq: 3,
        nil: undefined,
      }),
    })
    .filter((w) => w.start !== w.end)
    .map(
      (w): QuietHours =>
        w.days ? { start: w.start, end: w.end, days: w.days } : { start: w.start, end: w.end },
    );
  const nowArb = fc.oneof(
    fc.integer({ min: utc(2026, 1, 1), max: utc(2027, 12, 31) }),
    fc
      .tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -2 * DAY, max: 2 * DAY }))
      .map(([t, d]) => t + d),
  );

  it('returns an instant open in every zone, with no open minute between now and it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONE_SETS), windowArb, nowArb, (zones, window, now) => {
        const next = nextAllowedAt(zones, window, now);
        if (next === null) {
          // Nothing open anywhere in the horizon (checked every 5 minutes).
          for (let t = now; t < now + QUIET_HOURS_HORIZON_MS; t += 5 * MINUTE) {
            expect(oracleAllowed(zones, window, t)).toBe(false);
          }
          return;
        }
        expect(next).toBeGreaterThanOrEqual(now);
        expect(next - now).toBeLessThan(QUIET_HOURS_HORIZON_MS);
        expect(oracleAllowed(zones, window, next)).toBe(true);
        expect(isAllowedAt(zones, window, next)).toBe(true);
        if (next > now) expect(oracleAllowed(zones, window, next - 1)).toBe(false);
        for (let t = now; t < next; t += MINUTE) expect(oracleAllowed(zones, window, t)).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('agrees with the oracle at any instant', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONE_SETS), windowArb, nowArb, (zones, window, at) => {
        expect(isAllowedAt(zones, window, at)).toBe(oracleAllowed(zones, window, at));
      }),
      { numRuns: 500 },
    );
  });

  it('answers an open instant with itself', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONE_SETS), windowArb, nowArb, (zones, window, now) => {
        const next = nextAllowedAt(zones, window, now);
        if (next !== null) expect(nextAllowedAt(zones, window, next)).toBe(next);
      }),
      { numRuns: 100 },
    );
  });
});
