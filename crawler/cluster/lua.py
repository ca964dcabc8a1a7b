"""The Lua steps of :class:`crawler.cluster.state.ClusterState`, one script per decision.

Each reads and writes several keys at once, atomically (Redis runs a script alone): two workers
never both take a request, a number or a text. The busiest, :data:`SYNC`, takes a batch: what
a worker did with the queue, the seen-URL filter and its leases in the last fraction of a second,
in a handful of Redis commands whatever the number of requests. Keys and their types are listed in
:mod:`crawler.cluster.state`; a script that must reach other workers' keys
(``{ns}:alive:{worker}``, ``{ns}:leases:{worker}``) gets the key prefix as an argument.
"""

from __future__ import annotations

# The cluster's epoch ({ns}:epoch): a random id the first worker ever to join writes, kept as
# long as the archive-wide keys (no run's end deletes it). A worker learns it when it joins and
# names it to SYNC, HEARTBEAT, RUN_STATE and RESERVE: a Redis that lost its data (restarted
# without persistence, flushed, evicted) no longer holds it, and these scripts answer with this
# error instead of working on the empty keys, as if the run had ended (ClusterState raises
# StateLost). Checked inside scripts the worker runs anyway: no round trip of its own.
# An empty epoch (a tool that never joined) is not checked.
LOST = "CLUSTERLOST"
EPOCH_CHECK = f"""
local epoch = ARGV[#ARGV]
if epoch ~= '' and redis.call('GET', KEYS[#KEYS]) ~= epoch then
  return redis.error_reply('{LOST} the cluster epoch is gone')
end
"""

# A worker's batched step, run every CLUSTER_SYNC_INTERVAL at most (crawler.cluster.scheduler):
# the requests it found (admitted by the seen-URL filter, then queued), the leases it finished
# (and those the requests it queues again take over: ended after those are queued), the
# requests it takes ahead of need under the lease ids it chose, the seeds all queued. One HMGET,
# one HSET and one ZADD for any number of requests, one HDEL for any number of leases, one
# ZRANGE, ZREM and HSET for any number taken. A URL seen only deeper goes again: a page found at
# depth 2 first (through an article) and then at depth 1 (through the home page) must be crawled
# at depth 1 too, or the links it leads to are cut off by the depth limit; one process sees the
# shallow path first, a cluster may not.
# KEYS: requests, dupefilter, this worker's leases, run, epoch.
# ARGV: n, n lease ids ended; m, then m times (fingerprint or '' for a request not filtered,
# depth, score, request, the lease it takes over or ''); k, k new lease ids; '1' if seeded;
# the epoch. Returns {per request 0 seen | 1 new | 2 seen only deeper, {lease id, request, ...},
# ended}, or the LOST error (nothing written).
SYNC = (
    EPOCH_CHECK
    + """
local n, i = tonumber(ARGV[1]), 2
local finished = {}
for k = i, i + n - 1 do finished[#finished + 1] = ARGV[k] end
i = i + n
local m = tonumber(ARGV[i])
i = i + 1
local fps, listed = {}, {}
for k = 0, m - 1 do
  local fp = ARGV[i + 5 * k]
  if fp ~= '' and not listed[fp] then listed[fp] = true; fps[#fps + 1] = fp end
end
local depth_of = {}
if #fps > 0 then
  local got = redis.call('HMGET', KEYS[2], unpack(fps))
  for k = 1, #fps do if got[k] then depth_of[fps[k]] = tonumber(got[k]) end end
end
local answers, filter, queue = {}, {}, {}
for k = 0, m - 1 do
  local at = i + 5 * k
  local fp, depth = ARGV[at], tonumber(ARGV[at + 1])
  local answer = 1
  if fp ~= '' then
    local known = depth_of[fp]
    if known and known <= depth then
      answer = 0
    else
      if known then answer = 2 end
      depth_of[fp] = depth
      filter[#filter + 1] = fp
      filter[#filter + 1] = ARGV[at + 1]
    end
  end
  if answer > 0 and ARGV[at + 3] ~= '' then
    queue[#queue + 1] = ARGV[at + 2]
    queue[#queue + 1] = ARGV[at + 3]
  end
  if ARGV[at + 4] ~= '' then finished[#finished + 1] = ARGV[at + 4] end
  answers[k + 1] = answer
end
i = i + 5 * m
if #filter > 0 then redis.call('HSET', KEYS[2], unpack(filter)) end
if #queue > 0 then redis.call('ZADD', KEYS[1], unpack(queue)) end
local ended = 0
if #finished > 0 then ended = redis.call('HDEL', KEYS[3], unpack(finished)) end
local want = tonumber(ARGV[i])
i = i + 1
local taken = {}
if want > 0 then
  local items = redis.call('ZRANGE', KEYS[1], 0, want - 1, 'WITHSCORES')
  if #items > 0 then
    local members, leases = {}, {}
    for k = 1, #items, 2 do
      local id = ARGV[i + (k - 1) / 2]
      members[#members + 1] = items[k]
      leases[#leases + 1] = id
      leases[#leases + 1] = items[k + 1] .. '|' .. items[k]
      taken[#taken + 1] = id
      taken[#taken + 1] = items[k]
    end
    redis.call('ZREM', KEYS[1], unpack(members))
    redis.call('HSET', KEYS[3], unpack(leases))
  end
end
if ARGV[i + want] == '1' then redis.call('HSET', KEYS[4], 'state', 'running') end
return {answers, taken, ended}
"""
)
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

