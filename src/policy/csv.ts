/**
 * CSV (RFC 4180) for the opt-out import and export: a push parser for bytes that arrive in chunks
 * from the network, and the writer's quoting.
 *
 * The parser works on bytes, not on decoded text: every byte that structures CSV (quote, comma,
 * CR, LF) is ASCII, and in UTF-8 an ASCII byte never occurs inside a multi-byte character, so a
 * character split across two chunks simply stays inside its field, which is decoded (and checked
 * to be UTF-8) once it is complete. Everything it buffers is bounded: one record at most, of at
 * most maxFields fields of at most maxFieldBytes bytes.
 *
 * Malformed input never throws: the record becomes an error row (with the line it starts on and
 * what to change), and parsing resumes at the next line break. After malformed input the quoting
 * cannot be trusted, so that is the next physical line break, even one that was inside quotes.
 * Every error is found at a fixed byte (a field is too long at its first byte over the limit),
 * so the same input gives the same rows however the network chunked it.
 */
import { isUtf8 } from 'node:buffer';
import { SluiceError } from '../errors.js';

/** A record: its fields, and the 1-based physical line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
  readonly error?: undefined;
}

/** A record that could not be read: its first line, and what is wrong with it. */
export interface CsvErrorRow {
  readonly line: number;
  readonly fields?: undefined;
  readonly error: string;
}

export type CsvRow = CsvRecord | CsvErrorRow;

export interface CsvParserOptions {
  /** Most bytes of one field's value (UTF-8, without its quotes, a doubled quote counting once). */
  maxFieldBytes: number;
  /** Most fields in one record. */
  maxFields: number;
}

/** The parser was misused (bad options, push after end): a programming error, not bad input. */
export class CsvUsageError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CSV_USAGE', message);
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf] as const;
const QUOTE_BYTES = Buffer.from('"');
const EMPTY = Buffer.alloc(0);

