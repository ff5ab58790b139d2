/**
 * The CSV push parser and writer. Every example is fed three ways (whole, byte by byte, split at
 * every offset) and must give the same rows; then properties over arbitrary rows, bytes and
 * chunkings (fast-check).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CsvParser,
  type CsvParserOptions,
  type CsvRow,
  CsvUsageError,
  csvField,
  csvLine,
} from '../../src/policy/csv.js';
import { byteByByte, splitAt } from '../support/streams.js';

const LIMITS: CsvParserOptions = { maxFieldBytes: 1024, maxFields: 16 };

/** Every row the chunks give, then end(); each chunk is a copy, as network chunks would be. */
function parse(chunks: Iterable<Uint8Array>, options: CsvParserOptions = LIMITS): CsvRow[] {
  const parser = new CsvParser(options);
  const rows: CsvRow[] = [];
  for (const chunk of chunks) rows.push(...parser.push(Uint8Array.from(chunk)));
  rows.push(...parser.end());
  return rows;
}

function bytesOf(input: string | Uint8Array): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
}

/** Parses `input` whole, byte by byte, and split in two at every offset; all must agree. */
function parseThreeWays(input: string | Uint8Array, options: CsvParserOptions = LIMITS): CsvRow[] {
  const stream = bytesOf(input);
  const whole = parse([stream], options);
  expect(parse(byteByByte(stream), options)).toEqual(whole);
  for (let at = 0; at <= stream.length; at++) expect(parse(splitAt(stream, [at]), options)).toEqual(whole);
  return whole;
}

function records(...rows: Array<[line: number, fields: string[]]>): CsvRow[] {
  return rows.map(([line, fields]) => ({ line, fields }));
}

describe('CsvParser: examples, three ways', () => {
  it('reads records with LF, CRLF or lone CR line ends, the last one without a line end', () => {
    expect(
      parseThreeWays('number,scope\n447700900001,global\r\n447700900002,program:promo\r447700900003'),
    ).toEqual(
      records(
        [1, ['number', 'scope']],
        [2, ['447700900001', 'global']],
        [3, ['447700900002', 'program:promo']],
        [4, ['447700900003']],
      ),
    );
  });

  it('reads quoted fields: commas, CR, LF and doubled quotes inside, on the right lines after', () => {
    const input = '"a,b","say ""stop""",plain\r\n"two\r\nlines","three\nlines\nhere",x\n"lone\rcr",""\nlast';
    expect(parseThreeWays(input)).toEqual(
      records(
        [1, ['a,b', 'say "stop"', 'plain']],
        [2, ['two\r\nlines', 'three\nlines\nhere', 'x']],
        [6, ['lone\rcr', '']],
        [8, ['last']],
      ),
    );
  });

  it('reads empty fields, keeps spaces, and tells a quoted empty field from a blank line', () => {
    expect(parseThreeWays(',,\n ,  a  , b\n""\n"",\n')).toEqual(
      records([1, ['', '', '']], [2, [' ', '  a  ', ' b']], [3, ['']], [4, ['', '']]),
    );
  });

  it('skips blank lines and counts them', () => {
    expect(parseThreeWays('\n\r\n\ra\n\n\r\nb\r\n\r\n')).toEqual(records([4, ['a']], [7, ['b']]));
    expect(parseThreeWays('\r\n\n')).toEqual([]);
    expect(parseThreeWays('')).toEqual([]);
  });

  it('strips a UTF-8 BOM at the start only, even split across chunks', () => {
    expect(parseThreeWays('\uFEFFnumber\n\uFEFFx\n')).toEqual(records([1, ['number']], [2, ['\uFEFFx']]));
    expect(parseThreeWays('\uFEFF')).toEqual([]);
    // Bytes that begin like a BOM and are not one are content (here, not UTF-8).
    expect(parseThreeWays(Uint8Array.from([0xef, 0xbb, 0x41, 0x0a, 0x42]))).toEqual([
      { line: 1, error: 'field 1 is not valid UTF-8: save the file as UTF-8' },
      { line: 2, fields: ['B'] },
    ]);
    expect(parseThreeWays(Uint8Array.from([0xef]))).toEqual([
      { line: 1, error: 'field 1 is not valid UTF-8: save the file as UTF-8' },
    ]);
  });

  it('decodes UTF-8 characters of 2, 3 and 4 bytes whichever chunk boundary splits them', () => {
    expect(parseThreeWays('é,日本,😀\n"ñ""😀",Ω')).toEqual(
      records([1, ['é', '日本', '😀']], [2, ['ñ"😀', 'Ω']]),
    );
  });

  it('counts maxFieldBytes in UTF-8 bytes of the value, without quotes, a doubled quote once', () => {
    const limits = { maxFieldBytes: 4, maxFields: 4 };
    expect(parseThreeWays('éé,"abcd","a""b",😀\n', limits)).toEqual(
      records([1, ['éé', 'abcd', 'a"b', '😀']]),
    );
    expect(parseThreeWays('ééé\nabcde\n"ab""cd"\nok', limits)).toEqual([
      { line: 1, error: 'field 1 is longer than 4 bytes' },
      { line: 2, error: 'field 1 is longer than 4 bytes' },
      { line: 3, error: 'field 1 is longer than 4 bytes' },
      { line: 4, fields: ['ok'] },
    ]);
  });
});

