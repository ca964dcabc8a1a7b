"""ClusterState: what the workers of one distributed crawl share in Redis, and nothing else.

Every key starts with ``CLUSTER_NAME`` (``ns``)::

    {ns}:requests         zset   scrapy-redis's request queue (score = -priority)
    {ns}:dupefilter       hash   request fingerprint (scrapy-redis's) -> the smallest depth it
                                 was queued at, for one run
    {ns}:run              hash   id, state (seeding | running), seeder, started_at
    {ns}:workers          set    worker ids in the run
    {ns}:alive:{worker}   string the worker's process token, expiring after CLUSTER_WORKER_TTL
    {ns}:leases:{worker}  hash   lease id -> "score|request": requests taken, not yet finished
    {ns}:texts            hash   sha256 -> "NNN" of every stored text, archive-wide, or
                                 "NNN|worker" while that worker writes it (its claim)
    {ns}:text_seq         string how many numbers were handed out (the next NNN)
    {ns}:archived         hash   URL -> when it was last archived as an article
    {ns}:archived_log     stream the URLs archived (or forgotten: "") lately, for the workers'
                                 in-memory copies; capped at ARCHIVED_LOG_MAX entries
    {ns}:failures         hash   URL -> its failure row (JSON), for whichever worker seeds
    {ns}:epoch            string a random id, written by the first worker ever to join; never
                                 deleted: gone (or another) means Redis lost its data

The state comes in parts, one module each, on one connection (:mod:`.connection`: client
options, keys, the epoch check): the queue and leases (:mod:`.queue_state`), text numbers
(:mod:`.text_claims`), archived URLs and failures (:mod:`.archived_state`); the membership steps
(join, heartbeat, reclaim, leave) are here.

Every step that reads and writes several keys is one Lua script (:mod:`.lua`), so two workers
never both take a request, a number or a text. A worker that stops refreshing its ``alive`` key
is dead: any other worker moves its leases back to the queue (``reclaim``) and takes over its
text claims.
The run's keys (queue, filter, run, workers) go when the last worker leaves an empty queue;
texts, numbers, archived URLs, failures and the epoch stay, as the archive does. A worker
that joined checks the epoch in the scripts it runs anyway (:data:`lua.EPOCH_CHECK`): a Redis
that comes back empty is :class:`StateLost`, not a run found over. (A ``{ns}:claims`` hash
left by an earlier version is not read: claims live in ``{ns}:texts`` now.)

Nothing here is asked per page or per link on the reactor thread: the scheduler's queue, filter
and lease steps go in batches (:meth:`sync`, from a thread, :mod:`.scheduler`); "archived by any
worker?" is answered from memory (:meth:`archived_at_cached`: loaded once at the start, kept
fresh from ``archived_log``); archived URLs and healed failures are written behind, in one
pipeline with that read (:meth:`flush`, from a thread, :mod:`.extension`). What must be decided
before a step goes on is still asked at once, from the thread that needs it: a text's number
(:meth:`claim_text`, the text writer), its "stored" mark, a failure row.

Settings (through :meth:`from_settings`): ``REDIS_URL``, ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``.
"""

from __future__ import annotations

import uuid

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.cluster import lua
from crawler.cluster.archived_state import ArchivedState
from crawler.cluster.identity import worker_id
from crawler.cluster.queue_state import QueueState
from crawler.cluster.text_claims import TextClaims
from crawler.redaction import redact_url
from crawler.settings_check import SettingsError

_CRAWLER_ATTR = "_newsarchiver_cluster_state"


class ClusterError(SettingsError):
    """Redis is unreachable or refuses this worker; the message says what to do (exit 2)."""


# A Redis URL fit for logs: crawler.redaction's, the one redaction of URLs (kept here by name
# for the cluster's modules that import it)
redact = redact_url


class ClusterState(QueueState, TextClaims, ArchivedState):
    """One worker's view of the shared crawl. Thread-safe: redis-py pools its connections."""

    def __init__(
        self,
        url: str,
        name: str,
        worker: str,
        client: redis.Redis | None = None,
        *,
        numbers_ahead: int,
    ) -> None:
        super().__init__(url, name, worker, client)
        r = self.redis
        self._reclaim = r.register_script(lua.RECLAIM)
        self._join = r.register_script(lua.JOIN)
        self._heartbeat = r.register_script(lua.HEARTBEAT)
        self._run_state = r.register_script(lua.RUN_STATE)
        self._leave = r.register_script(lua.LEAVE)
        self._init_queue()
        self._init_texts(numbers_ahead)
        self._init_archived()

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
            worker_id(settings),
            numbers_ahead=settings.getint("CLUSTER_TEXT_NUMBERS_AHEAD"),
        )

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
        role, run, *epoch = self._join(
            keys=[k["run"], k["workers"], k["requests"], k["dupefilter"], self.alive_key,
                  k["epoch"]],
            args=[self.ns, self.worker, self.token, ttl, run_id, now, uuid.uuid4().hex],
        )  # fmt: skip
        if role == b"taken":
            raise ClusterError(
                f"worker id {self.worker!r} is in use by {run.decode()} (a worker killed just "
                f"now holds it for up to {ttl} s): give each worker its own --worker-id"
            )
        self.epoch = epoch[0].decode()
        return role.decode(), run.decode()

    def heartbeat(self, ttl: int) -> bool:
        """Refresh this worker's alive key; False if another process took the worker id."""
        ok = self._checked(
            self._heartbeat, [self.alive_key, self.keys["workers"]], [self.token, ttl, self.worker]
        )
        return bool(ok)

    def reclaim(self) -> int:
        """Move the leases of workers that stopped heartbeating back to the queue."""
        keys = [self.keys["workers"], self.keys["requests"]]
        return int(self._reclaim(keys=keys, args=[self.ns]))

    def run_state(self) -> str:
        """'queued', 'seeding', 'busy' (others hold requests) or 'done'."""
        k = self.keys
        state = self._checked(
            self._run_state, [k["run"], k["workers"], k["requests"]], [self.ns, self.worker]
        )
        return str(state.decode())

    def should_seed(self) -> bool:
        run = self.redis.hgetall(self.keys["run"])
        return run.get(b"seeder") == self.worker.encode() and run.get(b"state") == b"seeding"

    def seeded(self) -> None:
        """The run is seeded: written by the next batched step (:meth:`sync`) that leaves
        nothing queued here unsent, so that no worker sees the run "running" with an empty
        queue while the seeds are still on their way. (On the reactor, in a crawl.)"""
        with self._lock:
            self._seeded = True
        if self.wake is not None:
            self.wake()

    def leave(self, requeue: bool) -> tuple[int, bool]:
        """Leave the run: (leases requeued or dropped, whether this ended the run)."""
        k = self.keys
        n, ended = self._leave(
            keys=[k["workers"], k["requests"], self.leases_key, self.alive_key, k["run"],
                  k["dupefilter"]],
            args=[self.worker, "1" if requeue else "0", self.token],
        )  # fmt: skip
        return int(n), bool(ended)
