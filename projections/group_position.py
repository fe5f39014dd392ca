"""Moving a projection group's last-delivered id forward, atomically and never backwards.

After a replay the live group continues after what the replay covered; entries the group already
delivered stay delivered (their consumers apply them idempotently), so nothing is lost or redone.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

# KEYS: stream. ARGV: group, position, entries read ("" when unknown).
# Returns 'created', 'moved' or 'kept' (the group was already at or past the position).
_ADVANCE_LUA = """
local function before(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end
local extra = {}
if ARGV[3] ~= '' then extra = {'ENTRIESREAD', ARGV[3]} end
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local info = {}
    for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
    if info['name'] == ARGV[1] then
      if before(info['last-delivered-id'], ARGV[2]) then
        redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2], unpack(extra))
        return 'moved'
      end
      return 'kept'
    end
  end
end
redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM', unpack(extra))
return 'created'
"""


async def advance_group(
    redis: aioredis.Redis, stream: str, group: str, position: str, entries_read: int | None
) -> str:
    """Make `group` continue after `position` unless it is already past it."""
    script = redis.register_script(_ADVANCE_LUA)
    result: Any = await script(
        keys=[stream], args=[group, position, "" if entries_read is None else entries_read]
    )
    return result.decode() if isinstance(result, bytes) else str(result)
