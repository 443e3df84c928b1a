"""The Lua scripts of :class:`~sso_bridge.store.redis.RedisEphemeralStore`: each changes
an entry and its owner's set in one step on the server (entry layout: see that module)."""

from __future__ import annotations

from typing import Final

__all__ = ["ADD", "DELETE_OWNED", "FORGET_STALE", "INCREMENT", "PUT_OWNED"]

# Lua helpers shared by the scripts: the expires_at moment and the owner read back from a header.
LUA_HELPERS: Final = """
local function expires_at(v) return tonumber(string.sub(v, 1, 16), 16) end
local function owns(v, owner)
  return tonumber(string.sub(v, 17, 20), 16) == #owner
    and string.sub(v, 21, 20 + #owner) == owner
end
local function index(set, member, ttl)
  redis.call('SADD', set, member)
  if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
end
"""

# KEYS: entry, owner set. ARGV: payload, ttl ms, member.
PUT_OWNED: Final = (
    LUA_HELPERS
    + """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
index(KEYS[2], ARGV[3], tonumber(ARGV[2]))
return 1
"""
)

# KEYS: entry [, owner set]. ARGV: payload, ttl ms, now µs [, member].
# An entry present in Redis but expired by the caller's now counts as absent.
ADD: Final = (
    LUA_HELPERS
    + """
local old = redis.call('GET', KEYS[1])
if old and expires_at(old) > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if #KEYS > 1 then index(KEYS[2], ARGV[4], tonumber(ARGV[2])) end
return 1
"""
)

# KEYS: owner set, entries. ARGV: owner, members (one per entry).
DELETE_OWNED: Final = (
    LUA_HELPERS
    + """
local n = 0
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and owns(v, ARGV[1]) then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
  redis.call('SREM', KEYS[1], ARGV[i])
end
return n
"""
)

# KEYS: owner set, entries. ARGV: owner, now µs, members (one per entry).
# Checked again here: the entry may have been put anew since the caller read it.
FORGET_STALE: Final = (
    LUA_HELPERS
    + """
local now = tonumber(ARGV[2])
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v or expires_at(v) <= now or not owns(v, ARGV[1]) then
    redis.call('SREM', KEYS[1], ARGV[i + 1])
  end
end
return 0
"""
)


# KEYS: entry. ARGV: payload of a new counter at one, ttl ms, now µs.
# A live counter keeps its header (expiry, no owner) and its TTL; anything else starts anew.
INCREMENT: Final = (
    LUA_HELPERS
    + """
local old = redis.call('GET', KEYS[1])
if old and expires_at(old) > tonumber(ARGV[3]) then
  local head = 20 + tonumber(string.sub(old, 17, 20), 16)
  local count = tonumber(string.sub(old, head + 1))
  if count then
    count = count + 1
    redis.call('SET', KEYS[1], string.sub(old, 1, head) .. count, 'KEEPTTL')
    return {count, string.sub(old, 1, 16)}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, string.sub(ARGV[1], 1, 16)}
"""
)
