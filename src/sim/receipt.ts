/**
 * Delivery receipt text as SMSCs write it (SMPP v3.4 Appendix B): the simulator formats it here, in
 * the form carriers use, and with the id forms that make correlation hard in practice.
 */

export type IdFormat = 'hex' | 'dec' | 'uuid';
export type ReceiptIdFormat = 'hex' | 'dec' | 'same';

export type ReceiptStat =
  | 'DELIVRD'
  | 'EXPIRED'
  | 'DELETED'
  | 'UNDELIV'
  | 'ACCEPTD'
  | 'UNKNOWN'
  | 'REJECTD'
  | 'ENROUTE';

/**
 * The message_id of submit_sm_resp for the n-th message. hex: 10+ lowercase digits, zero-padded
 * (as many SMSCs answer); dec: plain decimal; uuid: a random UUID.
 */
export function formatMessageId(n: number, format: IdFormat, uuid: () => string): string {
  switch (format) {
    case 'hex':
      return n.toString(16).padStart(10, '0');
    case 'dec':
      return n.toString(10);
    case 'uuid':
      return uuid();
  }
}

/**
 * The id written in the receipt for a message whose submit_sm_resp said `submitId`. The hex form
 * drops the leading zeros and changes case, and dec turns hex into decimal: the mismatches real
 * carriers show between the two PDUs.
 */
export function formatReceiptId(
  submitId: string,
  n: number,
  idFormat: IdFormat,
  format: ReceiptIdFormat,
): string {
  if (format === 'same') return submitId;
  if (idFormat === 'uuid') {
    const hex = submitId.replaceAll('-', '');
    return format === 'hex' ? hex.toUpperCase() : BigInt(`0x${hex}`).toString(10);
  }
  return format === 'hex' ? n.toString(16).toUpperCase() : n.toString(10);
}

/** YYMMDDhhmm in UTC, the date form of the receipt text. */
export function receiptDate(ms: number): string {
  const d = new Date(ms);
  const p = (v: number) => String(v).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

export interface ReceiptFields {
  id: string;
  submitted: number;
  done: number;
  stat: ReceiptStat;
  err: number;
  text: string;
}

export function formatReceipt(r: ReceiptFields): string {
  const dlvrd = r.stat === 'DELIVRD' ? '001' : '000';
  const err = String(r.err).padStart(3, '0');
  return `id:${r.id} sub:001 dlvrd:${dlvrd} submit date:${receiptDate(r.submitted)} done date:${receiptDate(r.done)} stat:${r.stat} err:${err} text:${r.text.slice(0, 20)}`;
}
