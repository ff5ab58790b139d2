/**
 * PduFramer, the push parser between the socket and the decoder. Every stream is fed three ways
 * (whole, byte by byte, split at every offset) and must give the same frames; then properties
 * over arbitrary PDUs, bytes and chunkings (fast-check).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmppPduError } from '../../src/errors.js';
import { CommandId, CommandStatus } from '../../src/smpp/constants.js';
import { DEFAULT_MAX_PDU_LENGTH, decodePdu, encodePdu, makePdu } from '../../src/smpp/pdu/codec.js';
import { PduFramer } from '../../src/smpp/pdu/framer.js';
import type { AnyPdu } from '../../src/smpp/pdu/types.js';
import { byteByByte, splitAt } from '../support/streams.js';
import {
  anyPduArb,
  commandIds,
  encodeAll,
  FrameRecorder,
  hugeDataSm,
  pduArbitraries,
  rawPdu,
  samplePdus,
} from './helpers.js';

interface Fed {
  sink: FrameRecorder;
  framer: PduFramer;
  /** The most bytes the framer held between two pushes. */
  maxBuffered: number;
}

/** Pushes `chunks` in order into a fresh framer, watching `buffered` after every push. */
function feed(chunks: Iterable<Buffer>, maxLength?: number): Fed {
  const sink = new FrameRecorder();
  const framer = new PduFramer(sink, maxLength);
  let maxBuffered = 0;
  for (const chunk of chunks) {
    framer.push(chunk);
    maxBuffered = Math.max(maxBuffered, framer.buffered);
  }
  return { sink, framer, maxBuffered };
}

function* inChunksOf(stream: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < stream.length; i += size) yield stream.subarray(i, i + size);
}

/** Copies, so no chunk shares memory with the stream (as socket chunks would not). */
const copies = (chunks: Iterable<Buffer>) => [...chunks].map((c) => Buffer.from(c));

// ---------------------------------------------------------------------------------------------

