/**
 * submit_sm, deliver_sm and the message_id responses have hand-laid fast paths in the codec; the
 * body schema is the reference. On any input the two must give the same bytes, the same PDU, and
 * the same refusal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmppPduError } from '../../src/errors.js';
import {
  decodePdu,
  decodePduBySchema,
  encodePdu,
  encodePduBySchema,
  makePdu,
} from '../../src/smpp/pdu/codec.js';

const latin1 = (max: number) =>
  fc.string({ maxLength: max, unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)) });
const u8 = fc.integer({ min: 0, max: 255 });
const time = fc.oneof(fc.constant(''), fc.constant('260101120000000+'), fc.constant('000001000000000R'));

const shortMessageBody = fc.record({
  service_type: latin1(5),
  source_addr_ton: u8,
  source_addr_npi: u8,
  source_addr: latin1(20),
  dest_addr_ton: u8,
  dest_addr_npi: u8,
  destination_addr: latin1(20),
  esm_class: u8,
  protocol_id: u8,
  priority_flag: u8,
  schedule_delivery_time: time,
  validity_period: time,
  registered_delivery: u8,
  replace_if_present_flag: u8,
  data_coding: u8,
  sm_default_msg_id: u8,
  short_message: fc.uint8Array({ maxLength: 254 }).map((a) => Buffer.from(a)),
});

const tlvs = fc.record(
  {
    sar_msg_ref_num: fc.integer({ min: 0, max: 0xffff }),
    receipted_message_id: latin1(64),
    message_state: u8,
  },
  { requiredKeys: [] },
);

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    if (err instanceof SmppPduError) return { status: err.commandStatus };
    throw err;
  }
}

describe('codec fast paths agree with the body schema', () => {
  it('submit_sm and deliver_sm: same bytes both ways', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('submit_sm' as const, 'deliver_sm' as const),
        shortMessageBody,
        tlvs,
        fc.integer({ min: 1, max: 0x7fffffff }),
        (command, body, t, seq) => {
          const pdu = makePdu(command, { ...body, tlvs: t }, { sequence_number: seq });
          const bytes = encodePdu(pdu);
          expect(bytes).toEqual(encodePduBySchema(pdu));
          expect(decodePdu(bytes)).toEqual(decodePduBySchema(bytes));
          expect(decodePdu(bytes)).toEqual(pdu);
        },
      ),
    );
  });

  it('message_id responses: same bytes both ways', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('submit_sm_resp' as const, 'deliver_sm_resp' as const, 'data_sm_resp' as const),
        latin1(64),
        (command, id) => {
          const pdu = makePdu(command, { message_id: id }, { sequence_number: 3 });
          const bytes = encodePdu(pdu);
          expect(bytes).toEqual(encodePduBySchema(pdu));
          expect(decodePdu(bytes)).toEqual(decodePduBySchema(bytes));
        },
      ),
    );
  });

  it('the same refusal for every truncation and corruption of a submit_sm', () => {
    fc.assert(
      fc.property(shortMessageBody, fc.nat(), fc.nat(), u8, (body, cut, at, byte) => {
        const bytes = Buffer.from(encodePdu(makePdu('submit_sm', body, { sequence_number: 9 })));
        bytes[16 + (at % (bytes.length - 16))] = byte;
        const end = 16 + (cut % (bytes.length - 15));
        const cutBytes = Buffer.from(bytes.subarray(0, end));
        cutBytes.writeUInt32BE(end, 0);
        expect(outcome(() => decodePdu(cutBytes))).toEqual(outcome(() => decodePduBySchema(cutBytes)));
      }),
    );
  });
});

describe('a header-only deliver_sm_resp', () => {
  it('is accepted with status 0: its message_id is unused (§4.6.2) and ESMEs send the bare header', () => {
    const bare = Buffer.from('00000010800000050000000000000007', 'hex');
    expect(decodePdu(bare)).toEqual({
      command: 'deliver_sm_resp',
      command_status: 0,
      sequence_number: 7,
      message_id: '',
      tlvs: {},
    });
  });

  it('while a header-only submit_sm_resp with status 0 stays an error: its message_id matters', () => {
    const bare = Buffer.from('00000010800000040000000000000007', 'hex');
    expect(outcome(() => decodePdu(bare))).toEqual({ status: 0x02 });
  });
});
