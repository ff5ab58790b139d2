/** Shared test data for test/codec: character pools and a deterministic PRNG. */
export { prng } from '../support/random.js';

import fc from 'fast-check';
import { DEFAULT_BASIC, DEFAULT_EXTENSION } from '../../src/codec/gsm7-tables.js';

export const POOLS = {
  ascii: 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?\'"()*+-/=<>#%&'.split(''),
  gsmBasic: '@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà'.split(''),
  gsmExtension: ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f'],
  nonGsmLatin: 'áíóúçâêîôûãõşğıİœŒčřžłąęőűÿ'.split(''),
  cyrillic: 'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗ'.split(''),
  cjk: '中文字符测试日本語の文章한국어텍스트'.split(''),
  emoji: ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '🇩🇪', '❤️', '🏳️‍🌈', '🧑🏿‍🚀', '❤️‍🔥', '🫱🏻‍🫲🏿', '#️⃣', '🎉'],
  combining: ['e\u0301', 'a\u0308', 'n\u0303\u0323', 'क्षि', 'o\u0302\u0300'],
  crlf: ['\r\n'],
} as const;
export type PoolName = keyof typeof POOLS;

/** Every character of the GSM 7-bit default alphabet and its extension table (ESC excluded). */
export const GSM_CHARS: string[] = [
  ...DEFAULT_BASIC.replace('\u001b', ''),
  ...Object.values(DEFAULT_EXTENSION),
];

/** Tokens from every pool, for fast-check texts that mix them. */
export const ALL_TOKENS: string[] = Object.values(POOLS).flat();

/** Texts mixing every pool, up to about 500 UTF-16 units, biased to ASCII like real traffic. */
export const mixedText = fc
  .array(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...POOLS.ascii) }, fc.constantFrom(...ALL_TOKENS)),
    {
      maxLength: 450,
    },
  )
  .map((a) => a.join(''));

/** GSM-only texts (default alphabet and extension table), long enough for several parts. */
export const gsmText = fc
  .array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...POOLS.ascii) }, fc.constantFrom(...GSM_CHARS)), {
    maxLength: 700,
  })
  .map((a) => a.join(''));

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
