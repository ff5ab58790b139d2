import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countSeptets, DEFAULT_CHARSET } from '../../src/codec/gsm7.js';
import {
  DEFAULT_KEYWORDS,
  HELP_REPLY,
  type KeywordConfig,
  KeywordConfigError,
  KeywordTable,
  keywordConfigErrors,
  MAX_DEFAULT_REPLY_PROGRAM_LENGTH,
  normalizeKeyword,
  OPT_IN_REPLY,
  OPT_OUT_REPLY,
  renderReply,
} from '../../src/policy/keywords.js';

const LOCALISED: KeywordConfig = {
  optOut: ['baja', 'ARRÊT', 'İptal', 'стоп', 'रोको', '停止', 'Straße'],
  optIn: ['alta', 'Anmelden'],
  help: ['ayuda', 'hilfe'],
  custom: { hours: 'We are open 9-5, Monday to Friday.', Menu: 'Today: soup.' },
};

describe('normalizeKeyword', () => {
  it.each([
    ['STOP', 'STOP'],
    ['stop', 'STOP'],
    ['Stop.', 'STOP'],
    ['  STOP!! ', 'STOP'],
    ['"stop"', 'STOP'],
    ['stop\n', 'STOP'],
    ['\t¡Baja!', 'BAJA'],
    ['«arrêt»', 'ARRET'],
    ['ARRET', 'ARRET'],
    ['straße', 'STRASSE'],
    ['ıptal', 'IPTAL'],
    ['İPTAL', 'IPTAL'],
    ['ＳＴＯＰ', 'STOP'],
    ['STOP 🛑', 'STOP'],
    ['stop❤️', 'STOP'],
    ['Стоп!', 'СТОП'],
    ['रोको।', 'रोको'],
    ['停止', '停止'],
    ['stop2', 'STOP2'],
  ])('%j is %j', (text, normal) => {
    expect(normalizeKeyword(text)).toBe(normal);
  });

  it.each([
    'stop it',
    'STOP STOP',
    'pls stop',
    "don't",
    'S.T.O.P',
    'stop-all',
    '',
    '   ',
    '!!!',
    '🛑',
    `STOP${' '.repeat(300)}`,
    `a${'\u0301'.repeat(250)} b`,
  ])('%j is not one word', (text) => {
    expect(normalizeKeyword(text)).toBeNull();
  });
});

describe('KeywordTable', () => {
  const defaults = new KeywordTable();
  const localised = new KeywordTable(LOCALISED);

  it('knows the default keywords of each kind, with the kind’s default reply', () => {
    for (const keyword of DEFAULT_KEYWORDS.optOut) {
      expect(defaults.classify(keyword.toLowerCase())).toEqual({
        kind: 'opt_out',
        keyword,
        reply: OPT_OUT_REPLY,
      });
    }
    for (const keyword of DEFAULT_KEYWORDS.optIn) {
      expect(defaults.classify(keyword)).toEqual({ kind: 'opt_in', keyword, reply: OPT_IN_REPLY });
    }
    for (const keyword of DEFAULT_KEYWORDS.help) {
      expect(defaults.classify(` ${keyword}? `)).toEqual({ kind: 'help', keyword, reply: HELP_REPLY });
    }
  });

  it('ignores messages that are not exactly one keyword', () => {
    for (const text of ['stop it', 'STOP STOP', 'pls stop', 'help me', 'yes please', 'Hello', '']) {
      expect(defaults.classify(text)).toBeNull();
    }
    expect(defaults.classify('baja')).toBeNull();
  });

  it('adds a sender’s localised and custom keywords, reported as configured', () => {
    expect(localised.classify('Baja.')).toMatchObject({ kind: 'opt_out', keyword: 'BAJA' });
    expect(localised.classify('arret')).toMatchObject({ kind: 'opt_out', keyword: 'ARRÊT' });
    expect(localised.classify('IPTAL')).toMatchObject({ kind: 'opt_out', keyword: 'İPTAL' });
    expect(localised.classify('СТОП')).toMatchObject({ kind: 'opt_out', keyword: 'СТОП' });
    expect(localised.classify('strasse')).toMatchObject({ kind: 'opt_out', keyword: 'STRASSE' });
    expect(localised.classify('停止!')).toMatchObject({ kind: 'opt_out', keyword: '停止' });
    expect(localised.classify('ANMELDEN')).toMatchObject({ kind: 'opt_in', keyword: 'ANMELDEN' });
    expect(localised.classify('¿Ayuda?')).toMatchObject({ kind: 'help', keyword: 'AYUDA' });
    expect(localised.classify('HOURS')).toEqual({
      kind: 'custom',
      keyword: 'HOURS',
      reply: 'We are open 9-5, Monday to Friday.',
    });
    expect(localised.classify('stop')).toMatchObject({ kind: 'opt_out', keyword: 'STOP' });
  });

  it('accepts a default keyword listed again under its own kind', () => {
    expect(keywordConfigErrors({ optOut: ['stop', 'Stop'] })).toEqual([]);
  });

  it.each<[string, KeywordConfig, string, string, RegExp]>([
    ['two words', { optOut: ['stop it'] }, 'stop it', 'not_one_word', /'stop it' must be one word/],
    ['punctuation', { help: ['help!'] }, 'help!', 'not_one_word', /one word/],
    ['empty', { optIn: [''] }, '', 'not_one_word', /one word/],
    [
      'custom key of two words',
      { custom: { 'opening hours': 'x' } },
      'opening hours',
      'not_one_word',
      /one word/,
    ],
    ['a default as another kind', { optIn: ['STOP'] }, 'STOP', 'two_kinds', /opt-out keyword by default/],
    ['a default made custom', { custom: { info: 'x' } }, 'info', 'two_kinds', /help keyword by default/],
    [
      'the same word without its accent',
      { optOut: ['ARRÊT'], help: ['arret'] },
      'arret',
      'two_kinds',
      /'arret' is an opt-out keyword \(as 'ARRÊT'\) and a help keyword/,
    ],
    [
      'a custom keyword twice',
      { custom: { Hours: 'a', HOURS: 'b' } },
      'HOURS',
      'two_replies',
      /different replies/,
    ],
  ])('rejects %s, naming the keyword', (_name, config, keyword, problem, message) => {
    const errors = keywordConfigErrors(config);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(KeywordConfigError);
    expect(errors[0]).toMatchObject({ keyword, problem, code: 'SLUICE_ERR_KEYWORD_CONFIG' });
    expect(errors[0]!.message).toMatch(message);
    expect(() => new KeywordTable(config)).toThrow(KeywordConfigError);
  });

  it('lists every problem at once', () => {
    const errors = keywordConfigErrors({ optOut: ['a b', 'START'], help: ['c.d'] });
    expect(errors.map((e) => [e.keyword, e.problem])).toEqual([
      ['a b', 'not_one_word'],
      ['START', 'two_kinds'],
      ['c.d', 'not_one_word'],
    ]);
  });
});

