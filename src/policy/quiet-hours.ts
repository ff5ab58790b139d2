/**
 * Quiet hours: a message waits while the recipient's local time is outside the sender's allowed
 * window, and goes when the window opens.
 *
 * The local time comes from the number (zonesForNumber): a number narrows to a set of candidate
 * zones, one for most, several where the number does not say where in a wide country (an
 * Australian or Russian mobile, an unknown US area code). With several, a message goes only while
 * the window is open in every candidate zone: sending to a sleeping recipient is the mistake that
 * costs, waiting an hour longer is not.
 *
 * "Allowed at an instant" means, for each zone, that the wall clock there shows a time of day inside
 * [start, end). Everything else follows from that one rule, including daylight-saving days: a window
 * opening at 02:30 on a day the clocks jump from 02:00 to 03:00 opens at 03:00, the first instant
 * whose wall clock is at or past 02:30; on a day the clocks fall back from 02:00 to 01:00, a window
 * opening at 01:30 opens at the first 01:30, is closed again during the repeated 01:00–01:30, and
 * reopens at the second 01:30.
 */
import { getCountries, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { quoteValue, SluiceError } from '../errors.js';
import { PREFIX_ZONES, REGION_ZONES } from './zone-data.js';

// ---------------------------------------------------------------------------------------------------
// The window
// ---------------------------------------------------------------------------------------------------

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When messages may go, in the recipient's local time. */
export interface QuietHours {
  /** 'HH:MM' (00:00..23:59): the allowed window opens. */
  readonly start: string;
  /** 'HH:MM': the window closes (the minute itself is outside). Earlier than start: it spans midnight. */
  readonly end: string;
  /**
   * The local days on which the window opens; absent: every day. A window spanning midnight belongs
   * to the day it opens: `fri` with 22:00–02:00 allows Friday 22:00 to Saturday 02:00.
   */
  readonly days?: readonly Weekday[];
}

/** A quiet-hours setting that cannot be used; `field` names the key to change (null: the whole value). */
export class QuietHoursError extends SluiceError {
  readonly field: 'start' | 'end' | 'days' | null;
  constructor(field: 'start' | 'end' | 'days' | null, message: string) {
    super('SLUICE_ERR_QUIET_HOURS', message);
    this.field = field;
  }
}

/** A zone name the runtime's time-zone database does not know. */
export class UnknownTimeZoneError extends SluiceError {
  readonly zone: string;
  constructor(zone: string, options?: { cause?: unknown }) {
    super(
      'SLUICE_ERR_TIME_ZONE',
      `unknown time zone '${zone}': expected an IANA name such as Europe/London`,
      {
        cause: options?.cause,
      },
    );
    this.zone = zone;
  }
}

const CLOCK_TIME = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const WINDOW_KEYS = ['start', 'end', 'days'];

/**
 * Checks a quiet-hours value as read from configuration. Returns the error rather than throwing it,
 * so that configuration checking can report it beside every other problem it finds.
 */
export function parseQuietHours(value: unknown): QuietHours | QuietHoursError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return new QuietHoursError(null, "quiet hours must be a mapping with start and end ('HH:MM')");
  }
  const record = value as Record<string, unknown>;
  const stray = Object.keys(record).filter((k) => !WINDOW_KEYS.includes(k));
  if (stray.length > 0) {
    return new QuietHoursError(
      null,
      `quiet hours has unknown key ${stray.join(', ')}: expected start, end, days`,
    );
  }
  const times: Record<'start' | 'end', string> = { start: '', end: '' };
  for (const key of ['start', 'end'] as const) {
    const time = record[key];
    if (typeof time !== 'string' || !CLOCK_TIME.test(time)) {
      return new QuietHoursError(
        key,
        `quiet hours ${key} must be a time of day 'HH:MM' (00:00..23:59), got ${quoteValue(time)}`,
      );
    }
    times[key] = time;
  }
  if (times.start === times.end) {
    return new QuietHoursError(
      'end',
      `quiet hours end must differ from start (both ${times.start}): an empty window would hold every message; to send at any hour, set no quiet hours`,
    );
  }
  if (record.days === undefined) return Object.freeze({ start: times.start, end: times.end });
  const days = record.days;
  if (!Array.isArray(days) || days.length === 0) {
    return new QuietHoursError('days', `quiet hours days must be a non-empty list of ${WEEKDAYS.join(', ')}`);
  }
  const chosen: Weekday[] = [];
  for (const day of days) {
    const found = WEEKDAYS.find((d) => d === day);
    if (found === undefined) {
      return new QuietHoursError(
        'days',
        `quiet hours days must be among ${WEEKDAYS.join(', ')}, got ${quoteValue(day)}`,
      );
    }
    if (!chosen.includes(found)) chosen.push(found);
  }
  return Object.freeze({ start: times.start, end: times.end, days: Object.freeze(chosen) });
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const ALL_DAYS = 0b111_1111;

