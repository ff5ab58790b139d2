/**
 * Is `+digits` a possible phone number, and what is its E.164 form: libphonenumber's answer
 * (parse, then isPossible), computed without its costliest step where that step cannot change
 * the answer.
 *
 * For a calling code that several countries share (+1, +44, +61…), libphonenumber's parse finds
 * the country by matching the number against each country's number-type patterns: 20 µs for a
 * UK number, most of intake's CPU. Unless the number starts with the national prefix (whose
 * stripping each country's plan decides for itself: those take the full parse), the E.164 form
 * does not depend on that country, and "possible" depends on it only through the country's
 * possible lengths. So the number is parsed with metadata that names only the calling
 * code's main country, and the length alone answers when it is possible in every country of the
 * code (a 10-digit UK or North American number) or in none. Only a length that some of the
 * countries allow and others do not (a 7-digit +1 number: Canada only) takes the full parse.
 *
 * Most numbers need no parse at all. With '+', the library takes the calling code as the shortest
 * prefix it knows, and the national number is the rest unless the code's main plan has a national
 * prefix that the rest starts with (then its stripping and transform rules apply). So when the rest
 * does not start with that prefix, the calling code and the rest's length answer alone: 0.3 µs
 * instead of 3 µs for a UK number. Anything else takes the parse.
 * The property test in test/core/phone.test.ts holds all of this to the library's own answer.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import {
  type CountryCode,
  Metadata,
  type MetadataJson,
  parsePhoneNumberFromString as parseWith,
} from 'libphonenumber-js/core';
import metadata from 'libphonenumber-js/min/metadata';

interface SharedLengths {
  /** National number lengths possible in every country of the calling code. */
  all: ReadonlySet<number>;
  /** … and in at least one of them. */
  any: ReadonlySet<number>;
}

const shared = new Map<string, SharedLengths>();
const mainOnly: Record<string, CountryCode[]> = {};
{
  const m = new Metadata(metadata);
  for (const [code, countries] of Object.entries(metadata.country_calling_codes)) {
    mainOnly[code] = countries.slice(0, 1);
    if (countries.length < 2) continue;
    const lengths = countries.map((country) => {
      m.selectNumberingPlan(country);
      return new Set(m.numberingPlan?.possibleLengths() ?? []);
    });
    const any = new Set(lengths.flatMap((l) => [...l]));
    const all = new Set([...any].filter((n) => lengths.every((l) => l.has(n))));
    shared.set(code, { all, any });
  }
}

/**
 * Whether a national number of length `n` is possible in a shared calling code's countries, when
 * they all agree; undefined when some allow it and others do not (the full parse decides).
 */
function sharedVerdict(lengths: SharedLengths, n: number): boolean | undefined {
  if (lengths.all.has(n)) return true;
  if (!lengths.any.has(n)) return false;
  return undefined;
}

/** The library's metadata with each calling code naming its main country alone. */
const MAIN_COUNTRY_ONLY: MetadataJson = { ...metadata, country_calling_codes: mainOnly };

/** What the length check needs of a calling code's main plan. */
interface CodePlan {
  /** The national prefix for parsing, anchored; null when the plan has none. */
  prefix: RegExp | null;
  /** Possible national number lengths; null when the plan lists none (the parse decides). */
  lengths: ReadonlySet<number> | null;
}

/**
 * The library's metadata as it runs: selecting a plan by calling code and reading its national
 * prefix for parsing are there but not in its typings. Should a version lack them, every number
 * takes the parse (the plans stay empty).
 */
interface PlanReader {
  selectNumberingPlan(countryOrCallingCode: string): void;
  numberingPlan?: {
    possibleLengths(): number[] | undefined;
    nationalPrefixForParsing?: () => string | undefined;
  };
}

const plans = new Map<string, CodePlan>();
{
  const m = new Metadata(metadata) as unknown as PlanReader;
  for (const code of Object.keys(metadata.country_calling_codes)) {
    m.selectNumberingPlan(code);
    const plan = m.numberingPlan;
    if (typeof plan?.nationalPrefixForParsing !== 'function') {
      plans.clear();
      break;
    }
    const prefix = plan.nationalPrefixForParsing();
    const lengths = plan.possibleLengths();
    plans.set(code, {
      prefix: prefix ? new RegExp(`^(?:${prefix})`) : null,
      lengths: lengths && lengths.length > 0 ? new Set(lengths) : null,
    });
  }
}

/** The national number lengths the library accepts at all (MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN). */
const MIN_NATIONAL = 2;
const MAX_NATIONAL = 17;

/**
 * The answer from the calling code and the length alone, or undefined where the library's parse
 * could see more (a national prefix, a length the countries of a shared code disagree on).
 */
function byLength(candidate: string): string | null | undefined {
  for (let end = 2; end <= 4 && end < candidate.length; end++) {
    const plan = plans.get(candidate.slice(1, end));
    if (plan === undefined) continue;
    const national = candidate.slice(end);
    const n = national.length;
    if (n < MIN_NATIONAL || n > MAX_NATIONAL || plan.lengths === null) return undefined;
    if (plan.prefix?.test(national)) return undefined;
    const lengths = shared.get(candidate.slice(1, end));
    const possible = lengths === undefined ? plan.lengths.has(n) : sharedVerdict(lengths, n);
    if (possible === undefined) return undefined;
    return possible ? candidate.slice(1) : null;
  }
  return undefined;
}

/**
 * `candidate` is '+' and digits. Returns its E.164 form without '+' when libphonenumber would
 * call it possible, else null.
 */
export function possibleE164(candidate: string): string | null {
  const quick = byLength(candidate);
  if (quick !== undefined) return quick;
  const parsed = parseWith(candidate, MAIN_COUNTRY_ONLY);
  if (!parsed) return null;
  const code = parsed.countryCallingCode;
  const lengths = shared.get(code);
  if (lengths === undefined) return parsed.isPossible() ? parsed.number.slice(1) : null;
  // A shared code whose number starts with the national prefix: whether the prefix is stripped
  // depends on the country the number is found to belong to (+1 13100000: Canada's plan allows 7
  // digits and strips the 1, the US plan does not), so the full parse answers, form and all.
  if (plans.get(code)?.prefix?.test(candidate.slice(1 + code.length))) return fullParse(candidate);
  const verdict = sharedVerdict(lengths, parsed.nationalNumber.length);
  if (verdict === undefined) return fullParse(candidate);
  return verdict ? parsed.number.slice(1) : null;
}

/** libphonenumber's own answer, with its country detection (20 µs for a UK number). */
function fullParse(candidate: string): string | null {
  const parsed = parsePhoneNumberFromString(candidate);
  return parsed?.isPossible() ? parsed.number.slice(1) : null;
}
