/**
 * SMPP v3.4 numbers: command ids (§5.1.2.1), command_status values (§5.1.3), TLV tags (§5.3.2),
 * and the field values the rest of sluice reads (esm_class, registered_delivery, message_state).
 */

export const CommandId = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_receiver_resp: 0x80000001,
  bind_transmitter: 0x00000002,
  bind_transmitter_resp: 0x80000002,
  query_sm: 0x00000003,
  query_sm_resp: 0x80000003,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  replace_sm: 0x00000007,
  replace_sm_resp: 0x80000007,
  cancel_sm: 0x00000008,
  cancel_sm_resp: 0x80000008,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  outbind: 0x0000000b,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  submit_multi: 0x00000021,
  submit_multi_resp: 0x80000021,
  alert_notification: 0x00000102,
  data_sm: 0x00000103,
  data_sm_resp: 0x80000103,
} as const;

export type CommandName = keyof typeof CommandId;

const commandNames = new Map<number, CommandName>(
  Object.entries(CommandId).map(([name, id]) => [id, name as CommandName]),
);

/** The command name for an id, or undefined for an id SMPP v3.4 does not define. */
export function commandName(id: number): CommandName | undefined {
  return commandNames.get(id);
}

/** Responses are the request id with the top bit set (§5.1.2.1). */
export const RESPONSE_BIT = 0x80000000;

export function isResponseId(id: number): boolean {
  return (id & RESPONSE_BIT) !== 0;
}

export const CommandStatus = {
  ESME_ROK: 0x00000000,
  ESME_RINVMSGLEN: 0x00000001,
  ESME_RINVCMDLEN: 0x00000002,
  ESME_RINVCMDID: 0x00000003,
  ESME_RINVBNDSTS: 0x00000004,
  ESME_RALYBND: 0x00000005,
  ESME_RINVPRTFLG: 0x00000006,
  ESME_RINVREGDLVFLG: 0x00000007,
  ESME_RSYSERR: 0x00000008,
  ESME_RINVSRCADR: 0x0000000a,
  ESME_RINVDSTADR: 0x0000000b,
  ESME_RINVMSGID: 0x0000000c,
  ESME_RBINDFAIL: 0x0000000d,
  ESME_RINVPASWD: 0x0000000e,
  ESME_RINVSYSID: 0x0000000f,
  ESME_RCANCELFAIL: 0x00000011,
  ESME_RREPLACEFAIL: 0x00000013,
  ESME_RMSGQFUL: 0x00000014,
  ESME_RINVSERTYP: 0x00000015,
  ESME_RINVNUMDESTS: 0x00000033,
  ESME_RINVDLNAME: 0x00000034,
  ESME_RINVDESTFLAG: 0x00000040,
  ESME_RINVSUBREP: 0x00000042,
  ESME_RINVESMCLASS: 0x00000043,
  ESME_RCNTSUBDL: 0x00000044,
  ESME_RSUBMITFAIL: 0x00000045,
  ESME_RINVSRCTON: 0x00000048,
  ESME_RINVSRCNPI: 0x00000049,
  ESME_RINVDSTTON: 0x00000050,
  ESME_RINVDSTNPI: 0x00000051,
  ESME_RINVSYSTYP: 0x00000053,
  ESME_RINVREPFLAG: 0x00000054,
  ESME_RINVNUMMSGS: 0x00000055,
  ESME_RTHROTTLED: 0x00000058,
  ESME_RINVSCHED: 0x00000061,
  ESME_RINVEXPIRY: 0x00000062,
  ESME_RINVDFTMSGID: 0x00000063,
  ESME_RX_T_APPN: 0x00000064,
  ESME_RX_P_APPN: 0x00000065,
  ESME_RX_R_APPN: 0x00000066,
  ESME_RQUERYFAIL: 0x00000067,
  ESME_RINVOPTPARSTREAM: 0x000000c0,
  ESME_ROPTPARNOTALLWD: 0x000000c1,
  ESME_RINVPARLEN: 0x000000c2,
  ESME_RMISSINGOPTPARAM: 0x000000c3,
  ESME_RINVOPTPARAMVAL: 0x000000c4,
  ESME_RDELIVERYFAILURE: 0x000000fe,
  ESME_RUNKNOWNERR: 0x000000ff,
} as const;

