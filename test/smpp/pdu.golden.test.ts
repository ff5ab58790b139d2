/**
 * Golden bytes for every SMPP v3.4 PDU, in both directions: the object encodes to the bytes and
 * the bytes decode to the object. The bytes are written by hand, field by field in the order of
 * the specification's §4 tables, so they state the wire format independently of our encoder.
 * A second, independent implementation (the `smpp` npm package) cross-checks a handful.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CommandId, CommandStatus } from '../../src/smpp/constants.js';
import { decodePdu, encodePdu, makePdu } from '../../src/smpp/pdu/codec.js';
import type { AnyPdu, Pdu } from '../../src/smpp/pdu/types.js';
import { ascii, cstr, wire } from './helpers.js';

/** The `smpp` package's PDU class (CommonJS, untyped): fields are read as `unknown`. */
interface ForeignPdu {
  toBuffer(): Buffer;
  readonly [field: string]: unknown;
}
type ForeignPduClass = new (command: string | Buffer, fields?: Record<string, unknown>) => ForeignPdu;

function loadForeignPdu(): ForeignPduClass {
  const mod: unknown = createRequire(import.meta.url)('smpp');
  if (typeof mod !== 'object' || mod === null || !('PDU' in mod) || typeof mod.PDU !== 'function') {
    throw new Error('the smpp package no longer exports a PDU class');
  }
  // The boundary with untyped JavaScript: the shape is the package's documented one.
  return mod.PDU as unknown as ForeignPduClass;
}

interface Golden {
  name: string;
  pdu: AnyPdu;
  bytes: Buffer;
}

const RECEIPT_TEXT = 'id:5f3a9c01 stat:DELIVRD err:000';
const PAYLOAD_TEXT = '0123456789'.repeat(30);