# KEYS: run, workers, requests, dupefilter, alive, epoch. ARGV: key prefix, worker, token, ttl,
# run id, now, an epoch for a cluster without one. Returns {role, run id, epoch}.
JOIN = (
    REQUEUE
    + """
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[3] then return {'taken', holder} end
redis.call('SET', KEYS[5], ARGV[3], 'EX', ARGV[4])
-- what an earlier process of this worker id had taken and not finished (it died, and no other
-- worker had requeued it yet): queued again, this process starts with none
requeue(ARGV[1] .. ':leases:' .. ARGV[2], KEYS[3])
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
-- the cluster's epoch: written by the first worker ever (or the first after Redis lost it)
local epoch = redis.call('GET', KEYS[6])
if not epoch then
  epoch = ARGV[7]
  redis.call('SET', KEYS[6], epoch)
end
return {role, redis.call('HGET', KEYS[1], 'id'), epoch}
"""
)

# KEYS: alive, workers, epoch. ARGV: token, ttl, worker, epoch.
HEARTBEAT = (
    EPOCH_CHECK
    + """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""
)

# KEYS: run, workers, requests, epoch. ARGV: key prefix, worker, epoch.
RUN_STATE = (
    EPOCH_CHECK
    + """
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
)

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

# A text's entry in {ns}:texts is "NNN" once stored, "NNN|worker" while that worker writes it:
# one HGET answers "stored or claimed?", and storing it is one plain HSET (ClusterState). A new
# text is claimed with one HSETNX under a number the worker reserved ahead; this script is asked
# only when that found the text there already (or gone again since: then it is claimed here).
# KEYS: texts. ARGV: sha256, worker, key prefix, the number reserved for a new text.
CLAIM_TEXT = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[4] .. '|' .. ARGV[2])
  return {'new', ARGV[4]}
end
local sep = string.find(v, '|', 1, true)
if not sep then return {'stored', v} end
local claimed, owner = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
if owner == ARGV[2] then return {'mine', claimed} end
if redis.call('EXISTS', ARGV[3] .. ':alive:' .. owner) == 0 then
  redis.call('HSET', KEYS[1], ARGV[1], claimed .. '|' .. ARGV[2])
  return {'mine', claimed}
end
return {'elsewhere', claimed}
"""

# Numbers a worker reserved and did not use, given back when it stops, if no worker reserved
# any after them (else they are skipped: never handed out twice). KEYS: text_seq. ARGV: the end
# of the reserved block, the first unused number.
RETURN_SEQ = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# A text dropped because its WARC record did not survive: its number stays taken (text_seq only
# grows) but its hash is free again, if it still names that number (stored, or claimed by this
# worker); its URLs are not archived, and the workers' in-memory copies hear so through the log.
# KEYS: texts, archived, archived_log. ARGV: sha256, NNN, worker, log length, URLs.
FORGET_TEXT = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v == ARGV[2] or v == ARGV[2] .. '|' .. ARGV[3] then redis.call('HDEL', KEYS[1], ARGV[1]) end
if #ARGV > 4 then
  local urls, fields = {}, {}
  for k = 5, #ARGV do
    urls[#urls + 1] = ARGV[k]
    fields[#fields + 1] = ARGV[k]
    fields[#fields + 1] = ''
  end
  redis.call('HDEL', KEYS[2], unpack(urls))
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
end
"""

# A block of text numbers reserved (ClusterState._reserved): an empty Redis would hand out
# numbers the archives used already. KEYS: text_seq, epoch. ARGV: block size, epoch.
RESERVE = (
    EPOCH_CHECK
    + """
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""
)

RAISE_SEQ = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return tostring(now)
"""