/** A window in minutes of the local day, with its days as a bit mask (bit 0: Sunday). */
interface Window {
  readonly start: number;
  readonly end: number;
  readonly dayMask: number;
}

/** Compiled once per window object: config objects live for the process, messages come by the thousand. */
const compiledWindows = new WeakMap<QuietHours, Window>();

function compile(window: QuietHours): Window {
  const known = compiledWindows.get(window);
  if (known) return known;
  const checked = parseQuietHours(window);
  if (checked instanceof QuietHoursError) throw checked;
  const minutes = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
  const dayMask = checked.days
    ? checked.days.reduce((mask, day) => mask | (1 << WEEKDAYS.indexOf(day)), 0)
    : ALL_DAYS;
  const compiled = { start: minutes(checked.start), end: minutes(checked.end), dayMask };
  compiledWindows.set(window, compiled);
  return compiled;
}

/** Whether a wall-clock time (ms since the epoch, read as local) falls in the window. */
function inWindow(w: Window, local: number): boolean {
  const day = Math.floor(local / DAY_MS);
  const minute = Math.floor((local - day * DAY_MS) / MINUTE_MS);
  if (w.start < w.end) return minute >= w.start && minute < w.end && opensOn(w, day);
  if (minute >= w.start) return opensOn(w, day);
  // Past midnight in a window that spans it: the window opened the day before.
  return minute < w.end && opensOn(w, day - 1);
}

/** Day numbers count from 1970-01-01, a Thursday (weekday 4). */
function opensOn(w: Window, day: number): boolean {
  return ((w.dayMask >> ((((day + 4) % 7) + 7) % 7)) & 1) === 1;
}

// ---------------------------------------------------------------------------------------------------
// Offsets of a zone from UTC
// ---------------------------------------------------------------------------------------------------

/** A stretch of time during which a zone's offset from UTC does not change. */
interface Span {
  /** ms since the epoch, inclusive. */
  readonly from: number;
  /** ms since the epoch, exclusive. */
  readonly to: number;
  /** ms to add to UTC to get the wall clock. */
  readonly offset: number;
}

/**
 * ms between two probes when looking for a zone's transitions. Two transitions closer together than
 * this would be missed; no zone changes its clocks twice in a day.
 */
const PROBE_STEP_MS = DAY_MS;

/**
 * The offsets of one zone, learned from Intl one UTC year at a time (two to three hundred probes and a
 * bisection to the second for each transition, about a millisecond), then answered from the span
 * that answered last: the dispatcher asks about "now" again and again.
 */
class ZoneOffsets {
  readonly #format: Intl.DateTimeFormat;
  readonly #years = new Map<number, readonly Span[]>();
  #last: Span = { from: 0, to: 0, offset: 0 };

  constructor(zone: string) {
    try {
      this.#format = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (e) {
      throw new UnknownTimeZoneError(zone, { cause: e });
    }
  }

  offsetAt(t: number): number {
    const last = this.#last;
    if (t >= last.from && t < last.to) return last.offset;
    return this.spanAt(t).offset;
  }

  spanAt(t: number): Span {
    const last = this.#last;
    if (t >= last.from && t < last.to) return last;
    const year = new Date(t).getUTCFullYear();
    let spans = this.#years.get(year);
    if (!spans) {
      spans = this.#learnYear(year);
      this.#years.set(year, spans);
    }
    const span = spans.find((s) => t >= s.from && t < s.to) ?? spans[spans.length - 1]!;
    this.#last = span;
    return span;
  }

  #learnYear(year: number): Span[] {
    const start = Date.UTC(year, 0, 1);
    const end = Date.UTC(year + 1, 0, 1);
    const spans: Span[] = [];
    let from = start;
    let offset = this.#probe(start);
    let lo = start;
    while (lo < end) {
      const hi = Math.min(lo + PROBE_STEP_MS, end);
      if (this.#probe(hi) === offset) {
        lo = hi;
        continue;
      }
      const at = this.#firstChange(lo, hi, offset);
      if (at >= end) break;
      spans.push({ from, to: at, offset });
      from = at;
      offset = this.#probe(at);
      lo = at;
    }
    spans.push({ from, to: end, offset });
    return spans;
  }

  /** The first whole second in (lo, hi] whose offset is not `offset`; the offset at lo is, at hi is not. */
  #firstChange(lo: number, hi: number, offset: number): number {
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (this.#probe(mid) === offset) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** The zone's offset at t, to the second. */
  #probe(t: number): number {
    const f: Record<string, number> = {};
    for (const part of this.#format.formatToParts(t)) {
      if (part.type !== 'literal') f[part.type] = Number(part.value);
    }
    const wall = Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!);
    return wall - Math.floor(t / 1000) * 1000;
  }
}

