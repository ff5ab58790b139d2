/**
 * The Lua scripts of the Redis store: every read-modify-write that must be atomic, and the claim
 * sequence, which is one round trip instead of four. Run through EVALSHA, falling back to EVAL
 * when the server does not have the script cached yet (after a restart or SCRIPT FLUSH).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** A script with its SHA-1, for EVALSHA (runScript); every Lua script of the Redis store is made here. */
export function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Enqueues the records of several callers at once, each caller's group all or nothing.
 * KEYS: record key and stream key of each record, in pairs, group after group. ARGV[1]: number
 * of groups G; ARGV[2..1+G]: records in each group; then message id, TTL in seconds and JSON of
 * each record, in triples. A group with a record that already exists (or that an earlier
 * group of this call wrote) writes nothing and answers that record's id (a string); the others
 * are written and answer the stream entry id of each record (a list). One answer per group.
 */
export const ENQUEUE = script(
  'enqueue',
  `
local groups = tonumber(ARGV[1])
local base = 1 + groups
local out = {}
local k = 0
for g = 1, groups do
  local n = tonumber(ARGV[1 + g])
  local ids = {}
  local dup = false
  for i = k + 1, k + n do
    local at = base + 3 * (i - 1)
    -- SET NX: the existence check and the write in one command.
    if redis.call('SET', KEYS[2 * i - 1], ARGV[at + 3], 'NX', 'EX', ARGV[at + 2]) then
      ids[i - k] = redis.call('XADD', KEYS[2 * i], '*', 'm', ARGV[at + 1])
    else
      dup = ARGV[at + 1]
      -- All or nothing: what the group wrote before it is taken back (the script is atomic, so
      -- nobody saw it).
      for j = k + 1, i - 1 do
        redis.call('DEL', KEYS[2 * j - 1])
        redis.call('XDEL', KEYS[2 * j], ids[j - k])
      end
      break
    end
  end
  out[g] = dup or ids
  k = k + n
end
return out
`,
);

/**
 * Compare-and-set of several records. KEYS: record keys, then the OUTBOX stream. ARGV, per
 * record: expected version, new JSON, the number N of outbox events, and those N events. A record
 * starts with its layout number and version, `[1,N,` (record.ts), or, written before that
 * layout, with {"version":N: an anchored match reads the version without decoding the record and
 * cannot be fooled by a "version" inside the body or a nested object. KEEPTTL: the record still
 * expires when it was first meant to. A record written appends its events to the outbox in the
 * same step. Returns 1 (written) or 0 (missing, or another version) per record, in order; a key
 * named twice is checked against what the first write left.
 */
export const COMPARE_AND_SET = script(
  'compareAndSet',
  `
local out = {}
local outbox = KEYS[#KEYS]
local a = 1
for i = 1, #KEYS - 1 do
  local n = tonumber(ARGV[a + 2])
  local cur = redis.call('GET', KEYS[i])
  local v = cur and (string.match(cur, '^%[1,(%-?%d+),') or string.match(cur, '^{"version":(%-?%d+)'))
  if v and v == ARGV[a] then
    redis.call('SET', KEYS[i], ARGV[a + 1], 'KEEPTTL')
    for j = 1, n do redis.call('XADD', outbox, '*', 'm', ARGV[a + 2 + j]) end
    out[i] = 1
  else
    out[i] = 0
  end
  a = a + 3 + n
end
return out
`,
);

/**
 * Correlations of SMSC ids. KEYS: correlation keys; ARGV[1]: TTL in seconds, then the value of
 * each key. SET … EX … GET of each (Redis ≥ 7.0 in a script): a key's previous value, so a
 * receipt stashed there (its value starts with '~') is taken by the same command that replaces
 * it. Returns the previous value of each key where that was a stashed receipt, else nil.
 */
export const CORRELATE = script(
  'correlate',
  `
local out = {}
for i = 1, #KEYS do
  local old = redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1], 'GET')
  if old and string.sub(old, 1, 1) == '~' then out[i] = old else out[i] = false end
end
return out
`,
);

