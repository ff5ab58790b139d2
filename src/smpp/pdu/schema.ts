/**
 * The mandatory body of every PDU as data: field, wire type, maximum length including the NUL
 * (§4 tables, "Size octets"), and the command_status a bad value earns. One generic encoder and
 * decoder walk these lists, so a PDU is defined once.
 */
import { type CommandName, CommandStatus as S, type TlvName, TlvTag } from '../constants.js';

export type FieldSpec =
  | { name: string; type: 'u8' | 'u16' | 'u32' }
  /** C-Octet String: `max` counts the terminating NUL; `status` answers a value that breaks it. */
  | { name: string; type: 'cstr'; max: number; status: number }
  /** Absolute or relative time (§7.1): empty, or exactly 16 characters. */
  | { name: string; type: 'time'; status: number }
  /** sm_length followed by short_message. */
  | { name: 'short_message'; type: 'sm' }
  /** number_of_dests followed by dest_address entries (submit_multi). */
  | { name: 'dest_addresses'; type: 'dests' }
  /** no_unsuccess followed by unsuccess_sme entries (submit_multi_resp). */
  | { name: 'unsuccess_smes'; type: 'unsuccess' };

const u8 = (name: string): FieldSpec => ({ name, type: 'u8' });
const cstr = (name: string, max: number, status: number): FieldSpec => ({ name, type: 'cstr', max, status });
const time = (name: string, status: number): FieldSpec => ({ name, type: 'time', status });

const serviceType = cstr('service_type', 6, S.ESME_RINVSERTYP);
const messageId = cstr('message_id', 65, S.ESME_RINVMSGID);
const source21 = [u8('source_addr_ton'), u8('source_addr_npi'), cstr('source_addr', 21, S.ESME_RINVSRCADR)];
const source65 = [u8('source_addr_ton'), u8('source_addr_npi'), cstr('source_addr', 65, S.ESME_RINVSRCADR)];
const dest21 = [u8('dest_addr_ton'), u8('dest_addr_npi'), cstr('destination_addr', 21, S.ESME_RINVDSTADR)];
const dest65 = [u8('dest_addr_ton'), u8('dest_addr_npi'), cstr('destination_addr', 65, S.ESME_RINVDSTADR)];
const schedule = time('schedule_delivery_time', S.ESME_RINVSCHED);
const validity = time('validity_period', S.ESME_RINVEXPIRY);
const sm: FieldSpec = { name: 'short_message', type: 'sm' };

const bind: FieldSpec[] = [
  cstr('system_id', 16, S.ESME_RINVSYSID),
  cstr('password', 9, S.ESME_RINVPASWD),
  cstr('system_type', 13, S.ESME_RINVSYSTYP),
  u8('interface_version'),
  u8('addr_ton'),
  u8('addr_npi'),
  cstr('address_range', 41, S.ESME_RINVSRCADR),
];
const bindResp: FieldSpec[] = [cstr('system_id', 16, S.ESME_RINVSYSID)];

/** What follows the destination in submit_sm (§4.4.1), deliver_sm (§4.6.1) and submit_multi (§4.5.1). */
const messageTail: FieldSpec[] = [
  u8('esm_class'),
  u8('protocol_id'),
  u8('priority_flag'),
  schedule,
  validity,
  u8('registered_delivery'),
  u8('replace_if_present_flag'),
  u8('data_coding'),
  u8('sm_default_msg_id'),
  sm,
];

/** submit_sm §4.4.1 and deliver_sm §4.6.1. */
const shortMessage: FieldSpec[] = [serviceType, ...source21, ...dest21, ...messageTail];