describe('PduFramer: one stream, three ways', () => {
  // Every command, then a 70 KB data_sm, then every command again: many PDUs, small and large.
  const pdus: AnyPdu[] = [
    ...samplePdus(),
    hugeDataSm(0x1000),
    ...samplePdus().map((p) => ({ ...p, sequence_number: p.sequence_number + 0x2000 })),
  ];
  const stream = encodeAll(pdus);
  const expected = pdus.map((p) => encodePdu(p).toString('hex'));

  it('has a data_sm of about 70 KB in the stream, near the default maximum', () => {
    const huge = encodePdu(hugeDataSm(1)).length;
    expect(huge).toBeGreaterThan(70 * 1024);
    expect(huge).toBeLessThanOrEqual(DEFAULT_MAX_PDU_LENGTH);
  });

  it('whole: every PDU, in order, each decoding to what was encoded', () => {
    const { sink, framer } = feed([stream]);
    expect(sink.hex()).toEqual(expected);
    expect(sink.errors).toEqual([]);
    expect(sink.frames.map((f) => decodePdu(f.buf, f.start, f.end))).toStrictEqual(pdus);
    expect(framer.buffered).toBe(0);
  });

  it('byte by byte: the same frames; buffered never above the largest PDU', () => {
    const { sink, framer, maxBuffered } = feed(byteByByte(stream));
    expect(sink.hex()).toEqual(expected);
    expect(sink.errors).toEqual([]);
    expect(framer.buffered).toBe(0);
    // It did hold the huge PDU while it arrived, and no more than it.
    expect(maxBuffered).toBe(encodePdu(hugeDataSm(0)).length - 1);
  });

  it('in chunks of typical socket sizes: the same frames', () => {
    for (const size of [7, 536, 1460, 16 * 1024, 64 * 1024]) {
      const { sink, maxBuffered } = feed(copies(inChunksOf(stream, size)));
      expect(sink.hex(), `chunks of ${size}`).toEqual(expected);
      expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_MAX_PDU_LENGTH);
    }
  });

  it('split at every offset of a smaller stream: the same frames', () => {
    const small = samplePdus();
    const smallStream = encodeAll(small);
    const smallExpected = small.map((p) => encodePdu(p).toString('hex'));
    for (let at = 0; at <= smallStream.length; at++) {
      const { sink, framer } = feed(copies(splitAt(smallStream, [at])));
      expect(sink.hex(), `split at ${at}`).toEqual(smallExpected);
      expect(framer.buffered).toBe(0);
    }
  });

  it('split at every pair of offsets of a short stream: the same frames', () => {
    const short = [
      makePdu('enquire_link', {}, { sequence_number: 1 }),
      makePdu('submit_sm_resp', { message_id: 'abc' }, { sequence_number: 2 }),
      makePdu('generic_nack', {}, { command_status: 3, sequence_number: 3 }),
      makePdu('deliver_sm_resp', {}, { sequence_number: 4 }),
    ];
    const shortStream = encodeAll(short);
    const shortExpected = short.map((p) => encodePdu(p).toString('hex'));
    for (let i = 0; i <= shortStream.length; i++) {
      for (let j = i; j <= shortStream.length; j++) {
        const { sink } = feed(copies(splitAt(shortStream, [i, j])));
        expect(sink.hex(), `split at ${i} and ${j}`).toEqual(shortExpected);
      }
    }
  });

  it('command_length itself split across chunks', () => {
    const pdu = encodePdu(makePdu('submit_sm_resp', { message_id: 'split' }, { sequence_number: 9 }));
    for (const offsets of [[1], [2], [3], [1, 2, 3], [1, 3], [2, 4, 15, 16]]) {
      const { sink } = feed(copies(splitAt(pdu, offsets)));
      expect(sink.hex(), `split at ${offsets.join(',')}`).toEqual([pdu.toString('hex')]);
    }
  });

  it('ignores empty chunks', () => {
    const pdu = encodePdu(makePdu('enquire_link', {}, { sequence_number: 1 }));
    const { sink } = feed([
      Buffer.alloc(0),
      pdu.subarray(0, 2),
      Buffer.alloc(0),
      pdu.subarray(2),
      Buffer.alloc(0),
    ]);
    expect(sink.hex()).toEqual([pdu.toString('hex')]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('PduFramer: frames inside one chunk are not copied', () => {
  const a = encodePdu(makePdu('enquire_link', {}, { sequence_number: 1 }));
  const b = encodePdu(makePdu('submit_sm_resp', { message_id: 'b' }, { sequence_number: 2 }));
  const c = encodePdu(makePdu('deliver_sm_resp', {}, { sequence_number: 3 }));

  it('hands over the chunk itself, with the frame offsets', () => {
    const chunk = Buffer.concat([a, b, c]);
    const { sink } = feed([chunk]);
    expect(sink.frames.map((f) => [f.buf === chunk, f.start, f.end])).toEqual([
      [true, 0, a.length],
      [true, a.length, a.length + b.length],
      [true, a.length + b.length, chunk.length],
    ]);
  });

  it('gathers only the frame that spans chunks; the ones after it stay in place', () => {
    const all = Buffer.concat([a, b, c]);
    const first = Buffer.from(all.subarray(0, a.length + 5)); // a, and 5 bytes of b
    const second = Buffer.from(all.subarray(a.length + 5));
    const { sink } = feed([first, second]);
    expect(sink.hex()).toEqual([a, b, c].map((x) => x.toString('hex')));
    const [fa, fb, fc] = sink.frames;
    expect(fa!.buf).toBe(first);
    expect(fb!.buf !== first && fb!.buf !== second).toBe(true);
    expect([fb!.start, fb!.end, fb!.buf.length]).toEqual([0, b.length, b.length]);
    expect([fc!.buf === second, fc!.start]).toEqual([true, b.length - 5]);
  });

  it('keeps the frames after a command_length split across chunks in place too', () => {
    for (const cut of [1, 2, 3, 4, 10]) {
      const all = Buffer.concat([a, b, c]);
      const first = Buffer.from(all.subarray(0, a.length + cut)); // a, and `cut` bytes of b's header
      const second = Buffer.from(all.subarray(a.length + cut));
      const { sink } = feed([first, second]);
      expect(sink.hex(), `cut ${cut}`).toEqual([a, b, c].map((x) => x.toString('hex')));
      expect(sink.frames[2]!.buf, `cut ${cut}: c is delivered from the chunk it arrived in`).toBe(second);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('PduFramer: bounded buffering', () => {
  it('holds the bytes of an incomplete PDU, no more, and lets go once it is delivered', () => {
    const huge = encodePdu(hugeDataSm(5));
    const sink = new FrameRecorder();
    const framer = new PduFramer(sink);
    framer.push(huge.subarray(0, 3));
    expect(framer.buffered).toBe(3);
    framer.push(huge.subarray(3, 40_000));
    expect(framer.buffered).toBe(40_000);
    framer.push(huge.subarray(40_000));
    expect(framer.buffered).toBe(0);
    expect(sink.frames).toHaveLength(1);
  });

  it('never holds more than a configured small maximum', () => {
    const small = samplePdus().filter((p) => encodePdu(p).length <= 64);
    expect(small.length).toBeGreaterThan(10);
    const stream = encodeAll(small);
    const { sink, maxBuffered } = feed(copies(byteByByte(stream)), 64);
    expect(sink.frames).toHaveLength(small.length);
    expect(sink.errors).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(64);
  });

  it('refuses a maximum below the header length', () => {
    expect(() => new PduFramer(new FrameRecorder(), 15)).toThrow(RangeError);
    expect(() => new PduFramer(new FrameRecorder(), 16.5)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------

describe('PduFramer: a bad command_length is fatal', () => {
  const valid = [
    makePdu('enquire_link', {}, { sequence_number: 1 }),
    makePdu('submit_sm', { short_message: Buffer.alloc(200, 0x61) }, { sequence_number: 2 }),
    makePdu('unbind_resp', {}, { sequence_number: 3 }),
  ];
  const validBytes = encodeAll(valid);

  for (const badLength of [0, 8, 15, DEFAULT_MAX_PDU_LENGTH + 1, 0xffffffff]) {
    const bad = rawPdu(CommandId.submit_sm, 0x55, '00'.repeat(40));
    bad.writeUInt32BE(badLength, 0);
    const after = encodeAll([makePdu('enquire_link', {}, { sequence_number: 4 })]);
    const stream = Buffer.concat([validBytes, bad, after]);

    it(`command_length ${badLength}: the valid frames, then exactly one error, then nothing (whole, byte by byte, every split)`, () => {
      const runs: Array<[string, Buffer[]]> = [
        ['whole', [stream]],
        ['byte by byte', copies(byteByByte(stream))],
      ];
      for (let at = 0; at <= stream.length; at += 1)
        runs.push([`split at ${at}`, copies(splitAt(stream, [at]))]);
      for (const [how, chunks] of runs) {
        const { sink, framer } = feed(chunks);
        // Pushing more after the error changes nothing.
        framer.push(validBytes);
        expect(sink.events, how).toEqual(['frame', 'frame', 'frame', 'error']);
        expect(sink.hex(), how).toEqual(valid.map((p) => encodePdu(p).toString('hex')));
        const err = sink.errors[0]!;
        expect(err, how).toBeInstanceOf(SmppPduError);
        expect([err.commandStatus, err.commandId, err.sequenceNumber, err.fatal], how).toEqual([
          CommandStatus.ESME_RINVCMDLEN,
          CommandId.submit_sm,
          0x55,
          true,
        ]);
        expect([framer.stopped, framer.buffered], how).toEqual([true, 0]);
      }
    });
  }

  it('waits for the whole header of a bad PDU so the error can carry its sequence_number', () => {
    const bad = rawPdu(CommandId.query_sm, 0x66);
    bad.writeUInt32BE(3, 0);
    const sink = new FrameRecorder();
    const framer = new PduFramer(sink);
    framer.push(bad.subarray(0, 4));
    framer.push(bad.subarray(4, 15));
    expect(sink.errors).toEqual([]);
    framer.push(bad.subarray(15));
    expect(sink.errors.map((e) => [e.commandId, e.sequenceNumber])).toEqual([[CommandId.query_sm, 0x66]]);
  });

  it('stop() from inside a frame callback ends delivery at once (a session closing on unbind)', () => {
    const frames: number[] = [];
    const framer: PduFramer = new PduFramer({
      frame: (buf, start) => {
        frames.push(buf.readUInt32BE(start + 12));
        if (frames.length === 2) framer.stop();
      },
      error: () => {
        throw new Error('no error expected');
      },
    });
    framer.push(validBytes);
    framer.push(validBytes);
    expect(frames).toEqual([1, 2]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties (fast-check)

describe('properties', () => {
  for (const [command, arb] of Object.entries(pduArbitraries)) {
    it(`decode(encode(x)) deep-equals x for arbitrary ${command} PDUs with arbitrary TLVs`, () => {
      fc.assert(
        fc.property(arb, (pdu: AnyPdu) => {
          expect(decodePdu(encodePdu(pdu))).toStrictEqual(pdu);
        }),
        { numRuns: 300 },
      );
    });
  }

  /** Bytes shaped like PDUs to different degrees: noise, a valid header on noise, a corrupted PDU. */
  const suspectBytes = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)),
    fc
      .tuple(fc.constantFrom(...commandIds), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 200 }))
      .map(([id, status, seq, body]) =>
        rawPdu(id, seq, Buffer.from(body).toString('hex'), status % 3 ? 0 : status),
      ),
    fc
      .tuple(
        anyPduArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      )
      .map(([pdu, edits]) => {
        const bytes = encodePdu(pdu);
        // Corrupt anything but command_length, which the framer has already checked.
        for (const [at, value] of edits) if (bytes.length > 4) bytes[4 + (at % (bytes.length - 4))] = value;
        return bytes;
      }),
  );

  it('decodePdu on arbitrary bytes returns a PDU or throws SmppPduError; what it returns can be re-encoded', () => {
    fc.assert(
      fc.property(suspectBytes, (bytes) => {
        let pdu: AnyPdu;
        try {
          pdu = decodePdu(bytes);
        } catch (err) {
          if (err instanceof SmppPduError) return;
          throw err;
        }
        // A decoded PDU is one we can write back, and it reads back the same.
        expect(decodePdu(encodePdu(pdu))).toStrictEqual(pdu);
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary chunkings of a stream of arbitrary PDUs give the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(anyPduArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (pdus, cuts) => {
          const stream = encodeAll(pdus);
          const offsets = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
          const { sink, framer, maxBuffered } = feed(copies(splitAt(stream, offsets)));
          expect(sink.hex()).toEqual(pdus.map((p) => encodePdu(p).toString('hex')));
          expect(sink.frames.map((f) => decodePdu(f.buf, f.start, f.end))).toStrictEqual(pdus);
          expect(framer.buffered).toBe(0);
          expect(maxBuffered).toBeLessThan(stream.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes in arbitrary chunks: the framer never throws, stays bounded, and reports at most one error, last', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 16, max: 256 }),
        (chunks, maxLength) => {
          const { sink, maxBuffered } = feed(
            chunks.map((c) => Buffer.from(c)),
            maxLength,
          );
          expect(maxBuffered).toBeLessThanOrEqual(maxLength);
          expect(sink.errors.length).toBeLessThanOrEqual(1);
          if (sink.errors.length === 1) expect(sink.events.at(-1)).toBe('error');
          for (const f of sink.frames) {
            const length = f.buf.readUInt32BE(f.start);
            expect(f.end - f.start).toBe(length);
            expect(length).toBeGreaterThanOrEqual(16);
            expect(length).toBeLessThanOrEqual(maxLength);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
