"""ClusterState: what the workers of one distributed crawl share in Redis, and nothing else.

Every key starts with ``CLUSTER_NAME`` (``ns``)::

    {ns}:requests         zset   scrapy-redis's request queue (score = -priority)
    {ns}:dupefilter       hash   request fingerprint (scrapy-redis's) -> the smallest depth it
                                 was queued at, for one run
    {ns}:run              hash   id, state (seeding | running), seeder, started_at
    {ns}:workers          set    worker ids in the run
    {ns}:alive:{worker}   string the worker's process token, expiring after CLUSTER_WORKER_TTL
    {ns}:leases:{worker}  hash   lease id -> "score|request": requests taken, not yet finished
    {ns}:texts            hash   sha256 -> NNN of every stored text, archive-wide
    {ns}:claims           hash   sha256 -> "NNN|worker" while a worker writes that text
    {ns}:text_seq         string how many numbers were handed out (the next NNN)
    {ns}:archived         hash   URL -> when it was last archived as an article
    {ns}:failures         hash   URL -> its failure row (JSON), for whichever worker seeds

Every step that reads and writes several keys is one Lua script, so two workers never both take
a request, a number or a text. A worker that stops refreshing its ``alive`` key is dead: any
other worker moves its leases back to the queue (``reclaim``) and takes over its text claims.
The run's keys (queue, filter, run, workers) go when the last worker leaves an empty queue;
texts, numbers, archived URLs and failures stay, as the archive does.

Settings (through :meth:`from_settings`): ``REDIS_URL``, ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
import uuid
from collections.abc import Iterable
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.settings_check import SettingsError
from storage.layout import safe_hostname

# One place for the connection: short timeouts and one quick retry. The scheduler's calls run on
# the reactor thread (as scrapy-redis's do): a Redis that is unreachable must cost a call a few
# seconds at most, and the heartbeat, in a thread, decides when it is gone for good.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "retry_on_timeout": True,
    "health_check_interval": 30,
}


def client_options() -> dict[str, Any]:
    """redis-py options for every client of a worker (scrapy-redis's through REDIS_PARAMS)."""
    return {**CLIENT_OPTIONS, "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1)}


_POP = """
local items = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #items == 0 then return nil end
redis.call('ZREM', KEYS[1], items[1])
local id = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[2], id, items[2] .. '|' .. items[1])
return {id, items[1]}
"""

# moves the leases of a hash back to the queue; a helper shared by the scripts below
_REQUEUE = """
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

_RECLAIM = (
    _REQUEUE
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

_JOIN = (
    _REQUEUE
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

_HEARTBEAT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

_RUN_STATE = """
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

_LEAVE = (
    _REQUEUE
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

_CLAIM_TEXT = """
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
_SEEN = """
local d = redis.call('HGET', KEYS[1], ARGV[1])
if d and tonumber(d) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if d then return 2 end
return 1
"""

_TEXT_STORED = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
"""

_RAISE_SEQ = """
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return tostring(now)
"""


_CRAWLER_ATTR = "_newsarchiver_cluster_state"


class ClusterError(SettingsError):
    """Redis is unreachable or refuses this worker; the message says what to do (exit 2)."""


def redact(url: str) -> str:
    """A Redis URL fit for logs: the password (and user) replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def default_worker_id() -> str:
    """The host name without '-' and '.', as in WARC file names."""
    return safe_hostname()


class ClusterState:
    """One worker's view of the shared crawl. Thread-safe: redis-py pools its connections."""

    def __init__(self, url: str, name: str, worker: str, client: redis.Redis | None = None) -> None:
        self.url = url
        self.ns = name
        self.worker = worker
        # this process: the alive key holds it, so a second process with the same id is refused
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Any: redis-py's stubs type each command as "result or awaitable" (sync and asyncio)
        self.redis: Any = client or redis.Redis.from_url(url, **client_options())
        self.keys = {
            k: f"{name}:{k}"
            for k in ("requests", "dupefilter", "run", "workers", "lease_seq", "texts", "claims",
                      "text_seq", "archived", "failures")
        }  # fmt: skip
        self.alive_key = f"{name}:alive:{worker}"
        self.leases_key = f"{name}:leases:{worker}"
        r = self.redis
        self._pop = r.register_script(_POP)
        self._reclaim = r.register_script(_RECLAIM)
        self._join = r.register_script(_JOIN)
        self._heartbeat = r.register_script(_HEARTBEAT)
        self._run_state = r.register_script(_RUN_STATE)
        self._leave = r.register_script(_LEAVE)
        self._claim_text = r.register_script(_CLAIM_TEXT)
        self._text_stored = r.register_script(_TEXT_STORED)
        self._seen = r.register_script(_SEEN)
        self._raise_seq = r.register_script(_RAISE_SEQ)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> ClusterState:
        """The crawler's one ClusterState (one connection pool, scripts loaded once), made on
        first use: the scheduler, the spider, the pipelines and the extensions share it."""
        state = getattr(crawler, _CRAWLER_ATTR, None)
        if state is None:
            state = cls.from_settings(crawler.settings)
            setattr(crawler, _CRAWLER_ATTR, state)
        return state

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ClusterState:
        return cls(
            settings["REDIS_URL"],
            settings["CLUSTER_NAME"],
            settings.get("CLUSTER_WORKER_ID") or default_worker_id(),
        )

    def close(self) -> None:
        self.redis.close()

    # --- membership -----------------------------------------------------------------------
    def ping(self) -> None:
        """Raise ClusterError naming the (redacted) URL when Redis does not answer."""
        try:
            self.redis.ping()
        except redis.AuthenticationError as exc:  # a ConnectionError to redis-py
            raise ClusterError(f"Redis at {redact(self.url)} refused us: {exc}") from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise ClusterError(f"Redis at {redact(self.url)} is unreachable: {exc}") from None
        except redis.RedisError as exc:  # e.g. a wrong password: AuthenticationError
            raise ClusterError(f"Redis at {redact(self.url)} refused us: {exc}") from None

    def join(self, run_id: str, ttl: int, now: str) -> tuple[str, str]:
        """Enter the run: (role, run id). Role 'seeder' (a new run: seed it), 'resumer' (a run
        whose workers all died: carry on with its queue), 'joiner' (a run under way)."""
        k = self.keys
        role, run = self._join(
            keys=[k["run"], k["workers"], k["requests"], k["dupefilter"], self.alive_key],
            args=[self.ns, self.worker, self.token, ttl, run_id, now],
        )
        if role == b"taken":
            raise ClusterError(
                f"worker id {self.worker!r} is in use by {run.decode()} (a worker killed just "
                f"now holds it for up to {ttl} s): give each worker its own --worker-id"
            )
        return role.decode(), run.decode()

    def heartbeat(self, ttl: int) -> bool:
        """Refresh this worker's alive key; False if another process took the worker id."""
        ok = self._heartbeat(
            keys=[self.alive_key, self.keys["workers"]], args=[self.token, ttl, self.worker]
        )
        return bool(ok)

    def reclaim(self) -> int:
        """Move the leases of workers that stopped heartbeating back to the queue."""
        keys = [self.keys["workers"], self.keys["requests"]]
        return int(self._reclaim(keys=keys, args=[self.ns]))

    def run_state(self) -> str:
        """'queued', 'seeding', 'busy' (others hold requests) or 'done'."""
        k = self.keys
        state = self._run_state(
            keys=[k["run"], k["workers"], k["requests"]], args=[self.ns, self.worker]
        )
        return str(state.decode())

    def should_seed(self) -> bool:
        run = self.redis.hgetall(self.keys["run"])
        return run.get(b"seeder") == self.worker.encode() and run.get(b"state") == b"seeding"

    def seeded(self) -> None:
        self.redis.hset(self.keys["run"], "state", "running")

    def leave(self, requeue: bool) -> tuple[int, bool]:
        """Leave the run: (leases requeued or dropped, whether this ended the run)."""
        k = self.keys
        n, ended = self._leave(
            keys=[k["workers"], k["requests"], self.leases_key, self.alive_key, k["run"],
                  k["dupefilter"]],
            args=[self.worker, "1" if requeue else "0", self.token],
        )  # fmt: skip
        return int(n), bool(ended)

    # --- leases -----------------------------------------------------------------------------
    def pop(self) -> tuple[str, bytes] | None:
        """Take the best request of the queue under a lease: (lease id, serialized request)."""
        k = self.keys
        got = self._pop(keys=[k["requests"], self.leases_key, k["lease_seq"]])
        return (got[0].decode(), got[1]) if got else None

    def complete(self, lease: str) -> bool:
        return bool(self.redis.hdel(self.leases_key, lease))

    def leases(self) -> int:
        return int(self.redis.hlen(self.leases_key))

    def queued(self) -> int:
        return int(self.redis.zcard(self.keys["requests"]))

    def admit(self, fingerprint: str, depth: int) -> int:
        """The run's seen-URL filter: 0 seen already at this depth or shallower, 1 new, 2 seen
        only deeper (queue it again, at this depth)."""
        return int(self._seen(keys=[self.keys["dupefilter"]], args=[fingerprint, depth]))

    # --- texts ------------------------------------------------------------------------------
    def claim_text(self, sha256: str) -> tuple[str, int]:
        """('new' | 'mine', NNN): write it. ('stored' | 'elsewhere', NNN): another has it."""
        k = self.keys
        outcome, seq = self._claim_text(
            keys=[k["texts"], k["claims"], k["text_seq"]], args=[sha256, self.worker, self.ns]
        )
        return outcome.decode(), int(seq)

    def text_stored(self, sha256: str, seq: int) -> None:
        self._text_stored(keys=[self.keys["texts"], self.keys["claims"]], args=[sha256, seq])

    def sync_texts(self, stored: Iterable[tuple[str, int]]) -> int:
        """Tell Redis of texts this worker stored (after Redis lost its data, or a worker's first
        run in a cluster): numbers are never handed out twice. Returns the next number."""
        rows = list(stored)
        if rows:
            pipe = self.redis.pipeline(transaction=False)
            for sha, seq in rows:
                pipe.hsetnx(self.keys["texts"], sha, seq)
            pipe.execute()
        floor = max((seq for _, seq in rows), default=-1) + 1
        return int(self._raise_seq(keys=[self.keys["text_seq"]], args=[floor]))

    def text_seq(self) -> int:
        return int(self.redis.get(self.keys["text_seq"]) or 0)

    # --- archived URLs and failures ---------------------------------------------------------
    def mark_archived(self, urls: Iterable[str], at: str) -> None:
        self.redis.hset(self.keys["archived"], mapping=dict.fromkeys(urls, at))

    def archived_at(self, url: str) -> str | None:
        at = self.redis.hget(self.keys["archived"], url)
        return at.decode() if at else None

    def put_failure(self, row: dict[str, Any]) -> None:
        self.redis.hset(self.keys["failures"], row["url"], json.dumps(row, sort_keys=True))

    def heal(self, url: str) -> None:
        self.redis.hdel(self.keys["failures"], url)

    def failures(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.hvals(self.keys["failures"])]
