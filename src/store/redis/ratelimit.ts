/**
 * Rate limits shared by every instance: the GCRA state of each key in Redis, one string per key at
 * `<prefix>:rl:{<key>}`, stepped by one Lua script per key (atomic: two instances never both spend
 * the last token). The hash tag is the limit key, so under Redis Cluster the keys spread over the
 * slots and each script touches one. The requests of one take() are issued in the same tick, so
 * ioredis's auto-pipelining sends them as one write: one round trip for the whole batch.
 */
import type { Redis } from 'ioredis';
import {
  checkTakeRequest,
  IDLE_MARGIN_MS,
  type RateLimitStore,
  type TakeRequest,
  type TakeResult,
} from '../../policy/ratelimit.js';
import { RedisKeys } from './keys.js';
import { runScript, script } from './lua.js';

/**
 * KEYS[1]: the limit's key. ARGV: now (ms, the caller's clock), perSecond, burst, want, margin
 * (ms kept past the TAT). Returns { granted, waitMs }.
 *
 * gcraStep of policy/ratelimit.ts, operation for operation in the same order, so the memory store
 * and this one round alike; change them together. The value is "anchor count perSecond", written
 * with %.17g, which reads back as the same double (Lua's tostring keeps only 14 digits). A value
 * that does not parse is treated as no state: the limit starts afresh rather than failing forever.
 * Nothing is written when nothing is granted, so a throttled key's TTL is not extended by asking.
 */
export const GCRA_TAKE = script(
  'gcra-take',
  `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local anchor, count = now, 0
local v = redis.call('GET', KEYS[1])
if v then
  local a, c, r = string.match(v, '^(%S+) (%S+) (%S+)$')
  a, c, r = tonumber(a), tonumber(c), tonumber(r)
  if a and c and r then
    if r ~= rate then
      a = a + c * 1000 / r
      c = 0
    end
    if c * 1000 > (now - a) * rate then
      anchor, count = a, c
    end
  end
end
local elapsed = now - anchor
local available = math.floor(elapsed * rate / 1000) + burst - count
local granted = math.max(0, math.min(want, available))
local total = count + granted
local wait = 0
if granted < want then
  local need = total + 1 - burst
  wait = math.max(1, math.ceil(need * 1000 / rate - elapsed))
  while wait > 1 and math.floor((elapsed + wait - 1) * rate / 1000) >= need do wait = wait - 1 end
  while math.floor((elapsed + wait) * rate / 1000) < need do wait = wait + 1 end
end
if granted > 0 then
  local ttl = math.ceil(total * 1000 / rate - elapsed) + tonumber(ARGV[5])
  redis.call('SET', KEYS[1], string.format('%.17g %.17g %.17g', anchor, total, rate), 'PX', string.format('%d', ttl))
end
return { granted, wait }
`,
);

function parseReply(reply: unknown): TakeResult {
  if (!Array.isArray(reply) || reply.length !== 2) {
    throw new Error(`redis rate limit: unexpected script reply ${JSON.stringify(reply)}`);
  }
  return { granted: Number(reply[0]), waitMs: Number(reply[1]) };
}

export class RedisRateLimitStore implements RateLimitStore {
  /** The key prefix, without a trailing ':' (as RedisKeys normalises it). */
  readonly prefix: string;
  readonly #redis: Redis;

  /**
   * `redis`: a connection owned by the caller (who closes it), speaking RESP2 with
   * enableAutoPipelining on; without auto-pipelining a take() of many keys costs one round trip
   * per key. While it reconnects, take() waits in ioredis's offline queue as its options say.
   */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    // RedisKeys checks the prefix (non-empty, no braces) and drops a trailing ':'.
    this.prefix = new RedisKeys(prefix).prefix;
  }

  /** The Redis key of a limit key. */
  key(limitKey: string): string {
    return `${this.prefix}:rl:{${limitKey}}`;
  }

  async take(requests: readonly TakeRequest[]): Promise<TakeResult[]> {
    for (const r of requests) checkTakeRequest(r);
    const replies = await Promise.all(
      requests.map((r) =>
        runScript(
          this.#redis,
          GCRA_TAKE,
          [this.key(r.key)],
          [r.now, r.limit.perSecond, r.limit.burst, r.want, IDLE_MARGIN_MS],
        ),
      ),
    );
    return replies.map(parseReply);
  }
}
