/**
 * Keywords in inbound SMS (MO): STOP and its kin opt the number out, START opts it back in, HELP
 * asks for the program's help text, and a sender may add keywords of its own, localised ones among
 * them ("BAJA", "ARRÊT"), and custom ones that only get a reply.
 *
 * A message is a keyword only when it is one word and nothing else but whitespace and punctuation
 * around it ("Stop.", "  STOP!! ", "\"stop\""): carriers and the CTIA handbook match the whole message,
 * so that "don't stop" or "stop it" in a conversation do not unsubscribe anyone.
 */
import { SluiceError } from '../errors.js';

export const KEYWORD_KINDS = ['opt_out', 'opt_in', 'help', 'custom'] as const;
export type KeywordKind = (typeof KEYWORD_KINDS)[number];

/** A message that is a keyword: what it asks for, the keyword as configured, and the reply template. */
export interface KeywordMatch {
  readonly kind: KeywordKind;
  /** The keyword as listed (defaults or the sender's configuration), in capitals: 'STOP', 'ARRÊT'. */
  readonly keyword: string;
  /**
   * The reply, a template for renderReply: the sender's text for a custom keyword, the carrier-style
   * default of the kind otherwise (a sender's configured reply, where it has one, takes precedence).
   */
  readonly reply: string;
}

/** A sender's additions to the default keywords, as read from configuration. */
export interface KeywordConfig {
  readonly optOut?: readonly string[];
  readonly optIn?: readonly string[];
  readonly help?: readonly string[];
  /** Keyword → its reply text (a template: see renderReply). No opt-out or opt-in effect. */
  readonly custom?: Readonly<Record<string, string>>;
}

/** The keywords every sender understands (CTIA Messaging Principles; the US carriers' list). */
export const DEFAULT_KEYWORDS = {
  optOut: ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT'],
  optIn: ['START', 'YES', 'UNSTOP'],
  help: ['HELP', 'INFO'],
} as const satisfies Record<'optOut' | 'optIn' | 'help', readonly string[]>;

// Default replies, carrier style. Each is GSM-7 and fits one 160-septet part with a program name of
// up to MAX_DEFAULT_REPLY_PROGRAM_LENGTH characters in place of {program}. CTIA expects a help reply
// to name a way to reach a person (a phone number, an address, a site): senders set their own.

export const OPT_OUT_REPLY =
  '{program}: You are unsubscribed and will receive no more messages. Reply START to resubscribe.';
export const OPT_IN_REPLY =
  '{program}: You are subscribed again. Reply HELP for help, STOP to unsubscribe. Msg&data rates may apply.';
export const HELP_REPLY =
  '{program}: For help, contact support. Reply STOP to unsubscribe. Msg&data rates may apply.';

/** GSM-7 characters of a program name (no escaped characters) with which every default reply fits 160. */
export const MAX_DEFAULT_REPLY_PROGRAM_LENGTH = 65;

const DEFAULT_REPLY: Readonly<Record<Exclude<KeywordKind, 'custom'>, string>> = {
  opt_out: OPT_OUT_REPLY,
  opt_in: OPT_IN_REPLY,
  help: HELP_REPLY,
};

// ---------------------------------------------------------------------------------------------------
// Normalising
// ---------------------------------------------------------------------------------------------------

/** UTF-16 units: a longer message is not a keyword, whatever it holds. */
const MAX_MESSAGE_LENGTH = 256;
/** One word: a letter or digit, then letters, digits and their combining marks. */
const WORD = /^[\p{L}\p{N}][\p{L}\p{M}\p{N}]*$/u;
/**
 * The one word of a message, with anything but letters and digits around it. What follows the word
 * starts with neither a letter, a digit nor a mark, so there is one way to split a message and no
 * backtracking to speak of (a word followed by hundreds of combining marks would cost milliseconds).
 */
const ONE_WORD_MESSAGE =
  /^[^\p{L}\p{N}]*([\p{L}\p{N}][\p{L}\p{M}\p{N}]*)(?:[^\p{L}\p{M}\p{N}][^\p{L}\p{N}]*)?$/u;
/** Accents on Latin and Greek letters, which people leave out when they type a keyword. */
const LATIN_GREEK_MARKS = /([\p{Script=Latin}\p{Script=Greek}])\p{M}+/gu;

/**
 * The form a keyword is compared in, or null when the text is not one word. The word is taken with
 * the whitespace and punctuation (and symbols: emoji) around it dropped; compatibility forms
 * folded (full-width "ＳＴＯＰ" is STOP); capitalised by Unicode's rules ("straße" is STRASSE, Turkish
 * "iptal" and "İPTAL" both IPTAL); accents dropped from Latin and Greek letters, so that "arret"
 * matches a configured "ARRÊT". Never throws.
 */
export function normalizeKeyword(text: string): string | null {
  if (text.length > MAX_MESSAGE_LENGTH) return null;
  const word = ONE_WORD_MESSAGE.exec(text.normalize('NFKC'))?.[1];
  return word === undefined ? null : fold(word);
}

function fold(word: string): string {
  return word.toUpperCase().normalize('NFD').replace(LATIN_GREEK_MARKS, '$1').normalize('NFC');
}

/** How a configured keyword is shown: as written, compatibility forms folded, in capitals. */
function display(keyword: string): string {
  return keyword.normalize('NFKC').toUpperCase();
}

// ---------------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------------