const golden: Golden[] = [
  {
    name: 'bind_transmitter (§4.1.1)',
    pdu: {
      command: 'bind_transmitter',
      command_status: 0,
      sequence_number: 1,
      system_id: 'sluice',
      password: 'secret08',
      system_type: 'SMPP',
      interface_version: 0x34,
      addr_ton: 1,
      addr_npi: 1,
      address_range: '',
      tlvs: {},
    },
    bytes: wire(
      '00000029', // command_length 41
      '00000002', // command_id bind_transmitter
      '00000000', // command_status ESME_ROK
      '00000001', // sequence_number 1
      cstr('sluice'), // system_id
      cstr('secret08'), // password (8 characters: the maximum)
      cstr('SMPP'), // system_type
      '34', // interface_version 3.4
      '01', // addr_ton international
      '01', // addr_npi E.164
      '00', // address_range empty
    ),
  },
  {
    name: 'bind_transmitter_resp with sc_interface_version (§4.1.2)',
    pdu: {
      command: 'bind_transmitter_resp',
      command_status: 0,
      sequence_number: 1,
      system_id: 'SMSC',
      tlvs: { sc_interface_version: 0x34 },
    },
    bytes: wire(
      '0000001a', // command_length 26
      '80000002', // command_id bind_transmitter_resp
      '00000000', // command_status
      '00000001', // sequence_number
      cstr('SMSC'), // system_id
      '0210 0001 34', // TLV sc_interface_version = 0x34
    ),
  },
  {
    name: 'bind_receiver (§4.1.3)',
    pdu: {
      command: 'bind_receiver',
      command_status: 0,
      sequence_number: 2,
      system_id: 'rx-only',
      password: '',
      system_type: '',
      interface_version: 0x34,
      addr_ton: 0,
      addr_npi: 0,
      address_range: '4479',
      tlvs: {},
    },
    bytes: wire(
      '00000022', // command_length 34
      '00000001', // command_id bind_receiver
      '00000000', // command_status
      '00000002', // sequence_number 2
      cstr('rx-only'), // system_id
      '00', // password empty
      '00', // system_type empty
      '34', // interface_version
      '00', // addr_ton unknown
      '00', // addr_npi unknown
      cstr('4479'), // address_range
    ),
  },
  {
    name: 'bind_receiver_resp (§4.1.4)',
    pdu: {
      command: 'bind_receiver_resp',
      command_status: 0,
      sequence_number: 2,
      system_id: 'SMSC',
      tlvs: {},
    },
    bytes: wire(
      '00000015', // command_length 21
      '80000001', // command_id bind_receiver_resp
      '00000000', // command_status
      '00000002', // sequence_number
      cstr('SMSC'), // system_id
    ),
  },
  {
    name: 'bind_transceiver (§4.2.5)',
    pdu: {
      command: 'bind_transceiver',
      command_status: 0,
      sequence_number: 3,
      system_id: 'trx-client',
      password: 'pw',
      system_type: 'VMA',
      interface_version: 0x34,
      addr_ton: 1,
      addr_npi: 1,
      address_range: '',
      tlvs: {},
    },
    bytes: wire(
      '00000026', // command_length 38
      '00000009', // command_id bind_transceiver
      '00000000', // command_status
      '00000003', // sequence_number 3
      cstr('trx-client'), // system_id
      cstr('pw'), // password
      cstr('VMA'), // system_type
      '34', // interface_version
      '01', // addr_ton
      '01', // addr_npi
      '00', // address_range
    ),
  },
  {
    name: 'bind_transceiver_resp (§4.2.6)',
    pdu: {
      command: 'bind_transceiver_resp',
      command_status: 0,
      sequence_number: 3,
      system_id: 'sluice',
      tlvs: { sc_interface_version: 0x34 },
    },
    bytes: wire(
      '0000001c', // command_length 28
      '80000009', // command_id bind_transceiver_resp
      '00000000', // command_status
      '00000003', // sequence_number
      cstr('sluice'), // system_id
      '0210 0001 34', // TLV sc_interface_version
    ),
  },
  {
    name: 'outbind (§4.1.7)',
    pdu: {
      command: 'outbind',
      command_status: 0,
      sequence_number: 9,
      system_id: 'smsc01',
      password: 'pass',
      tlvs: {},
    },
    bytes: wire(
      '0000001c', // command_length 28
      '0000000b', // command_id outbind
      '00000000', // command_status
      '00000009', // sequence_number
      cstr('smsc01'), // system_id
      cstr('pass'), // password
    ),
  },
  {
    name: 'unbind (§4.2.1)',
    pdu: { command: 'unbind', command_status: 0, sequence_number: 10, tlvs: {} },
    bytes: wire('00000010', '00000006', '00000000', '0000000a'),
  },
  {
    name: 'unbind_resp (§4.2.2)',
    pdu: { command: 'unbind_resp', command_status: 0, sequence_number: 10, tlvs: {} },
    bytes: wire('00000010', '80000006', '00000000', '0000000a'),
  },
  {
    name: 'generic_nack with ESME_RINVCMDID (§4.3.1)',
    pdu: {
      command: 'generic_nack',
      command_status: CommandStatus.ESME_RINVCMDID,
      sequence_number: 11,
      tlvs: {},
    },
    bytes: wire(
      '00000010', // command_length 16: header only
      '80000000', // command_id generic_nack
      '00000003', // command_status ESME_RINVCMDID
      '0000000b', // sequence_number of the PDU it refuses
    ),
  },
  {
    name: 'enquire_link (§4.11.1)',
    pdu: { command: 'enquire_link', command_status: 0, sequence_number: 0x7fffffff, tlvs: {} },
    bytes: wire('00000010', '00000015', '00000000', '7fffffff'),
  },
  {
    name: 'enquire_link_resp (§4.11.2)',
    pdu: { command: 'enquire_link_resp', command_status: 0, sequence_number: 0x7fffffff, tlvs: {} },
    bytes: wire('00000010', '80000015', '00000000', '7fffffff'),
  },
  {
    name: 'submit_sm (§4.4.1)',
    pdu: {
      command: 'submit_sm',
      command_status: 0,
      sequence_number: 0x100,
      service_type: '',
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'Sluice',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900123',
      esm_class: 0,
      protocol_id: 0,
      priority_flag: 1,
      schedule_delivery_time: '',
      validity_period: '000001000000000R',
      registered_delivery: 1,
      replace_if_present_flag: 0,
      data_coding: 0,
      sm_default_msg_id: 0,
      short_message: Buffer.from('Hello world', 'latin1'),
      tlvs: {},
    },
    bytes: wire(
      '0000004e', // command_length 78
      '00000004', // command_id submit_sm
      '00000000', // command_status
      '00000100', // sequence_number
      '00', // service_type: SMSC default
      '05', // source_addr_ton alphanumeric
      '00', // source_addr_npi unknown
      cstr('Sluice'), // source_addr
      '01', // dest_addr_ton international
      '01', // dest_addr_npi E.164
      cstr('447700900123'), // destination_addr
      '00', // esm_class
      '00', // protocol_id
      '01', // priority_flag
      '00', // schedule_delivery_time: immediately
      cstr('000001000000000R'), // validity_period: one day, relative
      '01', // registered_delivery: receipt on final outcome
      '00', // replace_if_present_flag
      '00', // data_coding: SMSC default alphabet
      '00', // sm_default_msg_id
      '0b', // sm_length 11
      ascii('Hello world'), // short_message
    ),
  },
  {
    name: 'submit_sm_resp (§4.4.2)',
    pdu: {
      command: 'submit_sm_resp',
      command_status: 0,
      sequence_number: 0x100,
      message_id: '5f3a9c01',
      tlvs: {},
    },
    bytes: wire(
      '00000019', // command_length 25
      '80000004', // command_id submit_sm_resp
      '00000000', // command_status
      '00000100', // sequence_number
      cstr('5f3a9c01'), // message_id
    ),
  },
  {
    name: 'submit_multi with an SME address and a distribution list (§4.5.1)',
    pdu: {
      command: 'submit_multi',
      command_status: 0,
      sequence_number: 0x101,
      service_type: 'CMT',
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900999',
      dest_addresses: [
        { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900001' },
        { dest_flag: 2, dl_name: 'friends' },
      ],
      esm_class: 0,
      protocol_id: 0,
      priority_flag: 0,
      schedule_delivery_time: '260315093000004+',
      validity_period: '',
      registered_delivery: 0,
      replace_if_present_flag: 0,
      data_coding: 3,
      sm_default_msg_id: 0,
      short_message: Buffer.from('hi all', 'latin1'),
      tlvs: {},
    },
    bytes: wire(
      '0000005d', // command_length 93
      '00000021', // command_id submit_multi
      '00000000', // command_status
      '00000101', // sequence_number
      cstr('CMT'), // service_type
      '01', // source_addr_ton
      '01', // source_addr_npi
      cstr('447700900999'), // source_addr
      '02', // number_of_dests
      '01', // dest_flag 1: SME address
      '01', // dest_addr_ton
      '01', // dest_addr_npi
      cstr('447700900001'), // destination_addr
      '02', // dest_flag 2: distribution list
      cstr('friends'), // dl_name
      '00', // esm_class
      '00', // protocol_id
      '00', // priority_flag
      cstr('260315093000004+'), // schedule_delivery_time: absolute, UTC+1h
      '00', // validity_period: SMSC default
      '00', // registered_delivery
      '00', // replace_if_present_flag
      '03', // data_coding Latin-1
      '00', // sm_default_msg_id
      '06', // sm_length
      ascii('hi all'), // short_message
    ),
  },
  {
    name: 'submit_multi_resp with unsuccess_sme entries (§4.5.2)',
    pdu: {
      command: 'submit_multi_resp',
      command_status: 0,
      sequence_number: 0x101,
      message_id: 'mm1',
      unsuccess_smes: [
        {
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: '447700900001',
          error_status_code: CommandStatus.ESME_RINVDSTADR,
        },
        {
          dest_addr_ton: 0,
          dest_addr_npi: 0,
          destination_addr: '1234',
          error_status_code: CommandStatus.ESME_RSUBMITFAIL,
        },
      ],
      tlvs: {},
    },
    bytes: wire(
      '00000033', // command_length 51
      '80000021', // command_id submit_multi_resp
      '00000000', // command_status
      '00000101', // sequence_number
      cstr('mm1'), // message_id
      '02', // no_unsuccess
      '01', // dest_addr_ton
      '01', // dest_addr_npi
      cstr('447700900001'), // destination_addr
      '0000000b', // error_status_code ESME_RINVDSTADR
      '00', // dest_addr_ton
      '00', // dest_addr_npi
      cstr('1234'), // destination_addr
      '00000045', // error_status_code ESME_RSUBMITFAIL
    ),
  },
  {
    name: 'submit_multi_resp with every destination accepted (§4.5.2)',
    pdu: {
      command: 'submit_multi_resp',
      command_status: 0,
      sequence_number: 0x102,
      message_id: 'mm2',
      unsuccess_smes: [],
      tlvs: {},
    },
    bytes: wire(
      '00000015', // command_length 21
      '80000021', // command_id submit_multi_resp
      '00000000', // command_status
      '00000102', // sequence_number
      cstr('mm2'), // message_id
      '00', // no_unsuccess
    ),
  },
  {
    name: 'deliver_sm, mobile originated in UCS-2 (§4.6.1)',
    pdu: {
      command: 'deliver_sm',
      command_status: 0,
      sequence_number: 0x200,
      service_type: '',
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900123',
      dest_addr_ton: 3,
      dest_addr_npi: 0,
      destination_addr: '12345',
      esm_class: 0,
      protocol_id: 0,
      priority_flag: 0,
      schedule_delivery_time: '',
      validity_period: '',
      registered_delivery: 0,
      replace_if_present_flag: 0,
      data_coding: 8,
      sm_default_msg_id: 0,
      short_message: Buffer.from([0x00, 0x48, 0x00, 0x69]),
      tlvs: {},
    },
    bytes: wire(
      '00000036', // command_length 54
      '00000005', // command_id deliver_sm
      '00000000', // command_status
      '00000200', // sequence_number
      '00', // service_type
      '01', // source_addr_ton
      '01', // source_addr_npi
      cstr('447700900123'), // source_addr: the handset
      '03', // dest_addr_ton network specific
      '00', // dest_addr_npi
      cstr('12345'), // destination_addr: the short code
      '00', // esm_class: a plain message
      '00', // protocol_id
      '00', // priority_flag
      '00', // schedule_delivery_time (unused in deliver_sm)
      '00', // validity_period (unused in deliver_sm)
      '00', // registered_delivery
      '00', // replace_if_present_flag
      '08', // data_coding UCS-2
      '00', // sm_default_msg_id
      '04', // sm_length
      '0048 0069', // short_message "Hi" in UTF-16BE
    ),
  },
  {
    name: 'deliver_sm delivery receipt with receipted_message_id and message_state (§4.6.1, §5.3.2.12, §5.3.2.35)',
    pdu: {
      command: 'deliver_sm',
      command_status: 0,
      sequence_number: 0x201,
      service_type: '',
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900123',
      dest_addr_ton: 5,
      dest_addr_npi: 0,
      destination_addr: 'Sluice',
      esm_class: 0x04,
      protocol_id: 0,
      priority_flag: 0,
      schedule_delivery_time: '',
      validity_period: '',
      registered_delivery: 0,
      replace_if_present_flag: 0,
      data_coding: 0,
      sm_default_msg_id: 0,
      short_message: Buffer.from(RECEIPT_TEXT, 'latin1'),
      tlvs: { receipted_message_id: '5f3a9c01', message_state: 2 },
    },
    bytes: wire(
      '00000065', // command_length 101
      '00000005', // command_id deliver_sm
      '00000000', // command_status
      '00000201', // sequence_number
      '00', // service_type
      '01', // source_addr_ton
      '01', // source_addr_npi
      cstr('447700900123'), // source_addr
      '05', // dest_addr_ton alphanumeric
      '00', // dest_addr_npi
      cstr('Sluice'), // destination_addr
      '04', // esm_class: SMSC delivery receipt
      '00', // protocol_id
      '00', // priority_flag
      '00', // schedule_delivery_time
      '00', // validity_period
      '00', // registered_delivery
      '00', // replace_if_present_flag
      '00', // data_coding
      '00', // sm_default_msg_id
      '20', // sm_length 32
      ascii(RECEIPT_TEXT), // short_message: the receipt text
      '001e 0009', // TLV receipted_message_id, length 9
      cstr('5f3a9c01'), //   value, NUL-terminated
      '0427 0001 02', // TLV message_state DELIVERED
    ),
  },
  {
    name: 'deliver_sm_resp (§4.6.2)',
    pdu: { command: 'deliver_sm_resp', command_status: 0, sequence_number: 0x201, message_id: '', tlvs: {} },
    bytes: wire(
      '00000011', // command_length 17
      '80000005', // command_id deliver_sm_resp
      '00000000', // command_status
      '00000201', // sequence_number
      '00', // message_id: unused, NULL
    ),
  },
  {
    name: 'data_sm with message_payload (§4.7.1, §5.3.2.32)',
    pdu: {
      command: 'data_sm',
      command_status: 0,
      sequence_number: 0x300,
      service_type: '',
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900123',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900456',
      esm_class: 0,
      registered_delivery: 1,
      data_coding: 0,
      tlvs: { message_payload: Buffer.from(PAYLOAD_TEXT, 'latin1') },
    },
    bytes: wire(
      '00000162', // command_length 354
      '00000103', // command_id data_sm
      '00000000', // command_status
      '00000300', // sequence_number
      '00', // service_type
      '01', // source_addr_ton
      '01', // source_addr_npi
      cstr('447700900123'), // source_addr (up to 64 characters in data_sm)
      '01', // dest_addr_ton
      '01', // dest_addr_npi
      cstr('447700900456'), // destination_addr
      '00', // esm_class
      '01', // registered_delivery
      '00', // data_coding
      '0424 012c', // TLV message_payload, length 300: more than short_message can carry
      ascii(PAYLOAD_TEXT), //   value
    ),
  },
  {
    name: 'data_sm_resp (§4.7.2)',
    pdu: { command: 'data_sm_resp', command_status: 0, sequence_number: 0x300, message_id: 'ds-1', tlvs: {} },
    bytes: wire(
      '00000015', // command_length 21
      '80000103', // command_id data_sm_resp
      '00000000', // command_status
      '00000300', // sequence_number
      cstr('ds-1'), // message_id
    ),
  },
  {
    name: 'query_sm (§4.8.1)',
    pdu: {
      command: 'query_sm',
      command_status: 0,
      sequence_number: 0x400,
      message_id: '5f3a9c01',
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'Sluice',
      tlvs: {},
    },
    bytes: wire(
      '00000022', // command_length 34
      '00000003', // command_id query_sm
      '00000000', // command_status
      '00000400', // sequence_number
      cstr('5f3a9c01'), // message_id
      '05', // source_addr_ton
      '00', // source_addr_npi
      cstr('Sluice'), // source_addr
    ),
  },
  {
    name: 'query_sm_resp (§4.8.2)',
    pdu: {
      command: 'query_sm_resp',
      command_status: 0,
      sequence_number: 0x400,
      message_id: '5f3a9c01',
      final_date: '260101120100000+',
      message_state: 2,
      error_code: 0,
      tlvs: {},
    },
    bytes: wire(
      '0000002c', // command_length 44
      '80000003', // command_id query_sm_resp
      '00000000', // command_status
      '00000400', // sequence_number
      cstr('5f3a9c01'), // message_id
      cstr('260101120100000+'), // final_date
      '02', // message_state DELIVERED
      '00', // error_code
    ),
  },
  {
    name: 'cancel_sm (§4.9.1)',
    pdu: {
      command: 'cancel_sm',
      command_status: 0,
      sequence_number: 0x500,
      service_type: '',
      message_id: '5f3a9c01',
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'Sluice',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900123',
      tlvs: {},
    },
    bytes: wire(
      '00000032', // command_length 50
      '00000008', // command_id cancel_sm
      '00000000', // command_status
      '00000500', // sequence_number
      '00', // service_type
      cstr('5f3a9c01'), // message_id
      '05', // source_addr_ton
      '00', // source_addr_npi
      cstr('Sluice'), // source_addr
      '01', // dest_addr_ton
      '01', // dest_addr_npi
      cstr('447700900123'), // destination_addr
    ),
  },
  {
    name: 'cancel_sm_resp (§4.9.2)',
    pdu: { command: 'cancel_sm_resp', command_status: 0, sequence_number: 0x500, tlvs: {} },
    bytes: wire('00000010', '80000008', '00000000', '00000500'),
  },
  {
    name: 'replace_sm (§4.10.1)',
    pdu: {
      command: 'replace_sm',
      command_status: 0,
      sequence_number: 0x600,
      message_id: '5f3a9c01',
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'Sluice',
      schedule_delivery_time: '',
      validity_period: '000002000000000R',
      registered_delivery: 1,
      sm_default_msg_id: 0,
      short_message: Buffer.from('Updated', 'latin1'),
      tlvs: {},
    },
    bytes: wire(
      '0000003e', // command_length 62
      '00000007', // command_id replace_sm
      '00000000', // command_status
      '00000600', // sequence_number
      cstr('5f3a9c01'), // message_id
      '05', // source_addr_ton
      '00', // source_addr_npi
      cstr('Sluice'), // source_addr
      '00', // schedule_delivery_time
      cstr('000002000000000R'), // validity_period: two days, relative
      '01', // registered_delivery
      '00', // sm_default_msg_id
      '07', // sm_length
      ascii('Updated'), // short_message
    ),
  },
  {
    name: 'replace_sm_resp (§4.10.2)',
    pdu: { command: 'replace_sm_resp', command_status: 0, sequence_number: 0x600, tlvs: {} },
    bytes: wire('00000010', '80000007', '00000000', '00000600'),
  },
  {
    name: 'alert_notification with ms_availability_status (§4.12.1, §5.3.2.30)',
    pdu: {
      command: 'alert_notification',
      command_status: 0,
      sequence_number: 0x700,
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900123',
      esme_addr_ton: 5,
      esme_addr_npi: 0,
      esme_addr: 'Sluice',
      tlvs: { ms_availability_status: 0 },
    },
    bytes: wire(
      '0000002d', // command_length 45
      '00000102', // command_id alert_notification
      '00000000', // command_status
      '00000700', // sequence_number
      '01', // source_addr_ton
      '01', // source_addr_npi
      cstr('447700900123'), // source_addr: the handset now available
      '05', // esme_addr_ton
      '00', // esme_addr_npi
      cstr('Sluice'), // esme_addr
      '0422 0001 00', // TLV ms_availability_status: available
    ),
  },
];

describe('golden PDUs (SMPP v3.4 §4)', () => {
  it('covers every command SMPP v3.4 defines', () => {
    const covered = new Set(golden.map((g) => g.pdu.command));
    expect([...covered].sort()).toEqual(Object.keys(CommandId).sort());
  });

  it('spells command_length as the real length of every golden PDU', () => {
    for (const { name, bytes } of golden) expect(bytes.readUInt32BE(0), name).toBe(bytes.length);
  });

  for (const { name, pdu, bytes } of golden) {
    describe(name, () => {
      it('encodes to the golden bytes', () => {
        expect(encodePdu(pdu).toString('hex')).toBe(bytes.toString('hex'));
      });

      it('decodes from the golden bytes', () => {
        expect(decodePdu(bytes)).toStrictEqual(pdu);
      });

      it('decodes in place from inside a larger buffer', () => {
        const framed = Buffer.concat([Buffer.from('garbage!'), bytes, Buffer.from('more')]);
        expect(decodePdu(framed, 8, 8 + bytes.length)).toStrictEqual(pdu);
      });
    });
  }
});

describe('TLVs (§5.3)', () => {
  /** data_sm with every mandatory field empty or zero: 10 octets. */
  const EMPTY_DATA_SM_BODY = [
    '00', // service_type
    '00 00 00', // source_addr_ton, source_addr_npi, source_addr
    '00 00 00', // dest_addr_ton, dest_addr_npi, destination_addr
    '00 00 00', // esm_class, registered_delivery, data_coding
  ];

  const everyType: Pdu<'data_sm'> = {
    ...makePdu('data_sm', {}, { sequence_number: 0x800 }),
    tlvs: {
      sar_total_segments: 3,
      sar_msg_ref_num: 0x1234,
      qos_time_to_live: 86_400,
      additional_status_info_text: 'hello',
      callback_num: Buffer.from('\x00\x01\x014479', 'latin1'),
      alert_on_message_delivery: true,
      unknown: [
        { tag: 0x1400, value: Buffer.from([0xaa, 0xbb, 0xcc]) },
        { tag: 0x1401, value: Buffer.alloc(0) },
      ],
    },
  };
  const everyTypeBytes = wire(
    '00000051', // command_length 81
    '00000103', // command_id data_sm
    '00000000', // command_status
    '00000800', // sequence_number
    ...EMPTY_DATA_SM_BODY,
    '020e 0001 03', // u8: sar_total_segments 3
    '020c 0002 1234', // u16: sar_msg_ref_num 0x1234
    '0017 0004 00015180', // u32: qos_time_to_live 86400 s
    '001d 0006', // C-string: additional_status_info_text, length 6 with the NUL
    cstr('hello'),
    '0381 0007', // octets: callback_num, length 7
    '00 01 01', //   digit mode, ton, npi
    ascii('4479'), //   number
    '130c 0000', // flag: alert_on_message_delivery, zero-length (§5.3.2.41)
    '1400 0003 aabbcc', // vendor TLV, unknown to us, kept as it is
    '1401 0000', // vendor TLV of length 0
  );

  it('encodes a TLV of every value type', () => {
    expect(encodePdu(everyType).toString('hex')).toBe(everyTypeBytes.toString('hex'));
  });

  it('decodes a TLV of every value type', () => {
    expect(decodePdu(everyTypeBytes)).toStrictEqual(everyType);
  });

  it('reads a C-string TLV the same with or without its NUL (some SMSCs leave it out)', () => {
    const withoutNul = wire(
      '0000001f', // command_length 31
      '00000103', // data_sm
      '00000000',
      '00000801',
      ...EMPTY_DATA_SM_BODY,
      '001e 0001', // receipted_message_id of length 1 ...
      ascii('7'), // ... and no NUL
    );
    expect(decodePdu(withoutNul).tlvs).toStrictEqual({ receipted_message_id: '7' });
  });

  describe('vendor TLVs', () => {
    const vendorLast = wire(
      '0000002d', // command_length 45
      '00000103', // data_sm
      '00000000',
      '00000802',
      ...EMPTY_DATA_SM_BODY,
      '0427 0001 02', // message_state (known)
      '1501 0004 deadbeef', // vendor TLV
      'fffe 0002 0000', // vendor TLV whose value looks like nothing in particular
    );
    const vendorFirst = wire(
      '0000002d', // command_length 45
      '00000103', // data_sm
      '00000000',
      '00000803',
      ...EMPTY_DATA_SM_BODY,
      '1501 0004 deadbeef', // vendor TLV
      'fffe 0002 0000', // vendor TLV
      '0427 0001 02', // message_state (known)
    );

    it('keeps them byte for byte, in wire order, in tlvs.unknown', () => {
      expect(decodePdu(vendorLast).tlvs).toStrictEqual({
        message_state: 2,
        unknown: [
          { tag: 0x1501, value: Buffer.from('deadbeef', 'hex') },
          { tag: 0xfffe, value: Buffer.from('0000', 'hex') },
        ],
      });
    });

    it('re-encodes them identically, after the known TLVs or before them', () => {
      expect(encodePdu(decodePdu(vendorLast)).toString('hex')).toBe(vendorLast.toString('hex'));
      expect(encodePdu(decodePdu(vendorFirst)).toString('hex')).toBe(vendorFirst.toString('hex'));
    });

    it('copies their values out of the input buffer', () => {
      const input = Buffer.from(vendorLast);
      const pdu = decodePdu(input);
      input.fill(0xee);
      expect(pdu.tlvs.unknown?.[0]?.value.toString('hex')).toBe('deadbeef');
    });
  });
});

describe('error responses with the body left out (§4: a non-zero command_status may omit it)', () => {
  const cases: Array<{ bytes: Buffer; pdu: AnyPdu }> = [
    {
      bytes: wire('00000010', '80000004', '00000045', '00000005'), // submit_sm_resp ESME_RSUBMITFAIL
      pdu: {
        command: 'submit_sm_resp',
        command_status: CommandStatus.ESME_RSUBMITFAIL,
        sequence_number: 5,
        message_id: '',
        tlvs: {},
      },
    },
    {
      bytes: wire('00000010', '80000009', '0000000e', '00000001'), // bind_transceiver_resp ESME_RINVPASWD
      pdu: {
        command: 'bind_transceiver_resp',
        command_status: CommandStatus.ESME_RINVPASWD,
        sequence_number: 1,
        system_id: '',
        tlvs: {},
      },
    },
    {
      bytes: wire('00000010', '80000003', '00000067', '00000007'), // query_sm_resp ESME_RQUERYFAIL
      pdu: {
        command: 'query_sm_resp',
        command_status: CommandStatus.ESME_RQUERYFAIL,
        sequence_number: 7,
        message_id: '',
        final_date: '',
        message_state: 0,
        error_code: 0,
        tlvs: {},
      },
    },
    {
      bytes: wire('00000010', '80000021', '00000058', '00000008'), // submit_multi_resp ESME_RTHROTTLED
      pdu: {
        command: 'submit_multi_resp',
        command_status: CommandStatus.ESME_RTHROTTLED,
        sequence_number: 8,
        message_id: '',
        unsuccess_smes: [],
        tlvs: {},
      },
    },
  ];

  for (const { bytes, pdu } of cases) {
    it(`decodes a body-less ${pdu.command} with its fields at their defaults`, () => {
      expect(decodePdu(bytes)).toStrictEqual(pdu);
    });
  }

  it('still decodes the body of an error response that carries one', () => {
    const bytes = wire(
      '00000014', // command_length 20
      '80000004', // submit_sm_resp
      '00000058', // ESME_RTHROTTLED
      '00000009',
      cstr('abc'), // message_id
    );
    expect(decodePdu(bytes)).toStrictEqual({
      command: 'submit_sm_resp',
      command_status: CommandStatus.ESME_RTHROTTLED,
      sequence_number: 9,
      message_id: 'abc',
      tlvs: {},
    });
  });
});

describe('cross-check with the smpp npm package (an independent implementation)', () => {
  const ForeignPdu = loadForeignPdu();
  /** Our PDU, and the same PDU as the fields the smpp package takes. */
  const pairs: Array<{ ours: AnyPdu; theirs: [string, Record<string, unknown>] }> = [
    {
      ours: makePdu(
        'submit_sm',
        {
          source_addr_ton: 5,
          source_addr: 'Sluice',
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: '447700900123',
          registered_delivery: 1,
          data_coding: 0,
          short_message: Buffer.from('Hello from sluice'),
          tlvs: { user_message_reference: 0x0102 },
        },
        { sequence_number: 42 },
      ),
      theirs: [
        'submit_sm',
        {
          sequence_number: 42,
          source_addr_ton: 5,
          source_addr: 'Sluice',
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: '447700900123',
          registered_delivery: 1,
          data_coding: 0,
          short_message: Buffer.from('Hello from sluice'),
          user_message_reference: 0x0102,
        },
      ],
    },
    {
      ours: makePdu(
        'deliver_sm',
        {
          source_addr_ton: 1,
          source_addr_npi: 1,
          source_addr: '447700900123',
          destination_addr: 'Sluice',
          esm_class: 0x04,
          short_message: Buffer.from(RECEIPT_TEXT),
          tlvs: { receipted_message_id: '5f3a9c01', message_state: 2 },
        },
        { sequence_number: 43 },
      ),
      theirs: [
        'deliver_sm',
        {
          sequence_number: 43,
          source_addr_ton: 1,
          source_addr_npi: 1,
          source_addr: '447700900123',
          destination_addr: 'Sluice',
          esm_class: 0x04,
          data_coding: 0,
          short_message: Buffer.from(RECEIPT_TEXT),
          receipted_message_id: '5f3a9c01',
          message_state: 2,
        },
      ],
    },
    {
      ours: makePdu(
        'bind_transceiver',
        { system_id: 'trx-client', password: 'pw', system_type: 'VMA', interface_version: 0x34, addr_ton: 1 },
        { sequence_number: 1 },
      ),
      theirs: [
        'bind_transceiver',
        {
          sequence_number: 1,
          system_id: 'trx-client',
          password: 'pw',
          system_type: 'VMA',
          interface_version: 0x34,
          addr_ton: 1,
        },
      ],
    },
    {
      ours: makePdu('submit_sm_resp', { message_id: '5f3a9c01' }, { sequence_number: 42 }),
      theirs: ['submit_sm_resp', { sequence_number: 42, message_id: '5f3a9c01' }],
    },
    {
      ours: makePdu('enquire_link', {}, { sequence_number: 0x7fffffff }),
      theirs: ['enquire_link', { sequence_number: 0x7fffffff }],
    },
  ];

  for (const { ours, theirs } of pairs) {
    it(`${ours.command}: our bytes equal theirs`, () => {
      const [command, fields] = theirs;
      const expected = new ForeignPdu(command, fields).toBuffer();
      expect(encodePdu(ours).toString('hex')).toBe(expected.toString('hex'));
    });

    it(`${ours.command}: we decode their bytes`, () => {
      const [command, fields] = theirs;
      expect(decodePdu(new ForeignPdu(command, fields).toBuffer())).toStrictEqual(ours);
    });

    it(`${ours.command}: they decode our bytes`, () => {
      const decoded = new ForeignPdu(encodePdu(ours));
      expect(decoded.command).toBe(ours.command);
      expect(decoded.command_length).toBe(encodePdu(ours).length);
      expect(decoded.sequence_number).toBe(ours.sequence_number);
      expect(decoded.command_status).toBe(ours.command_status);
      for (const [key, value] of Object.entries(ours)) {
        if (key === 'command' || key === 'tlvs') continue;
        if (key === 'short_message') {
          // The package decodes short_message to text by data_coding; ours are ASCII texts.
          expect(decoded.short_message, key).toEqual({ message: (value as Buffer).toString('latin1') });
          continue;
        }
        expect(decoded[key], key).toEqual(value);
      }
      for (const [key, value] of Object.entries(ours.tlvs)) expect(decoded[key], key).toEqual(value);
    });
  }
});
