/**
 * The GSM 7-bit alphabets of 3GPP TS 23.038 (formerly GSM 03.38), as data.
 *
 * A "locking shift" table replaces the whole basic alphabet; a "single shift" table replaces the
 * extension table reached through ESC (0x1B). A message announces a national table with a User Data
 * Header IE (3GPP TS 23.040 §9.2.3.24.15 single shift 0x24, §9.2.3.24.16 locking shift 0x25);
 * without one, the default alphabet and the default extension table apply.
 *
 * Basic tables are 128-character strings indexed by septet value. Position 0x1B is ESC in every basic
 * table and is never a character. Extension tables list only the septets they define.
 */

/** National Language Identifiers, 3GPP TS 23.038 §6.2.1.2.4 (Table 6.2.1.2.4.1). */
export const NATIONAL_LANGUAGE = { turkish: 1, spanish: 2, portuguese: 3 } as const;
export type NationalLanguage = keyof typeof NATIONAL_LANGUAGE;

/** The escape septet that selects the extension (single shift) table for the next septet. */
export const ESC = 0x1b;

/** §6.2.1: GSM 7 bit default alphabet. 0x09 is LATIN CAPITAL LETTER C WITH CEDILLA (see the note there). */
export const DEFAULT_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** §6.2.1.1: GSM 7 bit default alphabet extension table. 0x0A is FORM FEED (page break). */
export const DEFAULT_EXTENSION: Readonly<Record<number, string>> = {
  10: '\f',
  20: '^',
  40: '{',
  41: '}',
  47: '\\',
  60: '[',
  61: '~',
  62: ']',
  64: '|',
  101: '€',
};

/** Annex A.3.1: Turkish National Language Locking Shift Table. */
const TURKISH_BASIC =
  '@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bŞşßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  'İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà';

/**
 * Annex A.3.3: Portuguese National Language Locking Shift Table. (Annex A.3.2 defines no Spanish
 * locking shift table: a Spanish locking shift IE selects the default alphabet.)
 */
const PORTUGUESE_BASIC =
  '@£$¥êéúíóç\nÔô\rÁáΔ_ªÇÀ∞^\\€Ó|\u001bÂâÊÉ !"#º%&\'()*+,-./0123456789:;<=>?' +
  'ÍABCDEFGHIJKLMNOPQRSTUVWXYZÃÕÚÜ§~abcdefghijklmnopqrstuvwxyzãõ`üà';

/** Annex A.2.1: Turkish National Language Single Shift Table. */
const TURKISH_EXTENSION: Readonly<Record<number, string>> = {
  ...DEFAULT_EXTENSION,
  71: 'Ğ',
  73: 'İ',
  83: 'Ş',
  99: 'ç',
  103: 'ğ',
  105: 'ı',
  115: 'ş',
};

/** Annex A.2.2: Spanish National Language Single Shift Table. */
const SPANISH_EXTENSION: Readonly<Record<number, string>> = {
  ...DEFAULT_EXTENSION,
  9: 'ç',
  65: 'Á',
  73: 'Í',
  79: 'Ó',
  85: 'Ú',
  97: 'á',
  105: 'í',
  111: 'ó',
  117: 'ú',
};

/** Annex A.2.3: Portuguese National Language Single Shift Table. */
const PORTUGUESE_EXTENSION: Readonly<Record<number, string>> = {
  ...DEFAULT_EXTENSION,
  5: 'ê',
  9: 'ç',
  11: 'Ô',
  12: 'ô',
  14: 'Á',
  15: 'á',
  18: 'Φ',
  19: 'Γ',
  21: 'Ω',
  22: 'Π',
  23: 'Ψ',
  24: 'Σ',
  25: 'Θ',
  31: 'Ê',
  65: 'À',
  73: 'Í',
  79: 'Ó',
  85: 'Ú',
  91: 'Ã',
  92: 'Õ',
  97: 'Â',
  105: 'í',
  111: 'ó',
  117: 'ú',
  123: 'ã',
  124: 'õ',
  127: 'â',
};

/** Basic table by National Language Identifier (0 = default alphabet). Spanish has none (A.3.2). */
export const BASIC_TABLES: Readonly<Record<number, string>> = {
  0: DEFAULT_BASIC,
  1: TURKISH_BASIC,
  2: DEFAULT_BASIC,
  3: PORTUGUESE_BASIC,
};

/** Extension table by National Language Identifier (0 = default extension table). */
export const EXTENSION_TABLES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  0: DEFAULT_EXTENSION,
  1: TURKISH_EXTENSION,
  2: SPANISH_EXTENSION,
  3: PORTUGUESE_EXTENSION,
};

/** Languages that have their own locking shift table (Spanish only has a single shift table). */
export const HAS_LOCKING_TABLE: Readonly<Record<NationalLanguage, boolean>> = {
  turkish: true,
  spanish: false,
  portuguese: true,
};
