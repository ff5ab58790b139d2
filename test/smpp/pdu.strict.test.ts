/**
 * Strictness of the codec: every way a PDU can break the SMPP v3.4 rules, with the exact
 * command_status the peer is answered with (§5.1.3), and every way an encode can be refused.
 */
import { describe, expect, it } from 'vitest';
import { SmppEncodeError, SmppPduError } from '../../src/errors.js';
import { CommandId, CommandStatus as S } from '../../src/smpp/constants.js';
import {
  DEFAULT_MAX_PDU_LENGTH,
  decodePdu,
  encodePdu,
  makePdu,
  PduWriter,
  writePdu,
} from '../../src/smpp/pdu/codec.js';
import { PduFramer } from '../../src/smpp/pdu/framer.js';
import type { AnyPdu } from '../../src/smpp/pdu/types.js';
import {
  ascii,
  cstr,
  decodeError,
  encodeAll,
  errorOf,
  FrameRecorder,
  rawPdu,
  samplePdus,
  truncated,
  wire,
} from './helpers.js';

/** The SmppEncodeError that `fn` throws. */
function encodeErrorOf(fn: () => unknown): SmppEncodeError {
  return errorOf(SmppEncodeError, fn);
}

function expectPduError(
  buf: Buffer,
  status: number,
  header: { commandId: number | null; sequenceNumber: number | null; fatal?: boolean },
): SmppPduError {
  const err = decodeError(buf);
  expect({
    status: err.commandStatus,
    commandId: err.commandId,
    seq: err.sequenceNumber,
    fatal: err.fatal,
  }).toEqual({
    status,
    commandId: header.commandId,
    seq: header.sequenceNumber,
    fatal: header.fatal ?? false,
  });
  return err;
}

/** submit_sm with every field at its default except those given (as wire hex). */
function submitSmBody(
  f: { service_type?: string; source_addr?: string; destination_addr?: string } = {},
): string {
  return [
    f.service_type ?? '00', // service_type
    '01 01', // source_addr_ton, source_addr_npi
    f.source_addr ?? cstr('447700900123'), // source_addr
    '01 01', // dest_addr_ton, dest_addr_npi
    f.destination_addr ?? cstr('447700900456'), // destination_addr
    '00 00 00', // esm_class, protocol_id, priority_flag
    '00 00', // schedule_delivery_time, validity_period
    '00 00 00 00', // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    '02', // sm_length
    ascii('hi'), // short_message
  ].join('');
}

// ---------------------------------------------------------------------------------------------