/** One per zone for the life of the process: there are a few hundred zones at most. */
const zoneOffsets = new Map<string, ZoneOffsets>();

function offsetsOf(zone: string): ZoneOffsets {
  let offsets = zoneOffsets.get(zone);
  if (!offsets) {
    offsets = new ZoneOffsets(zone);
    zoneOffsets.set(zone, offsets);
  }
  return offsets;
}

// ---------------------------------------------------------------------------------------------------
// When a message may go
// ---------------------------------------------------------------------------------------------------

/**
 * How far ahead nextAllowedAt looks: two weeks and a day, enough for a window open one day a week to
 * come round twice whatever the daylight-saving changes in between.
 */
export const QUIET_HOURS_HORIZON_MS = 15 * DAY_MS;

/** Whether a message may go at `atMs`: the window is open in every zone (in none given: yes). */
export function isAllowedAt(zones: readonly string[], window: QuietHours, atMs: number): boolean {
  const w = compile(window);
  for (const zone of zones) {
    if (!inWindow(w, atMs + offsetsOf(zone).offsetAt(atMs))) return false;
  }
  return true;
}

/**
 * The earliest instant at or after `nowMs` at which the window is open in every zone: `nowMs` itself
 * when it is open now (the cheap, common case: a comparison per zone).
 *
 * null when no instant in the next QUIET_HOURS_HORIZON_MS is open in every zone: the candidate zones
 * are too far apart for the window (a window of 8 hours and zones 12 hours apart). Waiting will not
 * help; the caller should fail the message with a reason naming quiet hours (never send it at an
 * arbitrary hour), so that the sender widens the window or sends to that number without one. Zones
 * of one number rarely span more than 6 hours (the US: 6 hours with Hawaii and Alaska; Russia: 10).
 *
 * Throws QuietHoursError for an unusable window and UnknownTimeZoneError for an unknown zone.
 */
export function nextAllowedAt(zones: readonly string[], window: QuietHours, nowMs: number): number | null {
  if (isAllowedAt(zones, window, nowMs)) return nowMs;
  const w = compile(window);
  const until = nowMs + QUIET_HOURS_HORIZON_MS;
  let common: number[] | null = null;
  for (const zone of zones) {
    const open = openIntervals(offsetsOf(zone), w, nowMs, until);
    common = common === null ? open : intersect(common, open);
    if (common.length === 0) return null;
  }
  return common === null ? nowMs : common[0]!;
}

/**
 * The instants in [from, until) at which the window is open in one zone, as sorted, disjoint
 * [start, end) pairs flattened into one array. Within a span of constant offset the wall clock is
 * UTC shifted, so each day's window maps to one interval, clipped to the span: a window edge that
 * falls in a skipped hour is clipped to the transition, which is where the wall clock first reaches it.
 */
function openIntervals(offsets: ZoneOffsets, w: Window, from: number, until: number): number[] {
  const out: number[] = [];
  const length = ((w.end - w.start + 1440) % 1440) * MINUTE_MS;
  for (let t = from; t < until; ) {
    const span = offsets.spanAt(t);
    const spanEnd = Math.min(span.to, until);
    const localFrom = t + span.offset;
    const localTo = spanEnd + span.offset;
    // From the day before: a window spanning midnight may have opened then.
    for (let day = Math.floor(localFrom / DAY_MS) - 1; day * DAY_MS < localTo; day++) {
      if (!opensOn(w, day)) continue;
      const opens = day * DAY_MS + w.start * MINUTE_MS;
      const start = Math.max(opens, localFrom) - span.offset;
      const end = Math.min(opens + length, localTo) - span.offset;
      if (start >= end) continue;
      if (out.length > 0 && out[out.length - 1]! >= start)
        out[out.length - 1] = Math.max(out[out.length - 1]!, end);
      else out.push(start, end);
    }
    t = spanEnd;
  }
  return out;
}

/** The intersection of two sorted, disjoint interval lists. */
function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i]!, b[j]!);
    const end = Math.min(a[i + 1]!, b[j + 1]!);
    if (start < end) out.push(start, end);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Zones of a number
// ---------------------------------------------------------------------------------------------------

const NO_ZONES: readonly string[] = Object.freeze([]);