/**
 * A receipt that came before its correlation. KEYS: the correlation keys of every spelling of
 * its SMSC id; ARGV[1]: TTL in seconds, ARGV[2]: the stashed value ('~' and the receipt). When
 * any key holds a correlation (not a stash), writes nothing and returns each key's value (nil
 * for those without one); else sets every key to the stash and returns 0.
 */
export const STASH_UNLESS_CORRELATED = script(
  'stash-unless-correlated',
  `
local found = false
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and string.sub(v, 1, 1) ~= '~' then
    out[i] = v
    found = true
  else
    out[i] = false
  end
end
if found then return out end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[2], 'EX', ARGV[1]) end
return 0
`,
);

/** KEYS: string keys. DEL of each whose value is ARGV[1]; returns how many went. */
export const DELETE_IF_EQUAL = script(
  'delete-if-equal',
  `
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then n = n + redis.call('DEL', KEYS[i]) end
end
return n
`,
);

/**
 * KEYS[1]: stream, KEYS[2]: deferred zset. ARGV: group, consumer, count, now (ms, the injected
 * clock), reclaim idle ms (-1: no reclaim), XAUTOCLAIM cursor, most deferred entries to move.
 *
 * 1. Deferred entries due by `now` go back to the stream (XADD + ZREM), as new entries.
 * 2. XAUTOCLAIM takes pending entries idle for at least the reclaim time (the server's clock:
 *    the one all instances share), from the cursor on; their delivery count, read with XPENDING
 *    after the claim, is one more than the times handed out before.
 * 3. XREADGROUP '>' fills the rest with new entries (never blocking: scripts cannot).
 *
 * Returns { next cursor, earliest notBefore still deferred or '' (only when nothing was handed
 * out, to bound a blocking wait), then entry id, message id, deliveries for each entry }.
 */
export const CLAIM = script(
  'claim',
  `
local s, d = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local count = tonumber(ARGV[3])
local idle = tonumber(ARGV[5])
local out = { '0-0', '' }
local due = redis.call('ZRANGEBYSCORE', d, '-inf', ARGV[4], 'LIMIT', 0, tonumber(ARGV[7]))
if #due > 0 then
  for i = 1, #due do redis.call('XADD', s, '*', 'm', due[i]) end
  redis.call('ZREM', d, unpack(due))
end
local got = 0
if idle >= 0 then
  local r = redis.call('XAUTOCLAIM', s, group, consumer, idle, ARGV[6], 'COUNT', count)
  out[1] = r[1]
  for _, e in ipairs(r[2]) do
    -- Redis 6.2 lists entries deleted from the stream with nil fields (7.0 drops them).
    if e[2] then
      local p = redis.call('XPENDING', s, group, e[1], e[1], 1)
      out[#out + 1] = e[1]
      out[#out + 1] = e[2][2]
      out[#out + 1] = p[1][4] - 1
      got = got + 1
    end
  end
end
if got < count then
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - got, 'STREAMS', s, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      out[#out + 1] = e[1]
      out[#out + 1] = e[2][2]
      out[#out + 1] = 0
      got = got + 1
    end
  end
end
if got == 0 then
  local nxt = redis.call('ZRANGE', d, 0, 0, 'WITHSCORES')
  if nxt[2] then out[2] = nxt[2] end
end
return out
`,
);

/**
 * KEYS[1]: idempotency key. ARGV[1]: message id. Deletes the key only while it names that message,
 * pending or confirmed (the binding's format: store/idempotency.ts).
 */
export const RELEASE_IF = script(
  'release-if',
  `
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^%??([^ ]*)') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
);

/**
 * KEYS[1]: idempotency key, KEYS[2]: the claim's message record. ARGV[1]: the pending binding,
 * ARGV[2]: the confirmed one, ARGV[3]: its TTL in seconds. While the key holds that pending
 * binding: confirmed when the record exists (returns 2), else deleted (1); otherwise 0.
 */
export const SETTLE_IF = script(
  'settle-if',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 2
end
redis.call('DEL', KEYS[1])
return 1
`,
);

