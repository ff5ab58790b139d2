/**
 * How long what the store keeps of a message lives: the configured TTL, or longer when the
 * message's validity runs past it. A record that lapsed while its message still waited (a long
 * validity, an SMSC down for days) would be acknowledged away unsent; a correlation that lapsed
 * before the SMSC's last receipt (it may come up to the validity's end) would leave the message
 * `sent` for ever. So each lives at least until a day after its message's validity ends.
 */

/** How long after a message's validity ends its record and correlations are kept, at least. */
export const AFTER_VALIDITY_SECONDS = 86_400;

/**
 * Seconds to keep something of a message valid until `validUntil` (ms), at least `ttlSeconds`.
 * Past the TTL, rounded up to a whole hour: the messages of a backlog then share a few values,
 * and the dispatcher writes the correlations of a turn in one call per value.
 */
export function retentionSeconds(ttlSeconds: number, validUntil: number, now: number): number {
  const needed = Math.ceil((validUntil - now) / 1000) + AFTER_VALIDITY_SECONDS;
  return needed <= ttlSeconds ? ttlSeconds : Math.ceil(needed / 3600) * 3600;
}