export const bodySchemas: Record<CommandName, readonly FieldSpec[]> = {
  generic_nack: [],
  bind_receiver: bind,
  bind_receiver_resp: bindResp,
  bind_transmitter: bind,
  bind_transmitter_resp: bindResp,
  bind_transceiver: bind,
  bind_transceiver_resp: bindResp,
  outbind: [cstr('system_id', 16, S.ESME_RINVSYSID), cstr('password', 9, S.ESME_RINVPASWD)],
  unbind: [],
  unbind_resp: [],
  enquire_link: [],
  enquire_link_resp: [],
  submit_sm: shortMessage,
  submit_sm_resp: [messageId],
  deliver_sm: shortMessage,
  deliver_sm_resp: [messageId],
  submit_multi: [serviceType, ...source21, { name: 'dest_addresses', type: 'dests' }, ...messageTail],
  submit_multi_resp: [messageId, { name: 'unsuccess_smes', type: 'unsuccess' }],
  data_sm: [
    serviceType,
    ...source65,
    ...dest65,
    u8('esm_class'),
    u8('registered_delivery'),
    u8('data_coding'),
  ],
  data_sm_resp: [messageId],
  query_sm: [messageId, ...source21],
  query_sm_resp: [messageId, time('final_date', S.ESME_RINVMSGID), u8('message_state'), u8('error_code')],
  cancel_sm: [serviceType, messageId, ...source21, ...dest21],
  cancel_sm_resp: [],
  replace_sm: [
    messageId,
    ...source21,
    schedule,
    validity,
    u8('registered_delivery'),
    u8('sm_default_msg_id'),
    sm,
  ],
  replace_sm_resp: [],
  alert_notification: [
    ...source65,
    u8('esme_addr_ton'),
    u8('esme_addr_npi'),
    cstr('esme_addr', 65, S.ESME_RINVDSTADR),
  ],
};

/** The default value of a field left out of a PduInput. */
export function defaultValue(field: FieldSpec): unknown {
  switch (field.type) {
    case 'u8':
    case 'u16':
    case 'u32':
      return 0;
    case 'cstr':
    case 'time':
      return '';
    case 'sm':
      return EMPTY;
    case 'dests':
    case 'unsuccess':
      return [];
  }
}

export const EMPTY: Buffer = Buffer.alloc(0);

export type TlvType = 'u8' | 'u16' | 'u32' | 'cstr' | 'octets' | 'flag';

/** Value type of each known TLV (§5.3.2); sizes of integer TLVs are enforced on decode. */
export const tlvTypes: Record<TlvName, TlvType> = {
  dest_addr_subunit: 'u8',
  dest_network_type: 'u8',
  dest_bearer_type: 'u8',
  dest_telematics_id: 'u16',
  source_addr_subunit: 'u8',
  source_network_type: 'u8',
  source_bearer_type: 'u8',
  source_telematics_id: 'u8',
  qos_time_to_live: 'u32',
  payload_type: 'u8',
  additional_status_info_text: 'cstr',
  receipted_message_id: 'cstr',
  ms_msg_wait_facilities: 'u8',
  privacy_indicator: 'u8',
  source_subaddress: 'octets',
  dest_subaddress: 'octets',
  user_message_reference: 'u16',
  user_response_code: 'u8',
  source_port: 'u16',
  destination_port: 'u16',
  sar_msg_ref_num: 'u16',
  language_indicator: 'u8',
  sar_total_segments: 'u8',
  sar_segment_seqnum: 'u8',
  sc_interface_version: 'u8',
  callback_num_pres_ind: 'u8',
  callback_num_atag: 'octets',
  number_of_messages: 'u8',
  callback_num: 'octets',
  dpf_result: 'u8',
  set_dpf: 'u8',
  ms_availability_status: 'u8',
  network_error_code: 'octets',
  message_payload: 'octets',
  delivery_failure_reason: 'u8',
  more_messages_to_send: 'u8',
  message_state: 'u8',
  ussd_service_op: 'u8',
  display_time: 'u8',
  sms_signal: 'u16',
  ms_validity: 'u8',
  alert_on_message_delivery: 'flag',
  its_reply_type: 'u8',
  its_session_info: 'octets',
};

export interface TlvDef {
  name: TlvName;
  tag: number;
  type: TlvType;
}

/** Known TLVs by tag, for the decoder. */
export const tlvByTag = new Map<number, TlvDef>(
  (Object.keys(TlvTag) as TlvName[]).map((name) => [
    TlvTag[name],
    { name, tag: TlvTag[name], type: tlvTypes[name] },
  ]),
);

/** Known TLVs by name, for the encoder. */
export const tlvByName = new Map<string, TlvDef>([...tlvByTag.values()].map((d) => [d.name, d]));
