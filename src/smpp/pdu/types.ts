/**
 * PDU shapes. Field names are the SMPP v3.4 specification's own (snake_case), so every field can be
 * looked up in the spec by name; `command` names the PDU and discriminates the union.
 */
import type { CommandName } from '../constants.js';

export interface RawTlv {
  tag: number;
  value: Buffer;
}

/** Optional parameters (§5.3.2), typed by their spec definition. */
export interface Tlvs {
  dest_addr_subunit?: number;
  dest_network_type?: number;
  dest_bearer_type?: number;
  dest_telematics_id?: number;
  source_addr_subunit?: number;
  source_network_type?: number;
  source_bearer_type?: number;
  source_telematics_id?: number;
  qos_time_to_live?: number;
  payload_type?: number;
  additional_status_info_text?: string;
  receipted_message_id?: string;
  ms_msg_wait_facilities?: number;
  privacy_indicator?: number;
  source_subaddress?: Buffer;
  dest_subaddress?: Buffer;
  user_message_reference?: number;
  user_response_code?: number;
  source_port?: number;
  destination_port?: number;
  sar_msg_ref_num?: number;
  language_indicator?: number;
  sar_total_segments?: number;
  sar_segment_seqnum?: number;
  sc_interface_version?: number;
  callback_num_pres_ind?: number;
  callback_num_atag?: Buffer;
  number_of_messages?: number;
  callback_num?: Buffer;
  dpf_result?: number;
  set_dpf?: number;
  ms_availability_status?: number;
  network_error_code?: Buffer;
  message_payload?: Buffer;
  delivery_failure_reason?: number;
  more_messages_to_send?: number;
  message_state?: number;
  ussd_service_op?: number;
  display_time?: number;
  sms_signal?: number;
  ms_validity?: number;
  alert_on_message_delivery?: true;
  its_reply_type?: number;
  its_session_info?: Buffer;
  /** Tags this stack does not define (vendor TLVs), in wire order, kept byte for byte. */
  unknown?: RawTlv[];
}

export interface BindBody {
  system_id: string;
  password: string;
  system_type: string;
  interface_version: number;
  addr_ton: number;
  addr_npi: number;
  address_range: string;
}

export interface SystemIdBody {
  system_id: string;
}

export interface OutbindBody {
  system_id: string;
  password: string;
}

export interface MessageIdBody {
  message_id: string;
}

/** submit_sm and deliver_sm share one body (§4.4.1, §4.6.1). */
export interface ShortMessageBody {
  service_type: string;
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  dest_addr_ton: number;
  dest_addr_npi: number;
  destination_addr: string;
  esm_class: number;
  protocol_id: number;
  priority_flag: number;
  schedule_delivery_time: string;
  validity_period: string;
  registered_delivery: number;
  replace_if_present_flag: number;
  data_coding: number;
  sm_default_msg_id: number;
  /** sm_length is implied by the buffer's length (0..254). */
  short_message: Buffer;
}

export type DestAddress =
  | { dest_flag: 1; dest_addr_ton: number; dest_addr_npi: number; destination_addr: string }
  | { dest_flag: 2; dl_name: string };

/** submit_multi (§4.5.1): submit_sm's body with a list of destinations in place of one. */
export type SubmitMultiBody = Omit<
  ShortMessageBody,
  'dest_addr_ton' | 'dest_addr_npi' | 'destination_addr'
> & {
  dest_addresses: DestAddress[];
};

export interface UnsuccessSme {
  dest_addr_ton: number;
  dest_addr_npi: number;
  destination_addr: string;
  error_status_code: number;
}

export interface SubmitMultiRespBody {
  message_id: string;
  unsuccess_smes: UnsuccessSme[];
}

export interface DataSmBody {
  service_type: string;
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  dest_addr_ton: number;
  dest_addr_npi: number;
  destination_addr: string;
  esm_class: number;
  registered_delivery: number;
  data_coding: number;
}

export interface QuerySmBody {
  message_id: string;
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
}

export interface QuerySmRespBody {
  message_id: string;
  final_date: string;
  message_state: number;
  error_code: number;
}

export interface CancelSmBody {
  service_type: string;
  message_id: string;
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  dest_addr_ton: number;
  dest_addr_npi: number;
  destination_addr: string;
}

export interface ReplaceSmBody {
  message_id: string;
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  schedule_delivery_time: string;
  validity_period: string;
  registered_delivery: number;
  sm_default_msg_id: number;
  short_message: Buffer;
}

export interface AlertNotificationBody {
  source_addr_ton: number;
  source_addr_npi: number;
  source_addr: string;
  esme_addr_ton: number;
  esme_addr_npi: number;
  esme_addr: string;
}

// biome-ignore lint/complexity/noBannedTypes: the PDUs that carry no mandatory body fields.
type Empty = {};

/** The mandatory body of each PDU. */
export interface Bodies {
  generic_nack: Empty;
  bind_receiver: BindBody;
  bind_receiver_resp: SystemIdBody;
  bind_transmitter: BindBody;
  bind_transmitter_resp: SystemIdBody;
  bind_transceiver: BindBody;
  bind_transceiver_resp: SystemIdBody;
  outbind: OutbindBody;
  unbind: Empty;
  unbind_resp: Empty;
  enquire_link: Empty;
  enquire_link_resp: Empty;
  submit_sm: ShortMessageBody;
  submit_sm_resp: MessageIdBody;
  deliver_sm: ShortMessageBody;
  deliver_sm_resp: MessageIdBody;
  submit_multi: SubmitMultiBody;
  submit_multi_resp: SubmitMultiRespBody;
  data_sm: DataSmBody;
  data_sm_resp: MessageIdBody;
  query_sm: QuerySmBody;
  query_sm_resp: QuerySmRespBody;
  cancel_sm: CancelSmBody;
  cancel_sm_resp: Empty;
  replace_sm: ReplaceSmBody;
  replace_sm_resp: Empty;
  alert_notification: AlertNotificationBody;
}

export interface PduHeader<C extends CommandName = CommandName> {
  command: C;
  command_status: number;
  sequence_number: number;
  tlvs: Tlvs;
}

/** A PDU of command C; for a union of commands, the union of their PDUs. */
export type Pdu<C extends CommandName = CommandName> = C extends CommandName
  ? PduHeader<C> & Bodies[C]
  : never;

/** Every PDU as a union discriminated by `command`. */
export type AnyPdu = Pdu<CommandName>;

export type RequestName = {
  [C in CommandName]: C extends `${string}_resp` | 'generic_nack' ? never : C;
}[CommandName];

export type ResponseName = Exclude<CommandName, RequestName>;

/** The response command of each request: alert_notification and outbind have none. */
export type ResponseOf<C extends RequestName> = `${C}_resp` extends ResponseName ? `${C}_resp` : never;

/** What a caller gives to build a PDU: a body field left out takes its default. */
export type PduInput<C extends CommandName> = Partial<Bodies[C]> & { tlvs?: Tlvs };