describe('CsvParser: malformed input gives error rows, and parsing goes on at the next line', () => {
  it('a quote inside an unquoted field', () => {
    expect(parseThreeWays('ok,1\nab"c,d\nnext,2')).toEqual([
      { line: 1, fields: ['ok', '1'] },
      { line: 2, error: 'a quote inside an unquoted field: quote the whole field and double the quote' },
      { line: 3, fields: ['next', '2'] },
    ]);
  });

  it('text after a closing quote, in a record that began on an earlier line', () => {
    expect(parseThreeWays('ok\n"a\r\nb"x,y\r\nnext\n"c" \nlast')).toEqual([
      { line: 1, fields: ['ok'] },
      {
        line: 2,
        error: 'text after the closing quote of a field: a quoted field must end at a comma or a line break',
      },
      { line: 4, fields: ['next'] },
      {
        line: 5,
        error: 'text after the closing quote of a field: a quoted field must end at a comma or a line break',
      },
      { line: 6, fields: ['last'] },
    ]);
  });

  it('a quoted field never closed: an error row from end(), not from push()', () => {
    const parser = new CsvParser(LIMITS);
    expect(parser.push(Buffer.from('ok\n"abc\ndef,'))).toEqual([{ line: 1, fields: ['ok'] }]);
    expect(parser.end()).toEqual([
      {
        line: 2,
        error: 'a quoted field is never closed: add the closing quote (and double any quote inside it)',
      },
    ]);
    expect(parseThreeWays('ok\n"abc\ndef,')).toHaveLength(2);
  });

  it('a field over maxFieldBytes, also one that spans chunks, lines and quotes', () => {
    const limits = { maxFieldBytes: 8, maxFields: 4 };
    // The skip starts at the byte that goes over, so it ends at the next line break after it.
    expect(parseThreeWays('123456789,x\nok\n"1234\n56789",y\nend', limits)).toEqual([
      { line: 1, error: 'field 1 is longer than 8 bytes' },
      { line: 2, fields: ['ok'] },
      { line: 3, error: 'field 1 is longer than 8 bytes' },
      { line: 5, fields: ['end'] },
    ]);
    // That line break may be inside the quotes: the rest of the field is then read as a record.
    expect(parseThreeWays('"123456789\nabc",y\nend', limits)).toEqual([
      { line: 1, error: 'field 1 is longer than 8 bytes' },
      { line: 2, error: 'a quote inside an unquoted field: quote the whole field and double the quote' },
      { line: 3, fields: ['end'] },
    ]);
  });

  it('more than maxFields fields, empty ones included', () => {
    const limits = { maxFieldBytes: 8, maxFields: 3 };
    expect(parseThreeWays('a,b,c\na,b,c,d\n,,,\n,,\n', limits)).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, error: 'more than 3 fields' },
      { line: 3, error: 'more than 3 fields' },
      { line: 4, fields: ['', '', ''] },
    ]);
  });

  it('a field that is not UTF-8 (a Latin-1 export)', () => {
    const latin1 = Buffer.concat([Buffer.from('447700900001,caf'), Buffer.from([0xe9]), Buffer.from('\nok')]);
    expect(parseThreeWays(latin1)).toEqual([
      { line: 1, error: 'field 2 is not valid UTF-8: save the file as UTF-8' },
      { line: 2, fields: ['ok'] },
    ]);
  });

  it('an error on the last line, without a line break after it', () => {
    expect(parseThreeWays('ok\nx"y')).toEqual([
      { line: 1, fields: ['ok'] },
      { line: 2, error: 'a quote inside an unquoted field: quote the whole field and double the quote' },
    ]);
  });
});

