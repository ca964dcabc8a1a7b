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

Every step that reads and writes several keys is one Lua script (:mod:`.lua`), so two workers
never both take a request, a number or a text. A worker that stops refreshing its ``alive`` key
is dead: any other worker moves its leases back to the queue (``reclaim``) and takes over its
text claims.
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

from crawler.cluster import lua
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
        self._pop = r.register_script(lua.POP)
        self._reclaim = r.register_script(lua.RECLAIM)
        self._join = r.register_script(lua.JOIN)
        self._heartbeat = r.register_script(lua.HEARTBEAT)
        self._run_state = r.register_script(lua.RUN_STATE)
        self._leave = r.register_script(lua.LEAVE)
        self._claim_text = r.register_script(lua.CLAIM_TEXT)
        self._text_stored = r.register_script(lua.TEXT_STORED)
        self._forget_text = r.register_script(lua.FORGET_TEXT)
        self._seen = r.register_script(lua.SEEN)
        self._raise_seq = r.register_script(lua.RAISE_SEQ)

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

    def forget_text(self, sha256: str, seq: int, urls: Iterable[str]) -> None:
        """Undo text_stored and mark_archived for a text this worker dropped (its WARC record
        did not survive a crash): the URLs are fetched and the text written again."""
        self._forget_text(keys=[self.keys["texts"], self.keys["archived"]],
                          args=[sha256, seq, *dict.fromkeys(urls)])  # fmt: skip

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
