/**
 * How long what the store keeps of a message lives: the configured TTL, or longer when the
 * message's validity runs past it. A record that lapsed while its message still waited (a long
 * validity, an SMSC down for days) would be acknowledged away unsent; a correlation that lapsed
 * before the SMSC's last receipt (it may come up to the validity's end) would leave the message
 * `sent` for ever. So each lives at least until a day after its message's validity ends.
 */

/** How long after a message's validity ends its record and correlations are kept, at least. */
export const AFTER_VALIDITY_SECONDS = 86_400;

/** Seconds to keep something of a message valid until `validUntil` (ms), at least `ttlSeconds`. */
export function retentionSeconds(ttlSeconds: number, validUntil: number, now: number): number {
  return Math.max(ttlSeconds, Math.ceil((validUntil - now) / 1000) + AFTER_VALIDITY_SECONDS);
}