describe('CsvParser: resources and misuse', () => {
  it('keeps no reference to a chunk after push returns', () => {
    const parser = new CsvParser(LIMITS);
    const rows: CsvRow[] = [];
    for (const text of ['"ab""c', 'd",éf', 'gh\n', 'ij', 'kl']) {
      const chunk = Buffer.from(text);
      rows.push(...parser.push(chunk));
      // uWebSockets.js reuses the memory of a body chunk once its callback returns.
      chunk.fill(0x58);
    }
    rows.push(...parser.end());
    expect(rows).toEqual(records([1, ['ab"cd', 'éfgh']], [2, ['ijkl']]));
  });

  it('never holds more than maxFieldBytes of a field, however long it runs', () => {
    const parser = new CsvParser({ maxFieldBytes: 100, maxFields: 4 });
    const chunk = Buffer.alloc(1000, 0x61);
    let most = 0;
    const rows: CsvRow[] = [...parser.push(Buffer.from('"'))];
    for (let i = 0; i < 1000; i++) {
      rows.push(...parser.push(chunk));
      most = Math.max(most, parser.buffered);
    }
    rows.push(...parser.end());
    expect(most).toBeLessThanOrEqual(100);
    expect(rows).toEqual([{ line: 1, error: 'field 1 is longer than 100 bytes' }]);
  });

  it('refuses bad options, and a push after end', () => {
    expect(() => new CsvParser({ maxFieldBytes: 0, maxFields: 1 })).toThrow(CsvUsageError);
    expect(() => new CsvParser({ maxFieldBytes: 10, maxFields: 1.5 })).toThrow(
      /maxFields must be a whole number/,
    );
    const parser = new CsvParser(LIMITS);
    expect(parser.end()).toEqual([]);
    expect(parser.end()).toEqual([]);
    expect(() => parser.push(Buffer.from('a'))).toThrow(CsvUsageError);
  });
});

describe('csvField and csvLine', () => {
  it('quote only what needs it, RFC 4180 style, with a CRLF after each record', () => {
    expect(csvField('447700900001')).toBe('447700900001');
    expect(csvField('=1+2')).toBe('=1+2');
    expect(csvField(' spaced ')).toBe(' spaced ');
    expect(csvField('')).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "stop"')).toBe('"say ""stop"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('\uFEFFbom')).toBe('"\uFEFFbom"');
    expect(csvLine(['447700900001', 'global', 'a,b', ''])).toBe('447700900001,global,"a,b",\r\n');
    // Bare, a lone empty field would be a blank line, which a reader skips.
    expect(csvLine([''])).toBe('""\r\n');
    expect(csvLine(['', ''])).toBe(',\r\n');
  });
});

/** Line breaks in `text` as the parser counts them: CRLF, LF and a lone CR are one each. */
function lineBreaks(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

/** Sorted offsets inside a stream of `length` bytes, from arbitrary numbers. */
function offsetsIn(length: number, raw: readonly number[]): number[] {
  return [...new Set(raw.map((n) => n % (length + 1)))].sort((a, b) => a - b);
}

describe('CsvParser: properties', () => {
  const field = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('"', ',', '\r', '\n', 'a', ' ', 'é', '😀', '\uFEFF'), maxLength: 8 }),
  );
  const row = fc.array(field, { minLength: 1, maxLength: 6 });

  it('gives back exactly the rows written, on their lines, however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(row, fc.constantFrom('\r\n', '\n', '\r')), { maxLength: 15 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        (written, bom, lastLineEnded, rawOffsets) => {
          let text = bom ? '\uFEFF' : '';
          const expected: CsvRow[] = [];
          for (const [i, [fields, end]] of written.entries()) {
            expected.push({ line: 1 + lineBreaks(text), fields });
            const last = i === written.length - 1;
            text += csvLine(fields).slice(0, -2) + (last && !lastLineEnded ? '' : end);
          }
          const stream = Buffer.from(text, 'utf8');
          expect(parse(splitAt(stream, offsetsIn(stream.length, rawOffsets)))).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes, bounds every row, and gives the same rows however chunked', () => {
    // Bytes that matter to CSV and UTF-8 more often than chance would give them.
    const byte = fc.oneof(
      fc.constantFrom(0x22, 0x2c, 0x0d, 0x0a, 0x61, 0xc3, 0xa9, 0xef, 0xbb, 0xbf, 0xf0, 0x9f),
      fc.integer({ min: 0, max: 255 }),
    );
    const limits = { maxFieldBytes: 6, maxFields: 3 };
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bytes, rawOffsets) => {
          const stream = Buffer.from(bytes);
          const whole = parse([stream], limits);
          expect(parse(splitAt(stream, offsetsIn(stream.length, rawOffsets)), limits)).toEqual(whole);
          let previous = 1;
          for (const r of whole) {
            expect(r.line).toBeGreaterThanOrEqual(previous);
            previous = r.line;
            if (r.error === undefined) {
              expect(r.fields.length).toBeGreaterThanOrEqual(1);
              expect(r.fields.length).toBeLessThanOrEqual(limits.maxFields);
              for (const f of r.fields)
                expect(Buffer.byteLength(f)).toBeLessThanOrEqual(limits.maxFieldBytes);
            } else {
              expect(r.error.length).toBeGreaterThan(0);
            }
          }
          // Not past the last line of the input.
          expect(previous).toBeLessThanOrEqual(1 + lineBreaks(stream.toString('latin1')));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
