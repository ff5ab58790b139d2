/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual: hashing first gives
 * equal-length buffers (timingSafeEqual requires them) and keeps the key's length out of the timing.
 * Every key is compared on every request, so the time does not depend on which key matched either.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../config/types.js';
import type { Account } from '../core/api.js';

/** The outcome of reading an Authorization header. */
export type AuthResult = Account | 'missing' | 'invalid';

interface KeyEntry {
  digest: Buffer;
  account: Account;
}

export interface KeyTable {
  authenticate(authorization: string): AuthResult;
}

function sha256(text: string): Buffer {
  // crypto.hash (Node ≥ 20.12): one call, no Hash object; 1.8 µs a key here against 3.4 µs.
  return hash('sha256', text, 'buffer');
}

export function createKeyTable(keys: readonly ApiKeyConfig[]): KeyTable {
  // Built once: the Account handed to the core is the same frozen object on every request.
  const entries: KeyEntry[] = keys.map((k) => ({
    digest: sha256(k.key),
    account: Object.freeze({ name: k.name, senders: Object.freeze([...k.senders]) }),
  }));
  return {
    authenticate(authorization: string): AuthResult {
      // RFC 7235 §2.1: the scheme is case-insensitive. Any other scheme counts as no credentials
      // for ours (RFC 6750 §3.1: then no error code in the challenge).
      if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return 'missing';
      const token = authorization.slice(7).trim();
      if (token.length === 0) return 'missing';
      const digest = sha256(token);
      let found: Account | null = null;
      for (const e of entries) {
        if (timingSafeEqual(digest, e.digest) && found === null) found = e.account;
      }
      return found ?? 'invalid';
    },
  };
}