describe('replies', () => {
  it('fill {program} and {sender} in one pass, leaving other braces alone', () => {
    expect(renderReply(OPT_OUT_REPLY, { program: 'Acme' })).toBe(
      'Acme: You are unsubscribed and will receive no more messages. Reply START to resubscribe.',
    );
    expect(renderReply('{program} via {sender} {other}', { program: 'A', sender: '12345' })).toBe(
      'A via 12345 {other}',
    );
    expect(renderReply('{sender}', { program: 'Acme' })).toBe('Acme');
    expect(renderReply('{program}', { program: '{sender}', sender: 'x' })).toBe('{sender}');
  });

  it('are GSM-7 and fit one part with the longest program name they promise to fit', () => {
    const name = 'Acme Pharmacy Prescription Alerts and Reminders of Springfield'.padEnd(
      MAX_DEFAULT_REPLY_PROGRAM_LENGTH,
      'x',
    );
    expect(name).toHaveLength(MAX_DEFAULT_REPLY_PROGRAM_LENGTH);
    const septets = [OPT_OUT_REPLY, OPT_IN_REPLY, HELP_REPLY].map((t) =>
      countSeptets(DEFAULT_CHARSET, renderReply(t, { program: name })),
    );
    for (const n of septets) {
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(160);
    }
    expect(Math.max(...septets)).toBe(160);
  });
});

describe('properties', () => {
  const surround = fc.string({
    unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u3000', '.', '!', '?', '¡', '¿', '"', "'", '…'),
    maxLength: 6,
  });
  const symbols = fc.string({
    unit: fc.constantFrom('«', '»', '“', '”', '(', ')', '*', '-', '🛑', '👍🏽'),
    maxLength: 3,
  });
  const keywords = [
    ...DEFAULT_KEYWORDS.optOut,
    ...DEFAULT_KEYWORDS.optIn,
    ...DEFAULT_KEYWORDS.help,
    ...(LOCALISED.optOut ?? []),
    ...(LOCALISED.optIn ?? []),
    ...(LOCALISED.help ?? []),
    ...Object.keys(LOCALISED.custom ?? {}),
  ];
  const table = new KeywordTable(LOCALISED);

  it('normalizeKeyword never throws, and returns null or one capitalised word', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })),
        (text) => {
          const normal = normalizeKeyword(text);
          if (normal !== null) {
            expect(normal).toMatch(/^[\p{L}\p{N}][\p{L}\p{M}\p{N}]*$/u);
            expect(normalizeKeyword(normal)).toBe(normal);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('classifies a keyword the same whatever its case and the punctuation and spaces around it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...keywords),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        surround,
        symbols,
        surround,
        (keyword, upper, before, symbol, after) => {
          const cased = [...keyword]
            .map((c, i) => (upper[i % 12] ? c.toUpperCase() : c.toLowerCase()))
            .join('');
          const expected = table.classify(keyword);
          expect(expected).not.toBeNull();
          expect(table.classify(`${before}${symbol}${cased}${symbol}${after}`)).toEqual(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
