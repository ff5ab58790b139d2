/**
 * Delivery receipt text (SMPP v3.4 Appendix B) as SMSCs really write it:
 *   id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
 * Keys in any case, fields missing or in another order, seconds in the dates, extra vendor fields.
 * Only `id` and `stat` are needed; everything else is optional.
 */

export interface ReceiptText {
  id: string;
  /** Upper case: DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE (or a vendor's). */
  stat: string;
  err: string | null;
  sub: string | null;
  dlvrd: string | null;
  submitDate: string | null;
  doneDate: string | null;
  text: string | null;
}

const ID = /(?:^|\s)id:\s*(\S+)/i;
const STAT = /(?:^|\s)stat:\s*([A-Za-z_]+)/i;
const ERR = /(?:^|\s)err:\s*([0-9A-Za-z]+)/i;
const SUB = /(?:^|\s)sub:\s*(\d+)/i;
const DLVRD = /(?:^|\s)dlvrd:\s*(\d+)/i;
const SUBMIT_DATE = /(?:^|\s)submit[ _]date:\s*(\d{10,12})/i;
const DONE_DATE = /(?:^|\s)done[ _]date:\s*(\d{10,12})/i;
const TEXT = /(?:^|\s)text:(.*)$/is;

/** Longest receipt text looked at: the spec's is under 200 characters; vendors add some. */
const MAX_LENGTH = 1024;

/** The fields of a receipt text, or null when it has no id or no stat (not a receipt). */
export function parseReceiptText(input: string): ReceiptText | null {
  const text = input.length > MAX_LENGTH ? input.slice(0, MAX_LENGTH) : input;
  const id = ID.exec(text)?.[1];
  const stat = STAT.exec(text)?.[1];
  if (!id || !stat) return null;
  return {
    id,
    stat: stat.toUpperCase(),
    err: ERR.exec(text)?.[1] ?? null,
    sub: SUB.exec(text)?.[1] ?? null,
    dlvrd: DLVRD.exec(text)?.[1] ?? null,
    submitDate: SUBMIT_DATE.exec(text)?.[1] ?? null,
    doneDate: DONE_DATE.exec(text)?.[1] ?? null,
    text: TEXT.exec(text)?.[1] ?? null,
  };
}

export type ReceiptOutcome = 'delivered' | 'undelivered' | 'expired' | 'pending';

/** What a receipt's stat says of the message part. */
export function outcomeOfStat(stat: string): ReceiptOutcome {
  switch (stat) {
    case 'DELIVRD':
    case 'DELIVERED':
      return 'delivered';
    case 'EXPIRED':
      return 'expired';
    case 'UNDELIV':
    case 'UNDELIVERABLE':
    case 'REJECTD':
    case 'REJECTED':
    case 'DELETED':
      return 'undelivered';
    default:
      // ACCEPTD, ENROUTE, UNKNOWN and vendor states: not a final answer.
      return 'pending';
  }
}

/** What the message_state TLV (§5.2.28) says of the message part. */
export function outcomeOfMessageState(state: number): ReceiptOutcome {
  switch (state) {
    case 2:
      return 'delivered';
    case 3:
      return 'expired';
    case 4:
    case 5:
    case 8:
      return 'undelivered';
    default:
      return 'pending';
  }
}

/**
 * SMSC message ids as stored: trimmed, lower case, leading zeros dropped. The submit_sm_resp
 * and the receipt of one message often differ exactly there.
 */
export function normalizeSmscId(id: string): string {
  const lower = id.trim().toLowerCase();
  const stripped = lower.replace(/^0+(?=.)/, '');
  return stripped;
}

/** How a receipt id was turned into a stored id. */
export type IdSpelling = 'as-written' | 'hex-read-as-decimal' | 'decimal-read-as-hex';

export interface IdCandidate {
  id: string;
  via: IdSpelling;
}

/**
 * The ids a receipt's id may have been stored as: as written (normalized); then, because many
 * SMSCs answer submit_sm in one base and write receipts in the other, the decimal reading of a
 * hex id and the hex reading of a decimal id. Which one is right is a property of the connector:
 * the receipt handler learns it and prefers it when several candidates match.
 */
export function receiptIdCandidates(id: string): IdCandidate[] {
  const norm = normalizeSmscId(id);
  const out: IdCandidate[] = [{ id: norm, via: 'as-written' }];
  // 2^64 fits 16 hex digits and 20 decimal ones; longer ids are not numbers in another base.
  if (/^[0-9a-f]{1,16}$/.test(norm)) {
    const dec = BigInt(`0x${norm}`).toString(10);
    if (dec !== norm) out.push({ id: dec, via: 'hex-read-as-decimal' });
  }
  if (/^[0-9]{1,20}$/.test(norm)) {
    const hex = BigInt(norm).toString(16);
    if (hex !== norm && !out.some((c) => c.id === hex)) out.push({ id: hex, via: 'decimal-read-as-hex' });
  }
  return out;
}
