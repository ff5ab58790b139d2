/**
 * Types for the parts of the `smpp` npm package (node-smpp 0.5.1, CommonJS, untyped) that the
 * interop tests use. Field names are the package's own (SMPP v5.0 names, e.g. `dest_port`).
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  export type PduCommand =
    | 'generic_nack'
    | 'bind_receiver'
    | 'bind_receiver_resp'
    | 'bind_transmitter'
    | 'bind_transmitter_resp'
    | 'bind_transceiver'
    | 'bind_transceiver_resp'
    | 'outbind'
    | 'unbind'
    | 'unbind_resp'
    | 'enquire_link'
    | 'enquire_link_resp'
    | 'submit_sm'
    | 'submit_sm_resp'
    | 'deliver_sm'
    | 'deliver_sm_resp'
    | 'data_sm'
    | 'data_sm_resp'
    | 'query_sm'
    | 'query_sm_resp'
    | 'alert_notification'
    | 'broadcast_sm'
    | 'unknown';

  /** short_message / message_payload as given: bytes, text (encoded by the package), or UDH + text. */
  export type MessageInput = Buffer | string | { udh: Buffer; message: string | Buffer };

  /** short_message as decoded by the package: the UDH split into its information elements. */
  export interface DecodedMessage {
    udh?: Buffer[];
    message: string | Buffer;
  }

  /** Options of `new PDU(command, options)`: mandatory fields and TLVs by name. */
  export interface PduOptions {
    command_status?: number;
    sequence_number?: number;
    system_id?: string;
    password?: string;
    system_type?: string;
    interface_version?: number;
    message_id?: string;
    service_type?: string;
    source_addr_ton?: number;
    source_addr_npi?: number;
    source_addr?: string;
    dest_addr_ton?: number;
    dest_addr_npi?: number;
    destination_addr?: string;
    esm_class?: number;
    protocol_id?: number;
    priority_flag?: number;
    schedule_delivery_time?: string | Date;
    validity_period?: string | Date;
    registered_delivery?: number;
    data_coding?: number;
    short_message?: MessageInput;
    // TLVs
    user_message_reference?: number;
    source_port?: number;
    dest_port?: number;
    sar_msg_ref_num?: number;
    sar_total_segments?: number;
    sar_segment_seqnum?: number;
    receipted_message_id?: string;
    message_state?: number;
    message_payload?: MessageInput;
    [tlv: string]: string | number | Buffer | Date | MessageInput | undefined;
  }

  export interface PDU {
    command: PduCommand;
    command_length: number;
    command_id: number;
    command_status: number;
    sequence_number: number;
    system_id?: string;
    password?: string;
    interface_version?: number;
    message_id?: string;
    source_addr?: string;
    destination_addr?: string;
    esm_class?: number;
    registered_delivery?: number;
    data_coding?: number;
    short_message?: DecodedMessage;
    receipted_message_id?: string;
    message_state?: number;
    message_payload?: DecodedMessage;
    sc_interface_version?: number;
    isResponse(): boolean;
    response(options?: PduOptions): PDU;
    toBuffer(): Buffer;
  }

  export interface PduConstructor {
    new (command: PduCommand, options?: PduOptions): PDU;
    /** Largest command_length the package accepts. */
    maxLength: number;
  }

  export type SessionEvents = { [C in PduCommand]: [pdu: PDU] } & {
    pdu: [pdu: PDU];
    send: [pdu: PDU];
    connect: [];
    close: [];
    error: [error: Error];
  };

  type ResponseCallback = (pdu: PDU) => void;
  type Shortcut = (options?: PduOptions, onResponse?: ResponseCallback) => boolean;

  export interface Session extends EventEmitter<SessionEvents> {
    readonly socket: Socket;
    /** Sends a request (its response goes to `onResponse`) or a response. False when not writable. */
    send(pdu: PDU, onResponse?: ResponseCallback, onSent?: ResponseCallback): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    bind_transceiver: Shortcut;
    submit_sm: Shortcut;
    deliver_sm: Shortcut;
    enquire_link: Shortcut;
    unbind: Shortcut;
  }

  export interface Server extends NetServer {
    readonly sessions: Session[];
    on(event: 'session', listener: (session: Session) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export interface TlvType {
    read(buffer: Buffer, offset: number, length: number): unknown;
  }

  export interface SmppModule {
    connect(options: { url: string; auto_enquire_link_period?: number }, onConnect?: () => void): Session;
    createServer(onSession: (session: Session) => void): Server;
    /** Registers a TLV the package does not define (a vendor TLV). */
    addTLV(name: string, options: { id: number; type: TlvType }): void;
    readonly PDU: PduConstructor;
    readonly types: { tlv: { int8: TlvType; int16: TlvType; buffer: TlvType; cstring: TlvType } };
    readonly ESME_ROK: number;
    readonly ESME_RINVBNDSTS: number;
    readonly ESME_RINVPASWD: number;
    readonly ESME_RINVCMDID: number;
    readonly ESME_RTHROTTLED: number;
  }

  const smpp: SmppModule;
  export default smpp;
}