interface ZoneTables {
  /** Prefix (E.164 digits) → its zones; the longest matching prefix wins. */
  readonly byPrefix: ReadonlyMap<string, readonly string[]>;
  readonly longestPrefix: number;
  readonly byRegion: ReadonlyMap<string, readonly string[]>;
  /** Calling code → the regions that share it ('1' → US, CA, and the Caribbean). */
  readonly regionsByCallingCode: ReadonlyMap<string, readonly string[]>;
}

let tables: ZoneTables | null = null;

/** Built on first use (about a millisecond), with one frozen array per distinct zone set. */
function zoneTables(): ZoneTables {
  if (tables) return tables;
  const sets = new Map<string, readonly string[]>();
  const shared = (zones: readonly string[]): readonly string[] => {
    const sorted = [...zones].sort();
    const key = sorted.join(' ');
    let set = sets.get(key);
    if (!set) {
      set = Object.freeze(sorted);
      sets.set(key, set);
    }
    return set;
  };
  const byPrefix = new Map<string, readonly string[]>();
  let longestPrefix = 0;
  for (const [zones, prefixes] of Object.entries(PREFIX_ZONES)) {
    const set = shared(zones.split(' '));
    for (const prefix of prefixes.split(' ')) {
      byPrefix.set(prefix, set);
      longestPrefix = Math.max(longestPrefix, prefix.length);
    }
  }
  const byRegion = new Map<string, readonly string[]>();
  for (const [region, zones] of Object.entries(REGION_ZONES)) byRegion.set(region, shared(zones.split(' ')));
  const regionsByCallingCode = new Map<string, string[]>();
  for (const region of getCountries()) {
    const code = getCountryCallingCode(region);
    const regions = regionsByCallingCode.get(code) ?? [];
    regions.push(region);
    regionsByCallingCode.set(code, regions);
  }
  tables = { byPrefix, longestPrefix, byRegion, regionsByCallingCode };
  return tables;
}

/**
 * Digits of a number that settle its region, as far as zones care: a NANP area code is 4 digits with
 * the 1, Guernsey, Jersey and the Isle of Man are told from Britain by 6.
 */
const REGION_KEY_DIGITS = 6;
/** Entries kept in the region cache before it starts again: bounds memory against scattered traffic. */
const REGION_CACHE_LIMIT = 10_000;
const regionCache = new Map<string, readonly string[]>();

const E164_DIGITS = /^[1-9][0-9]{1,14}$/;

/**
 * The candidate zones of a number (E.164 digits without '+'), IANA names, sorted; the same frozen
 * array for every number of the same prefix. One zone for most numbers; all of its region's zones
 * where the number does not say where (mobiles in Australia, Russia, Indonesia; an area code newer
 * than the data). Empty for a number of no region (international services such as +800, +882) or
 * not E.164 digits: no local time is known, and the caller decides (nextAllowedAt treats an empty
 * list as no constraint).
 *
 * Data: src/policy/zone-data.ts (libphonenumber's prefix map, IANA zone.tab). The prefix lookup is
 * a few map probes; the region fallback parses the number once per 6-digit prefix.
 */
export function zonesForNumber(e164Digits: string): readonly string[] {
  if (!E164_DIGITS.test(e164Digits)) return NO_ZONES;
  const t = zoneTables();
  for (let n = Math.min(e164Digits.length, t.longestPrefix); n > 0; n--) {
    const zones = t.byPrefix.get(e164Digits.slice(0, n));
    if (zones) return zones;
  }
  const key = e164Digits.slice(0, REGION_KEY_DIGITS);
  let zones = regionCache.get(key);
  if (!zones) {
    zones = regionZones(t, e164Digits);
    if (regionCache.size >= REGION_CACHE_LIMIT) regionCache.clear();
    regionCache.set(key, zones);
  }
  return zones;
}

function regionZones(t: ZoneTables, digits: string): readonly string[] {
  let regions: readonly string[] | undefined;
  for (let n = 1; n <= 3 && !regions; n++) regions = t.regionsByCallingCode.get(digits.slice(0, n));
  if (!regions) return NO_ZONES;
  if (regions.length > 1) {
    // A shared calling code (+1, +7, +44, +61…): libphonenumber tells the region from the number.
    const region = parsePhoneNumberFromString(`+${digits}`)?.country;
    if (region !== undefined && regions.includes(region)) regions = [region];
  }
  if (regions.length === 1) return t.byRegion.get(regions[0]!) ?? NO_ZONES;
  const zones = new Set<string>();
  for (const region of regions) for (const zone of t.byRegion.get(region) ?? NO_ZONES) zones.add(zone);
  return Object.freeze([...zones].sort());
}