/**
 * KEYS[1]: idempotency key. ARGV[1]: the pending binding, ARGV[2]: the confirmed one, ARGV[3]: its
 * TTL in seconds. Confirms only while the key still holds that pending binding.
 */
export const CONFIRM_IF = script(
  'confirm-if',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
`,
);

/**
 * KEYS[1]: stream. ARGV: group, then entry ids. Acked and deleted together, so XLEN stays the
 * depth. In slices of 1000 because Redis's Lua cannot unpack more than ~8000 values at once.
 */
export const ACK = script(
  'ack',
  `
local i = 2
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, j))
  redis.call('XDEL', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
return 0
`,
);

/**
 * KEYS[1]: stream. ARGV: group, consumer, then entry ids. Each entry still pending for `consumer`
 * gets its idle time reset by XCLAIM with min-idle-time 0 and JUSTID (which leaves the delivery
 * count alone); one acked, deferred or reclaimed by another consumer meanwhile is not touched
 * (XPENDING with the consumer filter finds only the caller's). Returns how many were kept.
 */
export const KEEP = script(
  'keep',
  `
local s, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local mine = {}
for i = 3, #ARGV do
  if redis.call('XPENDING', s, group, ARGV[i], ARGV[i], 1, consumer)[1] then mine[#mine + 1] = ARGV[i] end
end
-- In slices of 1000 ids (Lua's unpack limit), each followed by JUSTID.
local i = 1
while i <= #mine do
  local slice = {}
  for k = i, math.min(i + 999, #mine) do slice[#slice + 1] = mine[k] end
  slice[#slice + 1] = 'JUSTID'
  redis.call('XCLAIM', s, group, consumer, 0, unpack(slice))
  i = i + 1000
end
return #mine
`,
);

/**
 * KEYS[1]: stream, KEYS[2]: deferred zset. ARGV: group, notBefore, then entry id and message id
 * pairs. An entry still in the stream is deleted and scheduled in the same step; one already
 * gone (acked by whoever reclaimed it) is not resurrected.
 */
export const DEFER = script(
  'defer',
  `
local s, d, group, nb = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
for i = 3, #ARGV, 2 do
  if redis.call('XDEL', s, ARGV[i]) == 1 then redis.call('ZADD', d, nb, ARGV[i + 1]) end
  redis.call('XACK', s, group, ARGV[i])
end
return 0
`,
);

/**
 * KEYS[1]: stream. ARGV: group, the caller's consumer, idle ms. Deletes the group's consumers
 * other than the caller that hold no pending entry and have not tried to read for `idle` ms: the
 * names of processes that stopped, left behind once their entries were reclaimed (each process
 * reads under a name of its own, so every restart adds one). Deleting one with no pending entry
 * loses nothing, and a live process that reads again is a consumer again. Returns the count.
 */
export const PRUNE_CONSUMERS = script(
  'prune-consumers',
  `
local s, group, me, idle = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', s, group)) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= me and f['pending'] == 0 and f['idle'] >= idle then
    redis.call('XGROUP', 'DELCONSUMER', s, group, f['name'])
    n = n + 1
  end
end
return n
`,
);

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * EVAL with the script's source, never EVALSHA: for a rare call whose place among the
 * connection's commands matters. runScript's fallback, after a NOSCRIPT, would go out a round
 * trip later, behind commands issued meanwhile.
 */
export function evalScript(
  redis: Redis,
  s: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  return redis.eval(s.source, keys.length, ...keys, ...args);
}

/** EVALSHA, or EVAL when the server lost the script cache. */
export async function runScript(
  redis: Redis,
  s: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return redis.eval(s.source, keys.length, ...keys, ...args);
  }
}
