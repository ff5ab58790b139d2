/**
 * Push framing parser: `push(chunk)` hands every complete PDU to the sink as (buffer, start, end).
 * A PDU lying inside one chunk is passed without a copy; one spanning chunks is gathered into a
 * buffer of exactly command_length bytes, which is bounded by `maxLength` before anything is
 * allocated. A command_length outside [16, maxLength] is fatal: the byte stream can no longer be
 * framed, so the parser reports it (with the header, for the generic_nack) and stops.
 */
import { SmppPduError } from '../../errors.js';
import { CommandStatus } from '../constants.js';
import { DEFAULT_MAX_PDU_LENGTH, HEADER_LENGTH } from './codec.js';

export interface FrameSink {
  frame(buf: Buffer, start: number, end: number): void;
  /** A fatal framing error; no frame follows it. */
  error(err: SmppPduError): void;
}

export class PduFramer {
  readonly #sink: FrameSink;
  readonly #maxLength: number;
  /** Fewer bytes than the decision needs (a header not yet readable). */
  #head: Buffer | null = null;
  /** A frame of known length being filled across chunks. */
  #frame: Buffer | null = null;
  #filled = 0;
  #stopped = false;

  constructor(sink: FrameSink, maxLength = DEFAULT_MAX_PDU_LENGTH) {
    if (!Number.isInteger(maxLength) || maxLength < HEADER_LENGTH) {
      throw new RangeError(`maxLength must be an integer >= ${HEADER_LENGTH}, got ${maxLength}`);
    }
    this.#sink = sink;
    this.#maxLength = maxLength;
  }

  /** Bytes held while waiting for the rest of a PDU. */
  get buffered(): number {
    return (this.#head?.length ?? 0) + this.#filled;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** No more frames are delivered, whatever is pushed. */
  stop(): void {
    this.#stopped = true;
    this.#head = null;
    this.#frame = null;
    this.#filled = 0;
  }

  push(chunk: Buffer): void {
    if (this.#stopped || chunk.length === 0) return;
    let buf = chunk;
    let off = 0;
    const frame = this.#frame;
    if (frame) {
      const n = Math.min(frame.length - this.#filled, chunk.length);
      chunk.copy(frame, this.#filled, 0, n);
      this.#filled += n;
      if (this.#filled < frame.length) return;
      this.#frame = null;
      this.#filled = 0;
      off = n;
      this.#sink.frame(frame, 0, frame.length);
    } else if (this.#head) {
      // Complete the header from the front of the chunk only. Concatenating the whole chunk
      // copied every PDU in it, though those after the split one lie inside the chunk.
      const head = this.#head;
      const joined = Buffer.concat([head, chunk.subarray(0, HEADER_LENGTH - head.length)]);
      const length = joined.length >= 4 ? joined.readUInt32BE(0) : 0;
      if (length >= HEADER_LENGTH && length <= this.#maxLength) {
        // A sane length: gather this PDU alone, then go on in the chunk itself.
        const gathered = Buffer.allocUnsafe(length);
        head.copy(gathered, 0);
        this.#head = null;
        this.#frame = gathered;
        this.#filled = head.length;
        this.push(chunk);
        return;
      }
      // Still no length, or a bad one: `joined` holds every byte the loop below can use
      // (a short chunk was taken whole; after a bad length, 16 bytes are all it reads).
      buf = joined;
      this.#head = null;
    }
    while (!this.#stopped) {
      const left = buf.length - off;
      if (left === 0) return;
      if (left < 4) {
        this.#head = Buffer.from(buf.subarray(off));
        return;
      }
      const length = buf.readUInt32BE(off);
      if (length < HEADER_LENGTH || length > this.#maxLength) {
        // Wait for the whole header so the generic_nack can echo the sequence_number.
        if (left < HEADER_LENGTH) {
          this.#head = Buffer.from(buf.subarray(off));
          return;
        }
        const err = new SmppPduError(
          `command_length ${length} is outside [${HEADER_LENGTH}, ${this.#maxLength}]`,
          CommandStatus.ESME_RINVCMDLEN,
          { commandId: buf.readUInt32BE(off + 4), sequenceNumber: buf.readUInt32BE(off + 12), fatal: true },
        );
        this.stop();
        this.#sink.error(err);
        return;
      }
      if (left >= length) {
        this.#sink.frame(buf, off, off + length);
        off += length;
        continue;
      }
      const gathered = Buffer.allocUnsafe(length);
      buf.copy(gathered, 0, off);
      this.#frame = gathered;
      this.#filled = left;
      return;
    }
  }
}
