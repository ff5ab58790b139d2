/**
 * The message as sluice keeps it, from intake to its final state. Shared by core, store and http.
 */

import type { QuietHours } from '../policy/quiet-hours.js';

/** Every status a message can have (see STATUS_RANK for the order). */
export const MESSAGE_STATUSES = [
  'accepted',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'expired',
  'rejected',
  'blocked',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * The status lattice: a message only ever moves to a higher rank. The five final statuses share
 * the top rank, so none replaces another.
 */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = {
  accepted: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  expired: 4,
  rejected: 4,
  blocked: 4,
};

export function isFinal(status: MessageStatus): boolean {
  return STATUS_RANK[status] === 4;
}

export type PartState = 'pending' | 'submitted' | 'delivered' | 'undelivered' | 'failed' | 'expired';

export interface PartRecord {
  /** 0-based. */
  index: number;
  /** Septets or UTF-16 code units in this part. */
  units: number;
  /** message_id from the SMSC's submit_sm_resp, once answered. */
  smscId: string | null;
  state: PartState;
  submittedAt: number | null;
  finalAt: number | null;
  /** Why it failed: an SMPP status name, or the receipt's stat and err. */
  error: string | null;
}

export interface MessageError {
  /** Stable: SLUICE_ERR_* or an SMPP status name. */
  code: string;
  message: string;
}

export interface StatusEvent {
  status: MessageStatus;
  at: number;
}

export interface MessageRecord {
  /** Sortable (ULID), minted at intake. */
  id: string;
  channel: 'sms';
  /** Name of the API key (or SMPP account) that submitted it. */
  account: string;
  from: string;
  /** E.164 without the '+'. */
  to: string;
  body: string;
  encoding: string;
  dataCoding: number;
  connector: string;
  reference: string | null;
  campaignId: string | null;
  callbackUrl: string | null;
  createdAt: number;
  /** ms since the epoch after which an unsent message expires. */
  validUntil: number;
  status: MessageStatus;
  /** Why: set with rejected, blocked, failed, undelivered, expired. */
  error: MessageError | null;
  parts: PartRecord[];
  /** Submit attempts of the whole message (retries after throttling or a lost bind count too). */
  attempts: number;
  /** Every transition, in order, each once. */
  events: StatusEvent[];
  /** Bumped on every write; the store's compare-and-set checks it. */
  version: number;
  /**
   * The text-engine choices intake made, so the dispatcher plans the same parts. Absent: 'auto'
   * and the sender's smart-encoding setting.
   */
  plan?: { encoding: 'auto' | 'gsm7' | 'ucs2'; smartEncoding: boolean };
  /**
   * Why the message waits (status queued: 'quiet_hours', 'rate_limit') or why it was blocked
   * ('opted_out'). Absent or null: nothing holds it.
   */
  reason?: HoldReason | null;
  /** ms since the epoch: when a held message is tried again. */
  heldUntil?: number | null;
  /** The request's quiet hours (a campaign's), replacing the sender's; false: none. */
  quietHours?: QuietHours | false;
  /**
   * ms since the epoch: when the message last became free to go (the end of a quiet-hours hold);
   * absent: createdAt. The sender's maximum queue age counts from here.
   */
  eligibleAt?: number;
  /**
   * A reply sluice sends to an inbound keyword (STOP's confirmation, HELP's text): it goes to a
   * number that may be opted out, at any hour, as carriers require.
   */
  keywordReply?: boolean;
}

export type HoldReason = 'opted_out' | 'quiet_hours' | 'rate_limit';

/**
 * A copy that shares nothing the lattice and the dispatcher change in place (the parts, the
 * events list); the objects they replace whole (error, plan, quietHours, each event) are shared.
 * Costs a fraction of a JSON round trip.
 */
export function copyRecord(record: MessageRecord): MessageRecord {
  const parts = new Array<PartRecord>(record.parts.length);
  for (let i = 0; i < parts.length; i++) parts[i] = { ...record.parts[i]! };
  return { ...record, parts, events: record.events.slice() };
}

export type { QuietHours };

/** Where a receipt lands: a part of a message. */
export interface PartRef {
  messageId: string;
  part: number;
}
