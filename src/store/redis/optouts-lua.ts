/**
 * The Lua scripts of the opt-out store (src/store/redis/optouts.ts): an entry and its audit event
 * are written together or not at all. Both keys carry the number's hash tag, so each script
 * touches one slot and stays valid under Redis Cluster. Run through runScript (lua.ts): EVALSHA,
 * EVAL when the server lost its script cache.
 */
import { createHash } from 'node:crypto';
import type { LuaScript } from './lua.js';

// lua.ts builds its scripts with a helper it does not export; this is the same two lines.
function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

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
