/**
 * How both stores write an Idempotency-Key's binding: one string, `<message id> <fingerprint>`,
 * with a leading `?` while the request that bound it is still being accepted (claimed, not yet
 * confirmed). A value without a space was written before fingerprints: a confirmed binding whose
 * request is not known.
 */
import type { IdempotencyBinding, IdempotencyClaim } from './types.js';

const PENDING = '?';

export function encodeBinding(claim: IdempotencyClaim, pending: boolean): string {
  return `${pending ? PENDING : ''}${claim.messageId} ${claim.fingerprint}`;
}

export function parseBinding(value: string): IdempotencyBinding {
  const pending = value.startsWith(PENDING);
  const rest = pending ? value.slice(PENDING.length) : value;
  const space = rest.indexOf(' ');
  return space < 0
    ? { messageId: rest, fingerprint: null, pending }
    : { messageId: rest.slice(0, space), fingerprint: rest.slice(space + 1), pending };
}