export type CommandStatusName = keyof typeof CommandStatus;

const statusNames = new Map<number, CommandStatusName>(
  Object.entries(CommandStatus).map(([name, value]) => [value, name as CommandStatusName]),
);

/** The ESME_* name of a status, or its hex form for vendor-specific values (0x400–0x4FF). */
export function statusName(status: number): string {
  return statusNames.get(status) ?? `0x${status.toString(16).padStart(8, '0')}`;
}

/**
 * Statuses after which the same request may succeed later: the SMSC is throttling (0x58), its queue
 * is full (0x14), it had a system error (0x08), or a temporary application error (0x64).
 * Everything else is a verdict on the message itself.
 */
const retryableStatuses = new Set<number>([
  CommandStatus.ESME_RTHROTTLED,
  CommandStatus.ESME_RMSGQFUL,
  CommandStatus.ESME_RSYSERR,
  CommandStatus.ESME_RX_T_APPN,
]);

export function isRetryableStatus(status: number): boolean {
  return retryableStatuses.has(status);
}

/** TLV tags of SMPP v3.4 §5.3.2, each with the type of its value. */
export const TlvTag = {
  dest_addr_subunit: 0x0005,
  dest_network_type: 0x0006,
  dest_bearer_type: 0x0007,
  dest_telematics_id: 0x0008,
  source_addr_subunit: 0x000d,
  source_network_type: 0x000e,
  source_bearer_type: 0x000f,
  source_telematics_id: 0x0010,
  qos_time_to_live: 0x0017,
  payload_type: 0x0019,
  additional_status_info_text: 0x001d,
  receipted_message_id: 0x001e,
  ms_msg_wait_facilities: 0x0030,
  privacy_indicator: 0x0201,
  source_subaddress: 0x0202,
  dest_subaddress: 0x0203,
  user_message_reference: 0x0204,
  user_response_code: 0x0205,
  source_port: 0x020a,
  destination_port: 0x020b,
  sar_msg_ref_num: 0x020c,
  language_indicator: 0x020d,
  sar_total_segments: 0x020e,
  sar_segment_seqnum: 0x020f,
  sc_interface_version: 0x0210,
  callback_num_pres_ind: 0x0302,
  callback_num_atag: 0x0303,
  number_of_messages: 0x0304,
  callback_num: 0x0381,
  dpf_result: 0x0420,
  set_dpf: 0x0421,
  ms_availability_status: 0x0422,
  network_error_code: 0x0423,
  message_payload: 0x0424,
  delivery_failure_reason: 0x0425,
  more_messages_to_send: 0x0426,
  message_state: 0x0427,
  ussd_service_op: 0x0501,
  display_time: 0x1201,
  sms_signal: 0x1203,
  ms_validity: 0x1204,
  alert_on_message_delivery: 0x130c,
  its_reply_type: 0x1380,
  its_session_info: 0x1383,
} as const;

export type TlvName = keyof typeof TlvTag;

/** esm_class bits (§5.2.12). */
export const EsmClass = {
  /** Bits 5-2 = 0001: the deliver_sm is an SMSC delivery receipt. */
  DELIVERY_RECEIPT: 0x04,
  /** Bit 6: short_message starts with a User Data Header. */
  UDHI: 0x40,
  /** Bit 7: reply path. */
  REPLY_PATH: 0x80,
} as const;

/** Bits 5-2 of esm_class: the message type. */
export const ESM_CLASS_TYPE_MASK = 0x3c;

/** message_state values (§5.2.28) as carried by the message_state TLV and query_sm_resp. */
export const MessageState = {
  ENROUTE: 1,
  DELIVERED: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIVERABLE: 5,
  ACCEPTED: 6,
  UNKNOWN: 7,
  REJECTED: 8,
} as const;

/** The SMPP version sluice speaks, as interface_version / sc_interface_version (§5.2.4). */
export const SMPP_VERSION_34 = 0x34;

/** data_coding values sluice reads and writes (§5.2.19). */
export const DataCoding = {
  SMSC_DEFAULT: 0x00,
  IA5: 0x01,
  BINARY_2: 0x02,
  LATIN1: 0x03,
  BINARY: 0x04,
  UCS2: 0x08,
} as const;