describe('header (§3.2)', () => {
  it('refuses fewer than 16 bytes with ESME_RINVCMDLEN, fatal, without header fields', () => {
    const full = rawPdu(CommandId.enquire_link, 1);
    for (let n = 0; n < 16; n++) {
      expectPduError(full.subarray(0, n), S.ESME_RINVCMDLEN, {
        commandId: null,
        sequenceNumber: null,
        fatal: true,
      });
    }
  });

  it('refuses a command_length below 16 with ESME_RINVCMDLEN, fatal, with the header fields', () => {
    for (const length of [0, 1, 15]) {
      const buf = rawPdu(CommandId.enquire_link, 77);
      buf.writeUInt32BE(length, 0);
      expectPduError(buf, S.ESME_RINVCMDLEN, {
        commandId: CommandId.enquire_link,
        sequenceNumber: 77,
        fatal: true,
      });
    }
  });

  it('refuses a command_length that differs from the bytes given, either way', () => {
    for (const length of [17, 0xffffffff]) {
      const buf = rawPdu(CommandId.submit_sm_resp, 78, cstr('id'));
      buf.writeUInt32BE(length, 0);
      expectPduError(buf, S.ESME_RINVCMDLEN, {
        commandId: CommandId.submit_sm_resp,
        sequenceNumber: 78,
        fatal: true,
      });
    }
  });

  describe('command_length above the maximum (the framer bounds it before buffering)', () => {
    function frameOne(bytes: Buffer, maxLength?: number) {
      const sink = new FrameRecorder();
      new PduFramer(sink, maxLength).push(bytes);
      return sink;
    }

    it('refuses DEFAULT_MAX_PDU_LENGTH + 1 with ESME_RINVCMDLEN, fatal, carrying the header', () => {
      const header = rawPdu(CommandId.data_sm, 4242);
      header.writeUInt32BE(DEFAULT_MAX_PDU_LENGTH + 1, 0);
      const sink = frameOne(header);
      expect(sink.frames).toHaveLength(0);
      expect(sink.errors).toHaveLength(1);
      const [err] = sink.errors;
      expect(err).toBeInstanceOf(SmppPduError);
      expect({
        status: err!.commandStatus,
        id: err!.commandId,
        seq: err!.sequenceNumber,
        fatal: err!.fatal,
      }).toEqual({
        status: S.ESME_RINVCMDLEN,
        id: CommandId.data_sm,
        seq: 4242,
        fatal: true,
      });
    });

    it('accepts exactly DEFAULT_MAX_PDU_LENGTH (it waits for the rest)', () => {
      const header = rawPdu(CommandId.data_sm, 4243);
      header.writeUInt32BE(DEFAULT_MAX_PDU_LENGTH, 0);
      const sink = frameOne(header);
      expect(sink.errors).toHaveLength(0);
    });

    it('honours a configured maximum', () => {
      const pdu = encodePdu(
        makePdu('submit_sm_resp', { message_id: 'x'.repeat(30) }, { sequence_number: 5 }),
      );
      expect(frameOne(pdu, pdu.length).frames).toHaveLength(1);
      const sink = frameOne(pdu, pdu.length - 1);
      expect(sink.frames).toHaveLength(0);
      expect(sink.errors.map((e) => [e.commandStatus, e.sequenceNumber, e.fatal])).toEqual([
        [S.ESME_RINVCMDLEN, 5, true],
      ]);
    });

    it('refuses a command_length below 16 in the stream the same way', () => {
      const buf = rawPdu(CommandId.enquire_link, 99);
      buf.writeUInt32BE(15, 0);
      const sink = frameOne(buf);
      expect(sink.errors.map((e) => [e.commandStatus, e.commandId, e.sequenceNumber, e.fatal])).toEqual([
        [S.ESME_RINVCMDLEN, CommandId.enquire_link, 99, true],
      ]);
    });
  });

  it('refuses an unknown command_id with ESME_RINVCMDID, carrying the sequence number, not fatal', () => {
    // 0x0a is a hole in §5.1.2.1; 0x80000099 an unknown response; 0x00000000 is not a command.
    for (const id of [0x0000000a, 0x00000099, 0x80000099, 0x00000000, 0x00000111, 0xffffffff]) {
      expectPduError(rawPdu(id, 0x1234), S.ESME_RINVCMDID, { commandId: id, sequenceNumber: 0x1234 });
    }
  });

  it('refuses a header-only response whose status is 0: its mandatory body is missing', () => {
    expectPduError(rawPdu(CommandId.submit_sm_resp, 6), S.ESME_RINVCMDLEN, {
      commandId: CommandId.submit_sm_resp,
      sequenceNumber: 6,
    });
  });

  it('refuses a header-only request even with a non-zero status (only responses may leave the body out)', () => {
    expectPduError(rawPdu(CommandId.submit_sm, 7, '', S.ESME_RSYSERR), S.ESME_RINVCMDLEN, {
      commandId: CommandId.submit_sm,
      sequenceNumber: 7,
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('missing mandatory fields: every PDU cut at every offset inside its body', () => {
  for (const pdu of samplePdus()) {
    const mandatory = encodePdu({ ...pdu, tlvs: {} } as AnyPdu);
    if (mandatory.length === 16) continue;
    it(`${pdu.command}: always an SmppPduError with the header, never another exception`, () => {
      const full = encodePdu(pdu);
      const smLength = 'short_message' in pdu ? pdu.short_message.length : 0;
      // short_message is the last mandatory field of every PDU that has one.
      const smStart = mandatory.length - smLength;
      // A bare-header deliver_sm_resp is accepted on purpose (its message_id is unused, §4.6.2);
      // pdu.fastpath.test.ts asserts that. Every other cut must still be refused.
      const first = pdu.command === 'deliver_sm_resp' ? 17 : 16;
      for (let cut = first; cut < mandatory.length; cut++) {
        const err = decodeError(truncated(full, cut));
        const expected = smLength > 0 && cut >= smStart ? S.ESME_RINVMSGLEN : S.ESME_RINVCMDLEN;
        expect(
          { status: err.commandStatus, id: err.commandId, seq: err.sequenceNumber, fatal: err.fatal },
          `cut at ${cut} of ${mandatory.length}`,
        ).toEqual({ status: expected, id: CommandId[pdu.command], seq: pdu.sequence_number, fatal: false });
      }
    });
  }

  it('cut inside the TLVs: a PDU at every TLV boundary, ESME_RINVOPTPARSTREAM anywhere else', () => {
    const pdu = makePdu(
      'data_sm',
      {
        source_addr: '447700900123',
        destination_addr: '447700900456',
        tlvs: {
          message_payload: Buffer.from('a payload'),
          sar_msg_ref_num: 9,
          receipted_message_id: 'r1',
          alert_on_message_delivery: true,
          unknown: [{ tag: 0x1400, value: Buffer.from([1, 2, 3]) }],
        },
      },
      { sequence_number: 31 },
    );
    const full = encodePdu(pdu);
    const bodyEnd = encodePdu({ ...pdu, tlvs: {} }).length;
    const boundaries = new Map<number, number>(); // offset → TLVs before it
    for (let at = bodyEnd, count = 0; at <= full.length; count++) {
      boundaries.set(at, count);
      if (at === full.length) break;
      at += 4 + full.readUInt16BE(at + 2);
    }
    expect(boundaries.size).toBe(6);
    const entries = Object.entries(pdu.tlvs);
    for (let cut = bodyEnd; cut < full.length; cut++) {
      const bytes = truncated(full, cut);
      const count = boundaries.get(cut);
      if (count === undefined) {
        expect(decodeError(bytes).commandStatus, `cut at ${cut}`).toBe(S.ESME_RINVOPTPARSTREAM);
      } else {
        expect(decodePdu(bytes), `cut at ${cut}`).toStrictEqual({
          ...pdu,
          tlvs: Object.fromEntries(entries.slice(0, count)),
        });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

interface CstrCase {
  field: string;
  max: number;
  status: number;
  /** The PDU with `value` (hex, the field's bytes including any NUL) in place of the field. */
  build(value: string): Buffer;
}

const bindBody = (f: {
  system_id?: string;
  password?: string;
  system_type?: string;
  address_range?: string;
}) =>
  [
    f.system_id ?? cstr('sluice'),
    f.password ?? cstr('pw'),
    f.system_type ?? '00',
    '34 01 01', // interface_version, addr_ton, addr_npi
    f.address_range ?? '00',
  ].join('');

const dataSmBody = (f: { source_addr?: string; destination_addr?: string }) =>
  ['00', '01 01', f.source_addr ?? '00', '01 01', f.destination_addr ?? '00', '00 00 00'].join('');

const cstrCases: CstrCase[] = [
  {
    field: 'system_id (bind_transmitter)',
    max: 16,
    status: S.ESME_RINVSYSID,
    build: (v) => rawPdu(CommandId.bind_transmitter, 1, bindBody({ system_id: v })),
  },
  {
    field: 'password (bind_transceiver)',
    max: 9,
    status: S.ESME_RINVPASWD,
    build: (v) => rawPdu(CommandId.bind_transceiver, 2, bindBody({ password: v })),
  },
  {
    field: 'system_type (bind_receiver)',
    max: 13,
    status: S.ESME_RINVSYSTYP,
    build: (v) => rawPdu(CommandId.bind_receiver, 3, bindBody({ system_type: v })),
  },
  {
    field: 'system_id (bind_transceiver_resp)',
    max: 16,
    status: S.ESME_RINVSYSID,
    build: (v) => rawPdu(CommandId.bind_transceiver_resp, 4, v),
  },
  {
    field: 'service_type (submit_sm)',
    max: 6,
    status: S.ESME_RINVSERTYP,
    build: (v) => rawPdu(CommandId.submit_sm, 5, submitSmBody({ service_type: v })),
  },
  {
    field: 'source_addr (submit_sm)',
    max: 21,
    status: S.ESME_RINVSRCADR,
    build: (v) => rawPdu(CommandId.submit_sm, 6, submitSmBody({ source_addr: v })),
  },
  {
    field: 'destination_addr (deliver_sm)',
    max: 21,
    status: S.ESME_RINVDSTADR,
    build: (v) => rawPdu(CommandId.deliver_sm, 7, submitSmBody({ destination_addr: v })),
  },
  {
    field: 'message_id (submit_sm_resp)',
    max: 65,
    status: S.ESME_RINVMSGID,
    build: (v) => rawPdu(CommandId.submit_sm_resp, 8, v),
  },
  {
    field: 'message_id (query_sm)',
    max: 65,
    status: S.ESME_RINVMSGID,
    build: (v) => rawPdu(CommandId.query_sm, 9, `${v}0101${cstr('447700900123')}`),
  },
  {
    field: 'source_addr (data_sm, up to 64 characters)',
    max: 65,
    status: S.ESME_RINVSRCADR,
    build: (v) => rawPdu(CommandId.data_sm, 10, dataSmBody({ source_addr: v })),
  },
  {
    field: 'destination_addr (data_sm, up to 64 characters)',
    max: 65,
    status: S.ESME_RINVDSTADR,
    build: (v) => rawPdu(CommandId.data_sm, 11, dataSmBody({ destination_addr: v })),
  },
  {
    field: 'dl_name (submit_multi)',
    max: 21,
    status: S.ESME_RINVDLNAME,
    build: (v) => rawPdu(CommandId.submit_multi, 12, `00 0101 00 01 02 ${v} 000000 00 00 00000000 00`),
  },
];

describe('C-Octet Strings: maximum lengths and terminators (§3.1, §4 "Size octets")', () => {
  for (const c of cstrCases) {
    describe(c.field, () => {
      it(`takes ${c.max - 1} characters`, () => {
        const pdu = decodePdu(c.build(cstr('7'.repeat(c.max - 1))));
        expect(JSON.stringify(pdu)).toContain('7'.repeat(c.max - 1));
      });

      it(`refuses ${c.max} characters with its own status`, () => {
        const err = decodeError(c.build(cstr('7'.repeat(c.max))));
        expect(err.commandStatus).toBe(c.status);
        expect(err.fatal).toBe(false);
      });

      it('refuses a value with no NUL within its maximum with its own status', () => {
        // No terminator within `max` octets even though the PDU goes on: too long, whatever follows.
        expect(decodeError(c.build(ascii('7'.repeat(c.max + 10)))).commandStatus).toBe(c.status);
      });
    });
  }

  it('answers ESME_RINVCMDLEN when the PDU ends inside a string shorter than its maximum', () => {
    // Not a bad value but a short PDU: the string and every field after it are missing.
    const err = decodeError(rawPdu(CommandId.submit_sm_resp, 13, ascii('abc')));
    expect([err.commandStatus, err.sequenceNumber]).toEqual([S.ESME_RINVCMDLEN, 13]);
    const bind = decodeError(rawPdu(CommandId.bind_transmitter, 14, ascii('sluice')));
    expect(bind.commandStatus).toBe(S.ESME_RINVCMDLEN);
  });

  it('decodes Latin-1 octets as the same code points', () => {
    const pdu = decodePdu(rawPdu(CommandId.submit_sm_resp, 15, 'e9 ff 41 00'));
    expect(pdu).toMatchObject({ message_id: 'éÿA' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('time fields (§7.1): empty, or exactly 16 characters YYMMDDhhmmsstnnp', () => {
  const timeCases = [
    { field: 'schedule_delivery_time', status: S.ESME_RINVSCHED },
    { field: 'validity_period', status: S.ESME_RINVEXPIRY },
  ] as const;

  /** submit_sm, submit_multi and replace_sm with one time field replaced by `value` (hex). */
  function builders(field: 'schedule_delivery_time' | 'validity_period') {
    const times = (v: string) => (field === 'schedule_delivery_time' ? `${v}00` : `00${v}`);
    return {
      submit_sm: (v: string) =>
        rawPdu(CommandId.submit_sm, 1, `00 0101 00 0101 00 000000 ${times(v)} 00000000 00`),
      submit_multi: (v: string) =>
        rawPdu(CommandId.submit_multi, 2, `00 0101 00 01 01 0101 00 000000 ${times(v)} 00000000 00`),
      replace_sm: (v: string) => rawPdu(CommandId.replace_sm, 3, `${cstr('id')} 0101 00 ${times(v)} 0000 00`),
    };
  }

  for (const { field, status } of timeCases) {
    for (const [command, build] of Object.entries(builders(field))) {
      describe(`${field} in ${command}`, () => {
        it('takes an empty value, an absolute time and a relative time', () => {
          for (const value of ['', '260101120000000+', '251231235959948-', '000007000000000R']) {
            expect(decodePdu(build(cstr(value)))).toMatchObject({ [field]: value });
          }
        });

        it('refuses any other length or form', () => {
          for (const value of [
            '26010112000000+', // 15 characters
            '2601011200000000+', // 17 characters
            '260101120000000X', // bad p
            '2601011200000000', // no p at all
            'YYMMDDhhmmss000+', // not digits
            '2601011200 0000+', // a space
          ]) {
            const err = decodeError(build(cstr(value)));
            expect(err.commandStatus, value).toBe(status);
          }
        });
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------

describe('short_message (§5.2.21-22)', () => {
  const build = (command: number, smLength: string, sm: string) =>
    rawPdu(command, 21, `00 0101 00 0101 00 000000 00 00 00000000 ${smLength} ${sm}`);

  it('refuses an sm_length past the end of the PDU with ESME_RINVMSGLEN', () => {
    for (const command of [CommandId.submit_sm, CommandId.deliver_sm]) {
      for (const [length, sm] of [
        ['0b', ascii('hello')],
        ['01', ''],
        ['fe', ascii('x'.repeat(253))],
      ] as const) {
        const err = decodeError(build(command, length, sm));
        expect([err.commandStatus, err.commandId, err.sequenceNumber]).toEqual([
          S.ESME_RINVMSGLEN,
          command,
          21,
        ]);
      }
    }
    const replace = rawPdu(CommandId.replace_sm, 22, `${cstr('id')}0101000000000005${ascii('abc')}`);
    expect(decodeError(replace).commandStatus).toBe(S.ESME_RINVMSGLEN);
  });

  it('refuses sm_length 255 with ESME_RINVMSGLEN even when 255 octets follow (0..254, §5.2.21)', () => {
    // Accepting it would hand out a PDU that encodePdu refuses to write back.
    const err = decodeError(build(CommandId.submit_sm, 'ff', ascii('x'.repeat(255))));
    expect([err.commandStatus, err.sequenceNumber]).toEqual([S.ESME_RINVMSGLEN, 21]);
  });

  it('takes 254 octets', () => {
    const pdu = decodePdu(build(CommandId.submit_sm, 'fe', ascii('x'.repeat(254))));
    expect(pdu).toMatchObject({ short_message: Buffer.alloc(254, 'x') });
  });

  it('copies short_message out of the input buffer', () => {
    const input = build(CommandId.submit_sm, '02', ascii('hi'));
    const pdu = decodePdu(input);
    input.fill(0);
    expect(pdu).toMatchObject({ short_message: Buffer.from('hi') });
  });
});

// ---------------------------------------------------------------------------------------------

describe('TLVs (§3.2.4, §5.3)', () => {
  /** A data_sm_resp (one short mandatory field) followed by `tlvs` (hex). */
  const withTlvs = (tlvs: string) => rawPdu(CommandId.data_sm_resp, 41, `${cstr('m')} ${tlvs}`);

  it('refuses a TLV whose length runs past the end with ESME_RINVOPTPARSTREAM', () => {
    for (const tlvs of ['0424 0010 01020304', '1400 0001', '0427 0001', '001e ffff 41 00']) {
      const err = decodeError(withTlvs(tlvs));
      expect([err.commandStatus, err.commandId, err.sequenceNumber], tlvs).toEqual([
        S.ESME_RINVOPTPARSTREAM,
        CommandId.data_sm_resp,
        41,
      ]);
    }
  });

  it('refuses 1 to 3 stray bytes after the last TLV with ESME_RINVOPTPARSTREAM', () => {
    for (const stray of ['01', '0427', '042700']) {
      expect(decodeError(withTlvs(`0427 0001 02 ${stray}`)).commandStatus, stray).toBe(
        S.ESME_RINVOPTPARSTREAM,
      );
    }
  });

  it('refuses an integer TLV of the wrong length with ESME_RINVPARLEN', () => {
    for (const tlvs of [
      '0427 0002 0002', // message_state is 1 octet
      '0427 0000', // ... not 0
      '020c 0001 01', // sar_msg_ref_num is 2 octets
      '020c 0004 00000001', // ... not 4
      '0017 0002 0001', // qos_time_to_live is 4 octets
      '0210 0002 0034', // sc_interface_version is 1 octet
    ]) {
      const err = decodeError(withTlvs(tlvs));
      expect([err.commandStatus, err.sequenceNumber], tlvs).toEqual([S.ESME_RINVPARLEN, 41]);
    }
  });

  it('takes zero-length octet-string and vendor TLVs', () => {
    expect(decodePdu(withTlvs('0424 0000 1400 0000')).tlvs).toStrictEqual({
      message_payload: Buffer.alloc(0),
      unknown: [{ tag: 0x1400, value: Buffer.alloc(0) }],
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('submit_multi destinations (§4.5.1)', () => {
  const build = (dests: string) =>
    rawPdu(CommandId.submit_multi, 51, `00 0101 00 ${dests} 000000 00 00 00000000 00`);

  it('refuses number_of_dests 0 with ESME_RINVNUMDESTS', () => {
    const err = decodeError(build('00'));
    expect([err.commandStatus, err.commandId, err.sequenceNumber]).toEqual([
      S.ESME_RINVNUMDESTS,
      CommandId.submit_multi,
      51,
    ]);
  });

  it('refuses a dest_flag other than 1 and 2 with ESME_RINVDESTFLAG', () => {
    for (const flag of ['00', '03', 'ff']) {
      expect(decodeError(build(`02 01 0101 00 ${flag} 0101 00`)).commandStatus, flag).toBe(
        S.ESME_RINVDESTFLAG,
      );
    }
  });

  it('refuses fewer destinations than number_of_dests announces with ESME_RINVCMDLEN', () => {
    const noMore = rawPdu(CommandId.submit_multi, 52, `00 0101 00 03 01 0101 ${cstr('4477')}`);
    expect(decodeError(noMore).commandStatus).toBe(S.ESME_RINVCMDLEN);
  });

  it('takes 255 destinations', () => {
    const pdu = decodePdu(build(`ff${'02 00 '.repeat(255)}`));
    expect(pdu).toMatchObject({ command: 'submit_multi' });
    expect('dest_addresses' in pdu && pdu.dest_addresses.length).toBe(255);
  });
});

// ---------------------------------------------------------------------------------------------

describe('encoding refuses what SMPP cannot carry (SmppEncodeError)', () => {
  const submit = (fields: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    ({ ...makePdu('submit_sm', {}, { sequence_number: 1 }), ...fields, ...header }) as AnyPdu;

  it('a string longer than its field allows', () => {
    expect(
      encodeErrorOf(() => encodePdu(makePdu('bind_transmitter', { system_id: 'x'.repeat(16) }))).message,
    ).toMatch(/system_id must be at most 15 characters, got 16/);
    expect(() => encodePdu(makePdu('bind_transmitter', { system_id: 'x'.repeat(15) }))).not.toThrow();
    encodeErrorOf(() => encodePdu(makePdu('bind_transmitter', { password: '123456789' })));
    encodeErrorOf(() => encodePdu(submit({ source_addr: '1'.repeat(21) })));
    encodeErrorOf(() => encodePdu(submit({ service_type: 'SERVIC' })));
    encodeErrorOf(() => encodePdu(makePdu('submit_sm_resp', { message_id: 'm'.repeat(65) })));
    expect(() => encodePdu(makePdu('submit_sm_resp', { message_id: 'm'.repeat(64) }))).not.toThrow();
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { destination_addr: '1'.repeat(65) })));
  });

  it('a character outside Latin-1, or a NUL, in a C-Octet String', () => {
    expect(encodeErrorOf(() => encodePdu(submit({ source_addr: 'Σluice' }))).message).toMatch(/source_addr/);
    encodeErrorOf(() => encodePdu(submit({ destination_addr: '4477\u00000' })));
    encodeErrorOf(() => encodePdu(submit({ source_addr: '😀' })));
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { tlvs: { receipted_message_id: 'Ω' } })));
    // Latin-1 itself is carried octet for octet.
    const bytes = encodePdu(makePdu('submit_sm_resp', { message_id: 'é' }));
    expect(bytes.subarray(16).toString('hex')).toBe('e900');
  });

  it('a short_message over 254 octets (message_payload carries longer ones)', () => {
    expect(encodeErrorOf(() => encodePdu(submit({ short_message: Buffer.alloc(255) }))).message).toMatch(
      /short_message must be at most 254 bytes, got 255: use message_payload/,
    );
    expect(encodePdu(submit({ short_message: Buffer.alloc(254) }))).toHaveLength(16 + 17 + 254);
  });

  it('an integer out of its range', () => {
    for (const value of [256, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      encodeErrorOf(() => encodePdu(submit({ esm_class: value })));
    }
    encodeErrorOf(() => encodePdu(submit({}, { command_status: -1 })));
    encodeErrorOf(() => encodePdu(submit({}, { sequence_number: 2 ** 32 })));
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { tlvs: { sar_msg_ref_num: 0x10000 } })));
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { tlvs: { message_state: 256 } })));
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { tlvs: { qos_time_to_live: 2 ** 32 } })));
  });

  it('a time that is neither empty nor 16 characters', () => {
    encodeErrorOf(() => encodePdu(submit({ validity_period: '000001000000000' })));
    encodeErrorOf(() => encodePdu(submit({ schedule_delivery_time: '0000010000000000R' })));
  });

  it('submit_multi without destinations, or with more than 255', () => {
    encodeErrorOf(() => encodePdu(makePdu('submit_multi', { dest_addresses: [] })));
    const many = Array.from({ length: 256 }, () => ({ dest_flag: 2 as const, dl_name: 'x' }));
    encodeErrorOf(() => encodePdu(makePdu('submit_multi', { dest_addresses: many })));
  });

  it('a TLV value longer than a TLV length can say, and a TLV name SMPP does not define', () => {
    encodeErrorOf(() => encodePdu(makePdu('data_sm', { tlvs: { message_payload: Buffer.alloc(0x10000) } })));
    encodeErrorOf(() =>
      encodePdu(makePdu('data_sm', { tlvs: { unknown: [{ tag: 0x1400, value: Buffer.alloc(0x10000) }] } })),
    );
    encodeErrorOf(() =>
      encodePdu(makePdu('data_sm', { tlvs: { additional_status_info_text: 'x'.repeat(0xffff) } })),
    );
    const bogus = { ...makePdu('data_sm'), tlvs: { not_a_tlv: 1 } } as unknown as AnyPdu;
    expect(encodeErrorOf(() => encodePdu(bogus)).message).toMatch(/unknown TLV name not_a_tlv/);
    expect(encodePdu(makePdu('data_sm', { tlvs: { message_payload: Buffer.alloc(0xffff) } }))).toHaveLength(
      16 + 10 + 4 + 0xffff,
    );
  });

  describe('a failed writePdu leaves the PduWriter as it was', () => {
    const first = makePdu('enquire_link', {}, { sequence_number: 1 });
    const last = makePdu('submit_sm_resp', { message_id: 'ok' }, { sequence_number: 3 });
    const failures: Array<[string, AnyPdu]> = [
      ['in the first body field', submit({ service_type: 'TOOLONG' })],
      ['in short_message', submit({ short_message: Buffer.alloc(300) })],
      [
        'in a TLV after a large one (the writer had to grow)',
        makePdu('data_sm', { tlvs: { message_payload: Buffer.alloc(5000, 1), message_state: 999 } }),
      ],
      ['in the header, written last', submit({}, { command_status: 2 ** 33 })],
    ];

    for (const [where, bad] of failures) {
      it(`when the error is ${where}`, () => {
        const w = new PduWriter(64);
        writePdu(w, first);
        const pos = w.pos;
        expect(() => writePdu(w, bad)).toThrow(SmppEncodeError);
        expect(w.pos).toBe(pos);
        writePdu(w, last);
        // Nothing of the failed PDU is between the two good ones.
        expect(w.take().toString('hex')).toBe(encodeAll([first, last]).toString('hex'));
      });
    }
  });
});

describe('decoding never throws anything but SmppPduError', () => {
  it('survives every single-byte corruption of every sample PDU', () => {
    const seen = new Set<number>();
    for (const pdu of samplePdus()) {
      const good = encodePdu(pdu);
      // Large PDUs: every 7th offset keeps the run short; small ones: every offset.
      const step = good.length > 400 ? 7 : 1;
      for (let at = 4; at < good.length; at += step) {
        for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff, good[at]! ^ 0x01]) {
          const bad = Buffer.from(good);
          bad[at] = value;
          try {
            decodePdu(bad);
          } catch (err) {
            if (!(err instanceof SmppPduError)) throw err;
            seen.add(err.commandStatus);
          }
        }
      }
    }
    // The run reaches a variety of refusals, not one catch-all.
    expect(seen.size).toBeGreaterThanOrEqual(8);
  });
});

// Keep the wire helper honest: a typo in a test's hex must fail loudly, not shorten a PDU.
describe('test helpers', () => {
  it('wire() refuses odd or non-hex input', () => {
    expect(() => wire('0')).toThrow();
    expect(() => wire('zz')).toThrow();
    expect(wire('00 01', '02')).toEqual(Buffer.from([0, 1, 2]));
  });
});
