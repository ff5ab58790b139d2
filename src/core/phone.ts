/**
 * Is `+digits` a possible phone number, and what is its E.164 form: libphonenumber's answer
 * (parse, then isPossible), computed without its costliest step where that step cannot change
 * the answer.
 *
 * For a calling code that several countries share (+1, +44, +61…), libphonenumber's parse finds
 * the country by matching the number against each country's number-type patterns: 20 µs for a
 * UK number, most of intake's CPU. The E.164 form does not depend on that country (the national
 * number is extracted before it is chosen), and "possible" depends on it only through the
 * country's possible lengths. So the number is parsed with metadata that names only the calling
 * code's main country, and the length alone answers when it is possible in every country of the
 * code (a 10-digit UK or North American number) or in none. Only a length that some of the
 * countries allow and others do not (a 7-digit +1 number: Canada only) takes the full parse.
 * The property test in test/core/phone.test.ts holds this to the library's own answer.
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

/** The library's metadata with each calling code naming its main country alone. */
const MAIN_COUNTRY_ONLY: MetadataJson = { ...metadata, country_calling_codes: mainOnly };

/**
 * `candidate` is '+' and digits. Returns its E.164 form without '+' when libphonenumber would
 * call it possible, else null.
 */
export function possibleE164(candidate: string): string | null {
  const parsed = parseWith(candidate, MAIN_COUNTRY_ONLY);
  if (!parsed) return null;
  const lengths = shared.get(parsed.countryCallingCode);
  let possible: boolean;
  if (!lengths) {
    possible = parsed.isPossible();
  } else {
    const n = parsed.nationalNumber.length;
    if (lengths.all.has(n)) possible = true;
    else if (!lengths.any.has(n)) possible = false;
    else possible = parsePhoneNumberFromString(candidate)?.isPossible() ?? false;
  }
  return possible ? parsed.number.slice(1) : null;
}