export const KEYWORD_CONFIG_PROBLEMS = ['not_one_word', 'two_kinds', 'two_replies'] as const;
export type KeywordConfigProblem = (typeof KEYWORD_CONFIG_PROBLEMS)[number];

/** A configured keyword that cannot be used; the message names it and says what to change. */
export class KeywordConfigError extends SluiceError {
  /** The keyword as configured. */
  readonly keyword: string;
  readonly problem: KeywordConfigProblem;
  constructor(keyword: string, problem: KeywordConfigProblem, message: string) {
    super('SLUICE_ERR_KEYWORD_CONFIG', message);
    this.keyword = keyword;
    this.problem = problem;
  }
}

const KIND_NAME: Readonly<Record<KeywordKind, string>> = {
  opt_out: 'an opt-out keyword',
  opt_in: 'an opt-in keyword',
  help: 'a help keyword',
  custom: 'a custom keyword',
};

interface Listed {
  readonly kind: KeywordKind;
  readonly keyword: string;
  readonly reply: string;
  readonly isDefault: boolean;
}

function listed(config: KeywordConfig): Listed[] {
  const out: Listed[] = [];
  const add = (kind: Exclude<KeywordKind, 'custom'>, words: readonly string[], isDefault: boolean): void => {
    for (const keyword of words) out.push({ kind, keyword, reply: DEFAULT_REPLY[kind], isDefault });
  };
  add('opt_out', DEFAULT_KEYWORDS.optOut, true);
  add('opt_in', DEFAULT_KEYWORDS.optIn, true);
  add('help', DEFAULT_KEYWORDS.help, true);
  add('opt_out', config.optOut ?? [], false);
  add('opt_in', config.optIn ?? [], false);
  add('help', config.help ?? [], false);
  for (const [keyword, reply] of Object.entries(config.custom ?? {})) {
    out.push({ kind: 'custom', keyword, reply, isDefault: false });
  }
  return out;
}

/**
 * Every problem with a sender's keywords, each naming its keyword: one that is not one word, one
 * that means two things (two kinds, counting the defaults: a sender cannot make STOP a custom
 * keyword, and ARRET and ARRÊT are the same keyword), a custom keyword listed twice with two replies.
 * Empty when the table can be built.
 */
export function keywordConfigErrors(config: KeywordConfig): KeywordConfigError[] {
  return build(config).errors;
}

function build(config: KeywordConfig): { entries: Map<string, KeywordMatch>; errors: KeywordConfigError[] } {
  const entries = new Map<string, KeywordMatch>();
  const origin = new Map<string, Listed>();
  const errors: KeywordConfigError[] = [];
  for (const item of listed(config)) {
    const normal = item.keyword.normalize('NFKC');
    if (!WORD.test(normal) || normal.length > MAX_MESSAGE_LENGTH) {
      errors.push(
        new KeywordConfigError(
          item.keyword,
          'not_one_word',
          `keyword '${item.keyword}' must be one word: letters and digits, without spaces or punctuation`,
        ),
      );
      continue;
    }
    const key = fold(normal);
    const first = origin.get(key);
    if (first === undefined) {
      origin.set(key, item);
      entries.set(key, Object.freeze({ kind: item.kind, keyword: display(item.keyword), reply: item.reply }));
    } else if (first.kind !== item.kind) {
      const as = first.keyword === item.keyword ? '' : ` (as '${first.keyword}')`;
      errors.push(
        new KeywordConfigError(
          item.keyword,
          'two_kinds',
          `keyword '${item.keyword}' is ${KIND_NAME[first.kind]}${first.isDefault ? ' by default' : ''}${as} and ${
            KIND_NAME[item.kind]
          }: a keyword has one meaning, remove it from one list`,
        ),
      );
    } else if (first.reply !== item.reply) {
      errors.push(
        new KeywordConfigError(
          item.keyword,
          'two_replies',
          `custom keyword '${item.keyword}' is listed twice (also as '${first.keyword}') with different replies: keep one`,
        ),
      );
    }
  }
  return { entries, errors };
}

/**
 * The keywords of one sender: the defaults and its own. Built once per sender when configuration
 * loads; classify is a normalisation and a map lookup.
 */
export class KeywordTable {
  readonly #entries: ReadonlyMap<string, KeywordMatch>;

  /** Throws the first KeywordConfigError (keywordConfigErrors lists them all). */
  constructor(config: KeywordConfig = {}) {
    const { entries, errors } = build(config);
    if (errors.length > 0) throw errors[0];
    this.#entries = entries;
  }

  /** What the message asks for, or null when it is not exactly one keyword. */
  classify(text: string): KeywordMatch | null {
    const key = normalizeKeyword(text);
    return key === null ? null : (this.#entries.get(key) ?? null);
  }
}

// ---------------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------------

/** The placeholders a reply template may use. */
export interface ReplyVars {
  /** The program's name (or, for a sender in no program, its address): {program}. */
  readonly program: string;
  /** The sender address the keyword came to: {sender}; absent, the program name stands in. */
  readonly sender?: string;
}

const PLACEHOLDER = /\{(program|sender)\}/g;

/**
 * The template with {program} and {sender} replaced, in one pass (a name containing "{sender}" is
 * not expanded again). Other braces are left as written.
 */
export function renderReply(template: string, vars: ReplyVars): string {
  return template.replace(PLACEHOLDER, (_, name: 'program' | 'sender') =>
    name === 'program' ? vars.program : (vars.sender ?? vars.program),
  );
}
