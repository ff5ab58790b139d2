/**
 * The status lattice of ARCHITECTURE.md, as pure functions on a MessageRecord: a status only ever
 * moves up, every transition is recorded once with its time, and a message of N parts reaches its
 * final status only when every part has.
 */
import {
  isFinal,
  type MessageError,
  type MessageRecord,
  type MessageStatus,
  type PartState,
  STATUS_RANK,
} from './types.js';

/** Moves the message to `status` if that is a step up; returns whether it moved. */
export function transition(
  record: MessageRecord,
  status: MessageStatus,
  at: number,
  error?: MessageError,
): boolean {
  if (STATUS_RANK[status] <= STATUS_RANK[record.status]) return false;
  record.status = status;
  record.events.push({ status, at });
  if (error) record.error = error;
  return true;
}

const FINAL_PART: ReadonlySet<PartState> = new Set(['delivered', 'undelivered', 'failed', 'expired']);

export function isFinalPart(state: PartState): boolean {
  return FINAL_PART.has(state);
}

/** A part's submit_sm was answered with `smscId`. Once every part is, the message is `sent`. */
export function partSubmitted(record: MessageRecord, index: number, smscId: string, at: number): boolean {
  const part = record.parts[index];
  if (!part || part.smscId !== null) return false;
  part.smscId = smscId;
  part.submittedAt = at;
  if (part.state === 'pending') part.state = 'submitted';
  if (record.parts.every((p) => p.smscId !== null)) transition(record, 'sent', at);
  settle(record, at);
  return true;
}

/**
 * A part reached a final state (a receipt, a permanent submit error, expiry). When every part is
 * final the message takes its final status: delivered only if every part was delivered; else
 * failed, undelivered or expired, in that order of precedence.
 */
export function partFinal(
  record: MessageRecord,
  index: number,
  state: PartState,
  at: number,
  error: string | null,
): boolean {
  const part = record.parts[index];
  if (!part || isFinalPart(part.state)) return false;
  part.state = state;
  part.finalAt = at;
  part.error = error;
  settle(record, at);
  return true;
}

/** Gives the message its final status once every part has one. */
function settle(record: MessageRecord, at: number): void {
  if (isFinal(record.status) || !record.parts.every((p) => isFinalPart(p.state))) return;
  const states = new Set(record.parts.map((p) => p.state));
  const failedPart = record.parts.find((p) => p.state !== 'delivered');
  const error: MessageError | undefined = failedPart?.error
    ? {
        code: failedPart.error.split(' ')[0] ?? failedPart.error,
        message: `part ${failedPart.index + 1}: ${failedPart.error}`,
      }
    : undefined;
  let status: MessageStatus;
  if (states.size === 1 && states.has('delivered')) status = 'delivered';
  else if (states.has('failed')) status = 'failed';
  else if (states.has('undelivered')) status = 'undelivered';
  else status = 'expired';
  transition(record, status, at, error);
}

/**
 * The recipient opted out: the message ends blocked before any part was sent. Only from a status
 * below sent (once a part is out, there is nothing left to block).
 */
export function block(record: MessageRecord, at: number, scope: string): boolean {
  if (STATUS_RANK[record.status] >= STATUS_RANK.sent) return false;
  if (record.parts.some((p) => p.smscId !== null)) return false;
  const moved = transition(record, 'blocked', at, {
    code: 'SLUICE_ERR_OPTED_OUT',
    message: `the recipient opted out (${scope}); nothing was sent`,
  });
  if (moved) {
    record.reason = 'opted_out';
    record.heldUntil = null;
  }
  return moved;
}
