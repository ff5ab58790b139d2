/**
 * The Lua scripts of the opt-out store (src/store/redis/optouts.ts): an entry and its audit event
 * are written together or not at all. Both keys carry the number's hash tag, so each script
 * touches one slot and stays valid under Redis Cluster. Run through runScript (lua.ts): EVALSHA,
 * EVAL when the server lost its script cache.
 */
import { script } from './lua.js';

/**
 * KEYS[1]: the number's entries hash, KEYS[2]: its audit list. ARGV[1]: scope, ARGV[2]: entry
 * JSON, ARGV[3]: event JSON. HSETNX keeps an existing entry as it is; the event is appended
 * either way. Returns 1 when the entry is new, else 0.
 */
export const OPT_OUT_ADD = script(
  'optOutAdd',
  `
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[3])
return added
`,
);

/**
 * KEYS as for OPT_OUT_ADD. ARGV[1]: scope, ARGV[2]: event JSON. Removes the scope's entry (Redis
 * deletes the hash with its last field) and appends the event even when there was none. Returns
 * 1 when an entry was removed, else 0.
 */
export const OPT_OUT_REMOVE = script(
  'optOutRemove',
  `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[2])
return removed
`,
);

/**
 * The batch forms of the three operations: one script for many numbers, so that a batch costs the
 * client one command instead of one per number (the client's CPU is what limits an import or an
 * intake batch). Their keys span slots, so they need one Redis primary, as the store's enqueue
 * does; the single-number forms above stay cluster-safe.
 *
 * CHECK_MANY: KEYS: each query's entries hash. ARGV: per query, its scope count then its scopes.
 * Returns per query two values: the 1-based index of the first scope found (0: none) and its JSON
 * ('' when none).
 */
export const OPT_OUT_CHECK_MANY = script(
  'optOutCheckMany',
  `
local out = {}
local a = 1
for i = 1, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  local found, json = 0, ''
  if n > 0 then
    local values = redis.call('HMGET', KEYS[i], unpack(ARGV, a, a + n - 1))
    for j = 1, n do
      if values[j] then
        found = j
        json = values[j]
        break
      end
    end
  end
  a = a + n
  out[2 * i - 1] = found
  out[2 * i] = json
end
return out
`,
);

/**
 * ADD_MANY: KEYS: entries hash and audit list of each entry, in pairs. ARGV: scope, entry JSON and
 * event JSON of each entry. Applied in order; returns per entry 1 when new, else 0.
 */
export const OPT_OUT_ADD_MANY = script(
  'optOutAddMany',
  `
local out = {}
for i = 1, #KEYS / 2 do
  out[i] = redis.call('HSETNX', KEYS[2 * i - 1], ARGV[3 * i - 2], ARGV[3 * i - 1])
  redis.call('RPUSH', KEYS[2 * i], ARGV[3 * i])
end
return out
`,
);
