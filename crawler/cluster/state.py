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

import itertools
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.cluster import lua
from crawler.cluster.identity import worker_id
from crawler.redaction import redact_url
from crawler.settings_check import SettingsError
from storage.known_pages import url_key

# One place for the connection: short timeouts and one quick retry. Every call runs in a thread
# (none on the reactor's), but a Redis that is unreachable must still cost a call a few seconds
# at most: the heartbeat, in a thread too, decides when it is gone for good.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "retry_on_timeout": True,
    "health_check_interval": 30,
}


def client_options() -> dict[str, Any]:
    """redis-py options for every client of a worker (scrapy-redis's through REDIS_PARAMS)."""
    return {**CLIENT_OPTIONS, "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1)}


# The batched step takes requests: sent again by redis-py after a timeout it could run twice and
# lease requests nobody knows of. Without retries a failure is seen, and ClusterState.recover
# finds what it took.
SYNC_CLIENT_OPTIONS: dict[str, Any] = {**CLIENT_OPTIONS, "retry_on_timeout": False}

MAX_BATCH = 1000  # requests, or leases, in one batched step (Lua's unpack() takes ~8000 values)
ARCHIVED_LOG_MAX = 5000  # entries of {ns}:archived_log kept (one a flush of one worker)
SCAN_COUNT = 1000  # fields of {ns}:archived read a round trip at the start
PULL_COUNT = 10_000  # entries of {ns}:archived_log read a flush at most


@dataclass
class Push:
    """A request for the shared queue, as :meth:`ClusterState.sync` takes it."""

    fingerprint: str  # scrapy-redis's; "" for a request the filter does not see (dont_filter)
    depth: int  # the filter's depth (0 for a requisite: wanted once, whatever page names it)
    score: int  # -priority
    data: bytes  # the request, serialized (crawler.cluster.serializer); b"": the filter only
    release: str = ""  # the lease of the request it replaces: ended once this one is queued


@dataclass
class SyncResult:
    admitted: list[int]  # per Push: 0 seen already, 1 new, 2 seen only deeper (queued again)
    taken: list[tuple[str, bytes]]  # (lease id, request) taken under this worker's leases
    ended: int  # leases deleted (fewer than asked: requeued by others meanwhile)


@dataclass
class FlushResult:
    shared: int = 0  # archived URLs written
    healed: int = 0  # failures deleted
    pulled: int = 0  # archived URLs read from the log (any worker's)


_CRAWLER_ATTR = "_newsarchiver_cluster_state"


class ClusterError(SettingsError):
    """Redis is unreachable or refuses this worker; the message says what to do (exit 2)."""


class StateLost(redis.RedisError):
    """Redis no longer holds the cluster's epoch this worker joined under: it lost its data
    (restarted without persistence, flushed, evicted). A RedisError, so that every caller that
    survives a failed call survives this one (nothing was written); the cluster extension
    stops the crawl (:data:`crawler.cluster.extension.STATE_LOST_REASON`)."""


def _lost(exc: redis.ResponseError) -> bool:
    return str(exc).startswith(lua.LOST)


# A Redis URL fit for logs: crawler.redaction's, the one redaction of URLs (kept here by name
# for the cluster's modules that import it)
redact = redact_url


class ClusterState:
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
        self.url = url
        self.ns = name
        self.worker = worker
        # this process: the alive key holds it, so a second process with the same id is refused
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Any: redis-py's stubs type each command as "result or awaitable" (sync and asyncio)
        self.redis: Any = client or redis.Redis.from_url(url, **client_options())
        self.keys = {
            k: f"{name}:{k}"
            for k in ("requests", "dupefilter", "run", "workers", "texts", "text_seq", "archived",
                      "archived_log", "failures", "epoch")
        }  # fmt: skip
        self.epoch = ""  # learnt at join(); "" (tools that never join): not checked
        self.lost = False  # a script found the epoch gone (StateLost)
        # the cluster extension's "state lost: stop" (called on the reactor, by the scheduler)
        self.on_lost: Any = None
        self.alive_key = f"{name}:alive:{worker}"
        self.leases_key = f"{name}:leases:{worker}"
        # the batched step's own connection, without redis-py's retries (SYNC_CLIENT_OPTIONS)
        self._sync_redis: Any = redis.Redis.from_url(
            url, **SYNC_CLIENT_OPTIONS, retry=Retry(NoBackoff(), 0)
        )
        r = self.redis
        self._sync = r.register_script(lua.SYNC)
        self._reclaim = r.register_script(lua.RECLAIM)
        self._join = r.register_script(lua.JOIN)
        self._heartbeat = r.register_script(lua.HEARTBEAT)
        self._run_state = r.register_script(lua.RUN_STATE)
        self._leave = r.register_script(lua.LEAVE)
        self._claim_text = r.register_script(lua.CLAIM_TEXT)
        self._return_seq = r.register_script(lua.RETURN_SEQ)
        self._forget_text = r.register_script(lua.FORGET_TEXT)
        self._raise_seq = r.register_script(lua.RAISE_SEQ)
        self._reserve = r.register_script(lua.RESERVE)
        self._lock = threading.Lock()  # what the threads below share
        # leases: ids chosen here (unique per process), the ones handed out, the ones finished
        self._lease_prefix = uuid.uuid4().hex[:6]
        self._lease_numbers = itertools.count(1)
        self._live: set[str] = set()
        self._done: list[str] = []
        self._seeded = False  # said seeded, not yet written (the next batched step writes it)
        # text numbers reserved ahead: [next, end), in blocks of 1, 2, 4 … up to numbers_ahead
        self.numbers_ahead = numbers_ahead
        self._numbers = (0, 0)
        self._block = 1
        # the scheduler's "a step is wanted" (called on the reactor: a lease ended, seeded said)
        self.wake: Any = None
        # archived URLs: every worker's, in memory by url_key; this worker's, to write behind
        self._archived: dict[int, str] = {}
        self._log_id = "0-0"  # the last archived_log entry read
        self._to_share: dict[str, str] = {}
        self._to_heal: set[str] = set()
        # a heal must not delete a failure row written after it: a row goes in between flushes
        self._flush_lock = threading.Lock()

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

    def close(self) -> None:
        self.redis.close()
        self._sync_redis.close()

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

    def _checked(self, script: Any, keys: list[str], args: list[Any], **kw: Any) -> Any:
        """Run a script that ends its keys with the epoch and its arguments with the epoch
        joined under (:data:`lua.EPOCH_CHECK`); StateLost if Redis no longer holds it."""
        try:
            return script(keys=[*keys, self.keys["epoch"]], args=[*args, self.epoch], **kw)
        except redis.ResponseError as exc:
            if not _lost(exc):
                raise
            self.lost = True
            raise StateLost(
                f"Redis at {redact(self.url)} no longer holds cluster {self.ns}'s state "
                f"(epoch {self.epoch} gone)"
            ) from None

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

    # --- leases and the queue: in batches ----------------------------------------------------
    def lease_ids(self, n: int) -> list[str]:
        """`n` new lease ids, unique to this process (the lease hash is this worker's own)."""
        return [f"{self._lease_prefix}.{next(self._lease_numbers)}" for _ in range(n)]

    def sync(
        self,
        ended: Sequence[str] = (),
        pushes: Sequence[Push] = (),
        lease_ids: Sequence[str] = (),
        drained: bool = True,
    ) -> SyncResult:
        """One batched step (:data:`lua.SYNC`): end the leases `ended`, admit and queue
        `pushes` (ending the leases they replace), take up to ``len(lease_ids)`` requests under
        those ids, and, when `drained` (nothing queued here is left unsent), write "seeded" if
        :meth:`seeded` was said. Blocking: call it from a thread. A RedisError may come after
        Redis ran it: :meth:`recover` finds what it took."""
        with self._lock:
            seeded = self._seeded and drained
            self._seeded = self._seeded and not drained
        args: list[Any] = [len(ended), *ended, len(pushes)]
        for push in pushes:
            args += [push.fingerprint, push.depth, push.score, push.data, push.release]
        args += [len(lease_ids), *lease_ids, "1" if seeded else "0"]
        k = self.keys
        try:
            admitted, taken, n_ended = self._checked(
                self._sync, [k["requests"], k["dupefilter"], self.leases_key, k["run"]], args,
                client=self._sync_redis,
            )  # fmt: skip
        except redis.RedisError:
            if seeded:
                with self._lock:
                    self._seeded = True  # for the next step
            raise
        pairs = [(taken[n].decode(), taken[n + 1]) for n in range(0, len(taken), 2)]
        self.leased(lease for lease, _ in pairs)
        return SyncResult([int(a) for a in admitted], pairs, int(n_ended))

    def recover(self, lease_ids: Sequence[str]) -> list[tuple[str, bytes]]:
        """After a :meth:`sync` that failed: the requests it took all the same (Redis ran it,
        the answer was lost), as (lease id, request); they are this worker's to fetch."""
        if not lease_ids:
            return []
        values = self._sync_redis.hmget(self.leases_key, list(lease_ids))
        found = [(lease, v.split(b"|", 1)[1]) for lease, v in zip(lease_ids, values, strict=True)
                 if v is not None]  # fmt: skip
        self.leased(lease for lease, _ in found)
        return found

    def pop(self) -> tuple[str, bytes] | None:
        """Take the best request of the queue under a lease: (lease id, serialized request)."""
        taken = self.sync(lease_ids=self.lease_ids(1), drained=False).taken
        return taken[0] if taken else None

    def leased(self, leases: Iterable[str]) -> None:
        """Leases this process holds, until :meth:`lease_done` or :meth:`release`."""
        with self._lock:
            self._live.update(leases)

    def lease_done(self, lease: str) -> bool:
        """The lease's request is finished: its lease ends with the next batched step. False
        when it had ended already (or is not this process's)."""
        with self._lock:
            if lease not in self._live:
                return False
            self._live.discard(lease)
            first = not self._done
            self._done.append(lease)
        if first and self.wake is not None:
            self.wake()
        return True

    def release(self, lease: str) -> bool:
        """The lease ends with the request that replaces its own (a retry, a redirect): the
        caller sends it with that request's :class:`Push`. False when it had ended already."""
        with self._lock:
            if lease not in self._live:
                return False
            self._live.discard(lease)
            return True

    def take_done(self, limit: int = MAX_BATCH) -> list[str]:
        """Finished leases for the next batched step (put back with :meth:`put_back_done`)."""
        with self._lock:
            taken, self._done = self._done[:limit], self._done[limit:]
        return taken

    def put_back_done(self, leases: Sequence[str]) -> None:
        with self._lock:
            self._done[:0] = leases

    def seeded_waiting(self) -> bool:
        with self._lock:
            return self._seeded

    def done_waiting(self) -> int:
        with self._lock:
            return len(self._done)

    def complete(self, lease: str) -> bool:
        """End one lease now (tools and tests; the crawl ends them in batches)."""
        with self._lock:
            self._live.discard(lease)
        return bool(self.redis.hdel(self.leases_key, lease))

    def leases(self) -> int:
        return int(self.redis.hlen(self.leases_key))

    def queued(self) -> int:
        return int(self.redis.zcard(self.keys["requests"]))

    # --- texts ------------------------------------------------------------------------------
    def claim_text(self, sha256: str) -> tuple[str, int]:
        """('new' | 'mine', NNN): write it. ('stored' | 'elsewhere', NNN): another has it.
        A new text is one HSETNX under a number reserved ahead (:meth:`_reserved`); the Lua
        step decides only for a text found there already. Called from one thread (the text
        writer's)."""
        number = self._reserved()
        texts = self.keys["texts"]
        if self.redis.hsetnx(texts, sha256, f"{number}|{self.worker}"):
            outcome, seq = "new", number
        else:
            answer, claimed = self._claim_text(
                keys=[texts], args=[sha256, self.worker, self.ns, number]
            )
            outcome, seq = answer.decode(), int(claimed)
        if outcome == "new":
            with self._lock:
                self._numbers = (number + 1, self._numbers[1])
        return outcome, seq

    def _reserved(self) -> int:
        """The next text number this worker reserved; a block reserved first if none is left
        (one INCRBY: 1, 2, 4 … up to ``CLUSTER_TEXT_NUMBERS_AHEAD`` numbers)."""
        with self._lock:
            start, end = self._numbers
            if start < end:
                return start
            block = self._block
        # checked: an empty Redis would hand out numbers the archives used already
        end = int(self._checked(self._reserve, [self.keys["text_seq"]], [block]))
        with self._lock:
            self._numbers = (end - block, end)
            self._block = max(1, min(block * 2, self.numbers_ahead))
        return end - block

    def return_numbers(self) -> tuple[int, bool]:
        """At the close: (numbers reserved and not used, whether they were given back). Not
        given back when another worker reserved numbers after them: skipped, never reused."""
        with self._lock:
            start, end = self._numbers
            self._numbers = (0, 0)
        if start >= end:
            return 0, True
        given = self._return_seq(keys=[self.keys["text_seq"]], args=[end, start])
        return end - start, bool(given)

    def text_stored(self, sha256: str, seq: int) -> None:
        """At once, not written behind: a claim of this worker's that outlived it would be
        taken over, and its text written twice."""
        self.redis.hset(self.keys["texts"], sha256, seq)

    def forget_text(self, sha256: str, seq: int, urls: Iterable[str]) -> None:
        """Undo text_stored and mark_archived for a text this worker dropped (its WARC record
        did not survive a crash): the URLs are fetched and the text written again."""
        urls = list(dict.fromkeys(urls))
        k = self.keys
        self._forget_text(keys=[k["texts"], k["archived"], k["archived_log"]],
                          args=[sha256, seq, self.worker, ARCHIVED_LOG_MAX, *urls])  # fmt: skip
        with self._lock:
            for url in urls:
                self._archived.pop(url_key(url), None)
                self._to_share.pop(url, None)

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

    # --- archived URLs and failures: from memory, written behind ----------------------------
    def load_archived(self) -> int:
        """Read every worker's archived URLs into memory (at the start, in a thread): the
        spider's "archived by any worker?" never waits for Redis. Returns how many."""
        key, log = self.keys["archived"], self.keys["archived_log"]
        last = self.redis.xrevrange(log, count=1)
        log_id = last[0][0].decode() if last else "0-0"  # taken first: nothing falls between
        archived: dict[int, str] = {}
        times: dict[bytes, str] = {}  # one string per distinct time
        cursor = 0
        while True:
            cursor, page = self.redis.hscan(key, cursor, count=SCAN_COUNT)
            for url, at in page.items():
                text = times.get(at)
                if text is None:
                    text = times[at] = at.decode()
                archived[url_key(url.decode("utf-8", "surrogateescape"))] = text
            if not cursor:
                break
        with self._lock:
            archived.update(self._archived)  # this run's, if any came first
            self._archived, self._log_id = archived, log_id
        return len(archived)

    def archived_at_cached(self, url: str) -> str | None:
        """When any worker archived `url`, as known here (loaded by :meth:`load_archived`,
        kept fresh by :meth:`flush`): never a Redis call."""
        return self._archived.get(url_key(url))

    def mark_archived(self, urls: Iterable[str], at: str) -> None:
        """Known here at once, shared with the others by the next :meth:`flush`."""
        with self._lock:
            for url in urls:
                self._archived[url_key(url)] = at
                if self._to_share.get(url, "") < at:
                    self._to_share[url] = at

    def archived_at(self, url: str) -> str | None:
        """Redis's answer (tools and tests; the crawl asks :meth:`archived_at_cached`)."""
        at = self.redis.hget(self.keys["archived"], url)
        return at.decode() if at else None

    def put_failure(self, row: dict[str, Any]) -> None:
        """At once (a failure row is rare), never before a heal of the same URL said earlier."""
        with self._flush_lock:
            with self._lock:
                self._to_heal.discard(row["url"])
            self.redis.hset(self.keys["failures"], row["url"], json.dumps(row, sort_keys=True))

    def heal(self, url: str) -> None:
        """The URL's shared failure row, if any, goes with the next :meth:`flush`."""
        with self._lock:
            self._to_heal.add(url)

    def flush(self, pull: bool = True) -> FlushResult:
        """Write what waits behind (archived URLs, healed failures) and, with `pull`, read what
        the workers archived since the last time, in one pipeline. Blocking: call it from a
        thread. On a RedisError what was taken waits for the next one."""
        with self._flush_lock:
            with self._lock:
                share, self._to_share = self._to_share, {}
                heal, self._to_heal = self._to_heal, set()
                log_id = self._log_id
            k = self.keys
            pipe = self.redis.pipeline(transaction=False)
            if share:
                pipe.hset(k["archived"], mapping=share)
                pipe.xadd(k["archived_log"], share, maxlen=ARCHIVED_LOG_MAX, approximate=True)
            if heal:
                pipe.hdel(k["failures"], *heal)
            if pull:
                pipe.xread({k["archived_log"]: log_id}, count=PULL_COUNT)
            try:
                replies = pipe.execute() if (share or heal or pull) else []
            except redis.RedisError:
                with self._lock:
                    for url, at in share.items():
                        if self._to_share.get(url, "") < at:
                            self._to_share[url] = at
                    self._to_heal |= heal
                raise
            result = FlushResult(shared=len(share), healed=len(heal))
            if pull and replies and replies[-1]:
                result.pulled = self._read_log(replies[-1])
        return result

    def _read_log(self, reply: Any) -> int:
        pulled = 0
        with self._lock:
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    for url, at in fields.items():
                        key = url_key(url.decode("utf-8", "surrogateescape"))
                        if at:
                            text = at.decode()
                            if self._archived.get(key, "") < text:
                                self._archived[key] = text
                        else:  # forgotten (its text dropped): fetched again
                            self._archived.pop(key, None)
                        pulled += 1
                    self._log_id = entry_id.decode()
        return pulled

    def waiting(self) -> dict[str, int]:
        """What is written behind and not yet written (for the log at close)."""
        with self._lock:
            return {"archived": len(self._to_share), "healed": len(self._to_heal)}

    def failures(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.hvals(self.keys["failures"])]

    def failure_values(self) -> list[bytes]:
        """The shared failure rows as stored: anyone who can write to Redis wrote them, so they
        are read through :func:`crawler.cluster.admission.admitted_failures`."""
        return list(self.redis.hvals(self.keys["failures"]))