/** Where the parser is in a record. Numbers, not strings: the state is switched on per byte. */
const STATE = {
  /** Before a record: blank lines are skipped here. */
  recordStart: 0,
  /** After a comma. */
  fieldStart: 1,
  unquoted: 2,
  quoted: 3,
  /** A quote inside a quoted field: the next byte says whether it closes the field or is doubled. */
  quoteInQuoted: 4,
  /** After an error, until the next line break. */
  afterError: 5,
} as const;
type State = (typeof STATE)[keyof typeof STATE];

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class CsvParser {
  readonly #maxFieldBytes: number;
  readonly #maxFields: number;
  #state: State = STATE.recordStart;
  /** Physical line of the byte being read: CRLF, LF and a lone CR each end one. */
  #line = 1;
  /** The previous byte was a CR: an LF now completes that line break rather than adding one. */
  #afterCR = false;
  /** The line the current record starts on: what its row (or its error row) reports. */
  #recordLine = 1;
  #fields: string[] = [];
  /** Bytes of the current field read before the open segment (from earlier chunks, or before a doubled quote). */
  #pieces: Buffer[] = [];
  #piecesBytes = 0;
  /** Pieces [0, this) are copies the parser owns; the rest still point into the current chunk. */
  #ownedPieces = 0;
  /** Where the current field's open segment starts in the chunk being read; -1: none open. */
  #segment = -1;
  /**
   * Index in the chunk of the first content byte that would make the field one byte too long.
   * Checked byte by byte, so that a field is cut at the same byte however the input is chunked
   * (and the same rows come out of the same file).
   */
  #limitAt = 0;
  /** The error the record being skipped gets, reported when its line ends. */
  #error = '';
  /** The first bytes, while they could still be a UTF-8 BOM; null once decided. */
  #bomHeld: Buffer | null = EMPTY;
  #ended = false;

  constructor(options: CsvParserOptions) {
    for (const name of ['maxFieldBytes', 'maxFields'] as const) {
      const value = options[name];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new CsvUsageError(`${name} must be a whole number of at least 1, got ${value}`);
      }
    }
    this.#maxFieldBytes = options.maxFieldBytes;
    this.#maxFields = options.maxFields;
  }

  /**
   * Bytes held between pushes: what was read of the current field (never more than
   * maxFieldBytes: a longer one is dropped at once) and up to two bytes of a possible BOM.
   */
  get buffered(): number {
    return this.#piecesBytes + (this.#bomHeld?.length ?? 0);
  }

  /**
   * Reads a chunk; returns the rows it completed. Keeps no reference to `chunk` once it returns
   * (uWebSockets.js reuses the memory of a request body chunk after its callback).
   */
  push(chunk: Uint8Array): CsvRow[] {
    if (this.#ended) throw new CsvUsageError('push() after end(): use a new parser for a new stream');
    const rows: CsvRow[] = [];
    let buf = toBuffer(chunk);
    if (this.#bomHeld !== null) buf = this.#stripBom(buf);
    if (buf.length > 0) this.#read(buf, rows);
    return rows;
  }

  /** The end of the input: returns the rows still pending (the last line needs no line break). */
  end(): CsvRow[] {
    if (this.#ended) return [];
    const rows: CsvRow[] = [];
    // One or two bytes that began like a BOM and then the input ended: they are content.
    if (this.#bomHeld !== null && this.#bomHeld.length > 0) this.#read(this.#bomHeld, rows);
    this.#bomHeld = null;
    this.#ended = true;
    switch (this.#state) {
      case STATE.recordStart:
        break;
      case STATE.quoted:
        this.#dropRecord();
        rows.push({
          line: this.#recordLine,
          error: 'a quoted field is never closed: add the closing quote (and double any quote inside it)',
        });
        break;
      case STATE.afterError:
        rows.push({ line: this.#recordLine, error: this.#error });
        break;
      default:
        // The last record, without a line break after it.
        if (this.#endField(EMPTY, 0)) this.#endRecord(rows);
        else rows.push({ line: this.#recordLine, error: this.#error });
    }
    return rows;
  }

  /** Drops a UTF-8 BOM at the very start, even one split across chunks. */
  #stripBom(chunk: Buffer): Buffer {
    const held = this.#bomHeld!;
    const buf = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
    for (let i = 0; i < Math.min(buf.length, BOM.length); i++) {
      if (buf[i] !== BOM[i]) {
        this.#bomHeld = null;
        return buf;
      }
    }
    if (buf.length >= BOM.length) {
      this.#bomHeld = null;
      return buf.subarray(BOM.length);
    }
    // A copy: the chunk's memory is not ours after push() returns.
    this.#bomHeld = Buffer.from(buf);
    return EMPTY;
  }

  #read(buf: Buffer, rows: CsvRow[]): void {
    // A field still open from the previous chunk continues at this chunk's first byte.
    if (this.#state === STATE.unquoted || this.#state === STATE.quoted) this.#openSegment(0);
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      const afterCR = this.#afterCR;
      this.#afterCR = b === CR;
      switch (this.#state) {
        case STATE.recordStart:
          if (b === CR || b === LF) {
            // A blank line, or the LF of a CRLF that ended the previous record.
            if (b === CR || !afterCR) this.#line++;
            break;
          }
          this.#recordLine = this.#line;
          this.#fieldStart(buf, i, b, rows);
          break;
        case STATE.fieldStart:
          this.#fieldStart(buf, i, b, rows);
          break;
        case STATE.unquoted:
          if (b === COMMA) {
            this.#state = this.#endField(buf, i) ? STATE.fieldStart : STATE.afterError;
          } else if (b === CR || b === LF) {
            this.#lineBreak(b, afterCR, buf, i, rows);
          } else if (b === QUOTE) {
            this.#fail('a quote inside an unquoted field: quote the whole field and double the quote');
          } else if (i >= this.#limitAt) {
            this.#fail(this.#tooLong());
          }
          break;
        case STATE.quoted:
          if (b === QUOTE) {
            this.#closeSegment(buf, i);
            this.#state = STATE.quoteInQuoted;
          } else if (i >= this.#limitAt) {
            this.#fail(this.#tooLong());
            // The byte may be a line break: it ends the skip at once.
            this.#skipByte(b, afterCR, rows);
          } else if (b === CR || (b === LF && !afterCR)) {
            this.#line++;
          }
          break;
        case STATE.quoteInQuoted:
          if (b === QUOTE) {
            // A doubled quote: one quote of content.
            this.#pieces.push(QUOTE_BYTES);
            this.#piecesBytes += 1;
            if (this.#piecesBytes > this.#maxFieldBytes) {
              this.#fail(this.#tooLong());
            } else {
              this.#openSegment(i + 1);
              this.#state = STATE.quoted;
            }
          } else if (b === COMMA) {
            this.#state = this.#endField(buf, i) ? STATE.fieldStart : STATE.afterError;
          } else if (b === CR || b === LF) {
            this.#lineBreak(b, afterCR, buf, i, rows);
          } else {
            this.#fail(
              'text after the closing quote of a field: a quoted field must end at a comma or a line break',
            );
          }
          break;
        case STATE.afterError:
          this.#skipByte(b, afterCR, rows);
          break;
      }
    }
    const s = this.#state;
    if (s === STATE.unquoted || s === STATE.quoted || s === STATE.quoteInQuoted) this.#carryOver(buf);
  }

  /** A byte of a record being skipped after an error: a line break reports it and ends it. */
  #skipByte(b: number, afterCR: boolean, rows: CsvRow[]): void {
    if (b !== CR && b !== LF) return;
    rows.push({ line: this.#recordLine, error: this.#error });
    if (b === CR || !afterCR) this.#line++;
    this.#state = STATE.recordStart;
  }

  #openSegment(at: number): void {
    this.#segment = at;
    this.#limitAt = at + this.#maxFieldBytes - this.#piecesBytes;
  }

  #tooLong(): string {
    return `field ${this.#fields.length + 1} is longer than ${this.#maxFieldBytes} bytes`;
  }

  /** The first byte of a field (`b`, at `i`). */
  #fieldStart(buf: Buffer, i: number, b: number, rows: CsvRow[]): void {
    if (b === QUOTE) {
      this.#openSegment(i + 1);
      this.#state = STATE.quoted;
    } else if (b === COMMA) {
      this.#segment = i;
      this.#state = this.#endField(buf, i) ? STATE.fieldStart : STATE.afterError;
    } else if (b === CR || b === LF) {
      // After a comma (a line break first in a record is a blank line): the last field is empty.
      this.#segment = i;
      this.#lineBreak(b, false, buf, i, rows);
    } else {
      // maxFieldBytes is at least 1: this first byte always fits.
      this.#openSegment(i);
      this.#state = STATE.unquoted;
    }
  }

  /** A line break outside quotes (`b` at `i`) ends the field and the record. */
  #lineBreak(b: number, afterCR: boolean, buf: Buffer, i: number, rows: CsvRow[]): void {
    if (this.#endField(buf, i)) this.#endRecord(rows);
    else rows.push({ line: this.#recordLine, error: this.#error });
    if (b === CR || !afterCR) this.#line++;
    this.#state = STATE.recordStart;
  }

  /** Ends the open segment at `end` (exclusive), keeping it as a piece of the field. */
  #closeSegment(buf: Buffer, end: number): void {
    if (this.#segment >= 0 && end > this.#segment) {
      const piece = buf.subarray(this.#segment, end);
      this.#pieces.push(piece);
      this.#piecesBytes += piece.length;
    }
    this.#segment = -1;
  }

  /**
   * The field ends at `end` in `buf`: decoded onto the record. False (with the error set) when it
   * is one field too many or not UTF-8. (Its length was checked byte by byte as it was read.)
   */
  #endField(buf: Buffer, end: number): boolean {
    let bytes: Buffer;
    if (this.#pieces.length === 0) {
      // The common case, a field within one chunk: no copy.
      bytes = this.#segment >= 0 ? buf.subarray(this.#segment, end) : EMPTY;
    } else {
      this.#closeSegment(buf, end);
      bytes = this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces, this.#piecesBytes);
    }
    this.#segment = -1;
    this.#pieces = [];
    this.#piecesBytes = 0;
    this.#ownedPieces = 0;
    const n = this.#fields.length + 1;
    if (n > this.#maxFields) return this.#setError(`more than ${this.#maxFields} fields`);
    if (bytes.length > 0 && !isUtf8(bytes)) {
      return this.#setError(`field ${n} is not valid UTF-8: save the file as UTF-8`);
    }
    this.#fields.push(bytes.toString('utf8'));
    return true;
  }

  #endRecord(rows: CsvRow[]): void {
    rows.push({ line: this.#recordLine, fields: this.#fields });
    this.#fields = [];
  }

  #setError(message: string): false {
    this.#error = message;
    this.#dropRecord();
    return false;
  }

  /** Forgets what was read of the current record. */
  #dropRecord(): void {
    this.#fields = [];
    this.#pieces = [];
    this.#piecesBytes = 0;
    this.#ownedPieces = 0;
    this.#segment = -1;
  }

  /** Malformed input at the byte being read: the record is skipped to the end of its line. */
  #fail(message: string): void {
    this.#setError(message);
    this.#state = STATE.afterError;
  }

  /** The chunk ends inside a field: its bytes so far are copied (the chunk is the caller's). */
  #carryOver(buf: Buffer): void {
    this.#closeSegment(buf, buf.length);
    const pieces = this.#pieces;
    for (let j = this.#ownedPieces; j < pieces.length; j++) {
      if (pieces[j] !== QUOTE_BYTES) pieces[j] = Buffer.from(pieces[j]!);
    }
    this.#ownedPieces = pieces.length;
  }
}

/** Whether a field must be quoted to read back as itself. */
const NEEDS_QUOTES = /[",\r\n]|^\uFEFF/;

/**
 * One field as written: quoted (with quotes doubled) when it holds a quote, a comma or a line
 * break, or begins with U+FEFF (which a reader would take for a BOM on the first line).
 */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * One record as written, with its CRLF. A single empty field is written `""`: bare, it would be a
 * blank line, which readers skip. No fields at all is a blank line.
 */
export function csvLine(fields: readonly string[]): string {
  if (fields.length === 1 && fields[0] === '') return '""\r\n';
  return `${fields.map(csvField).join(',')}\r\n`;
}
