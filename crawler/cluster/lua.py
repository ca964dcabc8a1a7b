"""The Lua steps of :class:`crawler.cluster.state.ClusterState`, one script per decision.

Each reads and writes several keys at once, atomically (Redis runs a script alone): two workers
never both take a request, a number or a text. Keys and their types are listed in
:mod:`crawler.cluster.state`; a script that must reach other workers' keys
(``{ns}:alive:{worker}``, ``{ns}:leases:{worker}``) gets the key prefix as an argument.
"""

from __future__ import annotations

POP = """
local items = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #items == 0 then return nil end
redis.call('ZREM', KEYS[1], items[1])
local id = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[2], id, items[2] .. '|' .. items[1])
return {id, items[1]}
"""

# moves the leases of a hash back to the queue; a helper shared by the scripts below
REQUEUE = """
local function requeue(leases, queue)
  local all = redis.call('HGETALL', leases)
  for i = 2, #all, 2 do
    local v = all[i]
    local sep = string.find(v, '|', 1, true)
    redis.call('ZADD', queue, string.sub(v, 1, sep - 1), string.sub(v, sep + 1))
  end
  redis.call('DEL', leases)
  return #all / 2
end
"""

RECLAIM = (
    REQUEUE
    + """
local moved = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 0 then
    moved = moved + requeue(ARGV[1] .. ':leases:' .. w, KEYS[2])
    redis.call('SREM', KEYS[1], w)
  end
end
return moved
"""
)

JOIN = (
    REQUEUE
    + """
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[3] then return {'taken', holder} end
redis.call('SET', KEYS[5], ARGV[3], 'EX', ARGV[4])
local live = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if w ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 1 then
    live = live + 1
  end
end
local role = 'joiner'
if redis.call('EXISTS', KEYS[1]) == 0 or live == 0 then
  -- a new run, or one whose workers are all gone: what they had taken is queued again
  for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    requeue(ARGV[1] .. ':leases:' .. w, KEYS[3])
  end
  redis.call('DEL', KEYS[2], KEYS[1])
  local state = 'seeding'
  role = 'seeder'
  if redis.call('ZCARD', KEYS[3]) == 0 then
    redis.call('DEL', KEYS[4])
  else
    state = 'running'
    role = 'resumer'
  end
  redis.call('HSET', KEYS[1], 'id', ARGV[5], 'state', state, 'seeder', ARGV[2],
             'started_at', ARGV[6])
end
redis.call('SADD', KEYS[2], ARGV[2])
return {role, redis.call('HGET', KEYS[1], 'id')}
"""
)

HEARTBEAT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

RUN_STATE = """
if redis.call('ZCARD', KEYS[3]) > 0 then return 'queued' end
if redis.call('HGET', KEYS[1], 'state') == 'seeding' then
  local seeder = redis.call('HGET', KEYS[1], 'seeder')
  if seeder and redis.call('EXISTS', ARGV[1] .. ':alive:' .. seeder) == 1 then
    return 'seeding'
  end
end
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if w ~= ARGV[2] and redis.call('HLEN', ARGV[1] .. ':leases:' .. w) > 0 then return 'busy' end
end
return 'done'
"""

LEAVE = (
    REQUEUE
    + """
local n = 0
if ARGV[2] == '1' then
  n = requeue(KEYS[3], KEYS[2])
else
  n = redis.call('HLEN', KEYS[3])
  redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[4]) == ARGV[3] then redis.call('DEL', KEYS[4]) end
redis.call('SREM', KEYS[1], ARGV[1])
local ended = 0
if redis.call('SCARD', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[1])
  ended = 1
end
return {n, ended}
"""
)

CLAIM_TEXT = """
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if seq then return {'stored', seq} end
local claim = redis.call('HGET', KEYS[2], ARGV[1])
if claim then
  local sep = string.find(claim, '|', 1, true)
  local claimed, owner = string.sub(claim, 1, sep - 1), string.sub(claim, sep + 1)
  if owner == ARGV[2] or redis.call('EXISTS', ARGV[3] .. ':alive:' .. owner) == 0 then
    redis.call('HSET', KEYS[2], ARGV[1], claimed .. '|' .. ARGV[2])
    return {'mine', claimed}
  end
  return {'elsewhere', claimed}
end
seq = redis.call('INCR', KEYS[3]) - 1
redis.call('HSET', KEYS[2], ARGV[1], seq .. '|' .. ARGV[2])
return {'new', tostring(seq)}
"""

# First seen, or seen only deeper: a page found at depth 2 first (through an article) and then
# at depth 1 (through the home page) must be crawled at depth 1 too, or the links it leads to
# are cut off by the depth limit; one process sees the shallow path first, a cluster may not.
SEEN = """
local d = redis.call('HGET', KEYS[1], ARGV[1])
if d and tonumber(d) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if d then return 2 end
return 1
"""

TEXT_STORED = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
"""

# A text dropped because its WARC record did not survive: its number stays taken (text_seq only
# grows) but its hash is free again, if it still names that number; its URLs are not archived.
FORGET_TEXT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
for i = 3, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
"""

RAISE_SEQ = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return tostring(now)
"""
