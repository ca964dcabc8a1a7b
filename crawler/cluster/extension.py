"""ClusterWorker: one worker's membership in a distributed crawl.

At start (``from_crawler``, before the first request) it checks that Redis answers and joins the
run: the first worker of a run seeds it (the spider asks :meth:`ClusterState.should_seed`), the
others take requests from the queue; a worker id used by a live process is refused. When the
spider opens it reads every worker's archived URLs into memory, in a thread
(:meth:`ClusterState.load_archived`: the spider's "archived by any worker?" is asked of memory).
While the crawl runs, a heartbeat in a thread refreshes this worker's ``alive`` key and moves
the leases of dead workers back to the queue, and every ``CLUSTER_FLUSH_INTERVAL`` seconds one
pipeline, in a thread too, writes what is written behind (this worker's archived URLs, healed
failures) and reads the URLs the others archived since (:meth:`ClusterState.flush`). When this
worker runs out of requests it stays open while the run has queued requests, is being seeded, or
other workers hold requests (which may find more), and polls for them, asking Redis in a thread
and deciding on its last answer; it closes when none do. On closing it leaves the run: its
unfinished leases go back to the queue (a shutdown, a lost Redis) or are dropped (a finished
crawl has none that matter), and the last worker out deletes the run's queue and seen-URL filter.

Redis lost midway: the heartbeat keeps trying; after ``CLUSTER_REDIS_LOST_TIMEOUT`` seconds
without it the crawl closes with reason ``cluster_redis_lost``, its pipelines finish and its
archive stays consistent; its leases are requeued by the other workers once its alive key
expires.

Redis back, but empty (restarted without persistence, flushed): its queue, seen-URL filter and
run keys are gone, and the run would look over. The scripts the worker runs anyway check the
cluster's epoch (:class:`.connection.StateLost`); the first to find it gone closes the
crawl with reason ``cluster_state_lost`` (exit 1) and an error naming the cause, never
``finished``: what was in flight is recorded as failed, due at once, and a new run (seeded
again) skips what the archives hold.

Settings: ``CLUSTER_ENABLED``, ``REDIS_URL``, ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``,
``CLUSTER_HEARTBEAT``, ``CLUSTER_WORKER_TTL``, ``CLUSTER_REDIS_LOST_TIMEOUT``,
``CLUSTER_IDLE_POLL``, ``CLUSTER_FLUSH_INTERVAL``, ``CLUSTER_SEED_ONLY``.
Stats: ``cluster/role/<seeder|resumer|joiner>``, ``cluster/leases/reclaimed``,
``cluster/leases/{requeued,dropped}_at_close``, ``cluster/idle_waits``, ``cluster/run_ended``,
``cluster/archived/{loaded,shared,pulled}``, ``cluster/heals/shared``, ``cluster/flushes``,
``cluster/redis_errors/{heartbeat,idle,leave,archived,flush}``,
``cluster/state_lost`` and ``cluster/state_lost/<heartbeat|idle|sync>`` (where it was found).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import task, threads
from twisted.internet.defer import Deferred

from crawler.cluster.archived_state import FlushResult
from crawler.cluster.connection import StateLost
from crawler.cluster.state import ClusterState, redact
from pipelines.run_id import run_id_for
from pipelines.twisted_util import nudge_engine
from storage.clock import iso, utc_now

logger = logging.getLogger(__name__)

LOST_REASON = "cluster_redis_lost"
STATE_LOST_REASON = "cluster_state_lost"  # crawler.runner prints what to do
STATE_LOST_MESSAGE = (
    "Redis lost the cluster's state (its queue, seen-URL filter and run are gone): restarted "
    "without persistence? Use appendonly yes; re-seed and run again: the archive is consistent "
    "and a new run resumes from it"
)


class ClusterWorker:
    def __init__(
        self,
        state: ClusterState,
        stats: StatsCollector,
        run_id: str,
        *,
        heartbeat: float,
        ttl: int,
        lost_timeout: float,
        idle_poll: float,
        seed_only: bool,
        flush_interval: float,
    ) -> None:
        self.state = state
        self.stats = stats
        self.run_id = run_id
        self.heartbeat_interval = heartbeat
        self.ttl = ttl
        self.lost_timeout = lost_timeout
        self.idle_poll = idle_poll
        self.crawler: Crawler | None = None
        self.role = ""
        self.cluster_run = ""
        self._lost_since: float | None = None
        self._closing = False
        self._loop: task.LoopingCall | None = None
        self.seed_only = seed_only  # newsarchiver seed: queue the seeds, take nothing, leave
        self.flush_interval = flush_interval
        self._flush_loop: task.LoopingCall | None = None
        self._flush_failing = False
        # the last answer to "is the run over?": with this worker's activity when it was
        # asked, and when it came
        self._run_state: tuple[str, int, float] = ("unknown", -1, 0.0)
        self._asking = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterWorker:
        s = crawler.settings
        if not s.getbool("CLUSTER_ENABLED"):
            raise NotConfigured("CLUSTER_ENABLED is off")
        assert crawler.stats is not None
        ext = cls(
            ClusterState.for_crawler(crawler), crawler.stats, run_id_for(crawler),
            heartbeat=s.getfloat("CLUSTER_HEARTBEAT"), ttl=s.getint("CLUSTER_WORKER_TTL"),
            lost_timeout=s.getfloat("CLUSTER_REDIS_LOST_TIMEOUT"),
            idle_poll=s.getfloat("CLUSTER_IDLE_POLL"), seed_only=s.getbool("CLUSTER_SEED_ONLY"),
            flush_interval=s.getfloat("CLUSTER_FLUSH_INTERVAL"),
        )  # fmt: skip
        ext.crawler = crawler
        ext.state.on_lost = ext.state_lost  # the scheduler's batched step finds it first
        ext.join()  # ClusterError (exit 2) before anything starts
        # beating from now on: opening the pipelines can take longer than CLUSTER_WORKER_TTL
        ext._loop = task.LoopingCall(ext._beat)
        ext._loop.start(ext.heartbeat_interval, now=False)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def join(self) -> None:
        self.state.ping()
        self.role, self.cluster_run = self.state.join(self.run_id, self.ttl, iso(utc_now()))
        self.stats.set_value("cluster/run_id", self.cluster_run)
        self.stats.set_value("cluster/worker", self.state.worker)
        self.stats.inc_value(f"cluster/role/{self.role}")
        logger.info(
            "worker %s joined run %s of cluster %s at %s as %s", self.state.worker,
            self.cluster_run, self.state.ns, redact(self.state.url), self.role,
        )  # fmt: skip

    def _beat(self) -> Deferred[Any]:
        d: Deferred[Any] = threads.deferToThread(self._beat_in_thread)
        d.addCallbacks(self._beat_ok, self._beat_failed)
        return d

    def _beat_in_thread(self) -> tuple[bool, int]:
        return self.state.heartbeat(self.ttl), self.state.reclaim()

    def _beat_ok(self, result: tuple[bool, int]) -> None:
        mine, reclaimed = result
        if self._lost_since is not None:
            logger.warning("Redis is back after %.0f s", time.monotonic() - self._lost_since)
            self._lost_since = None
        if reclaimed:
            self.stats.inc_value("cluster/leases/reclaimed", reclaimed)
            logger.warning("requeued %d request(s) of worker(s) that stopped", reclaimed)
        if not mine:
            logger.error("another process took worker id %s: stopping", self.state.worker)
            self._close("cluster_worker_id_taken")

    def _beat_failed(self, failure: Any) -> None:
        if failure.check(StateLost):
            self.state_lost("heartbeat")
            return
        self.stats.inc_value("cluster/redis_errors/heartbeat")
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
        lost_for = now - self._lost_since
        logger.warning("Redis at %s: %s (%.0f s without it, giving up after %.0f s)",
                       redact(self.state.url), failure.getErrorMessage(), lost_for,
                       self.lost_timeout)  # fmt: skip
        if lost_for >= self.lost_timeout:
            logger.error("Redis lost for %.0f s: closing this worker", lost_for)
            self._close(LOST_REASON)

    def state_lost(self, where: str) -> None:
        """Redis answers without the state this worker joined under: never a finished run.
        (On the reactor: the heartbeat's, the idle poll's and the batched step's errbacks.)"""
        self.stats.inc_value(f"cluster/state_lost/{where}")
        if self.stats.get_value("cluster/state_lost"):
            return
        self.stats.set_value("cluster/state_lost", 1)
        logger.error("%s (cluster %s at %s, found by the %s)", STATE_LOST_MESSAGE, self.state.ns,
                     redact(self.state.url), where)  # fmt: skip
        self._close(STATE_LOST_REASON)

    def _close(self, reason: str) -> None:
        try:
            engine = self.crawler.engine if self.crawler is not None else None
        except RuntimeError:  # not crawling yet (Scrapy's engine is set when the crawl starts)
            engine = None
        if self._closing or engine is None:
            return
        self._closing = True
        d = deferred_from_coro(engine.close_spider_async(reason=reason))
        d.addErrback(lambda f: logger.error("could not close the crawl: %s", f.getErrorMessage()))

    async def spider_opened(self, spider: Spider) -> None:
        """Every worker's archived URLs into memory before the first request, in a thread;
        then the flushes that keep them fresh."""
        if not self.seed_only:  # it asks none
            try:
                loaded = await maybe_deferred_to_future(
                    threads.deferToThread(self.state.load_archived)
                )
            except redis.RedisError as exc:
                # fetched again if found: the text hash keeps the archive free of duplicates
                self.stats.inc_value("cluster/redis_errors/archived")
                logger.warning("could not read the archived URLs from Redis: %s", exc)
            else:
                self.stats.set_value("cluster/archived/loaded", loaded)
        self._flush_loop = task.LoopingCall(self._flush)
        self._flush_loop.start(self.flush_interval, now=False)

    def _flush(self) -> Deferred[Any]:
        d: Deferred[Any] = threads.deferToThread(self.state.flush, not self.seed_only)
        d.addCallbacks(self._flushed, self._flush_failed)
        return d

    def _flushed(self, result: FlushResult) -> None:
        self._flush_failing = False
        self.stats.inc_value("cluster/flushes")
        for key, n in (("cluster/archived/shared", result.shared),
                       ("cluster/archived/pulled", result.pulled),
                       ("cluster/heals/shared", result.healed)):  # fmt: skip
            if n:
                self.stats.inc_value(key, n)

    def _flush_failed(self, failure: Any) -> None:
        # kept for the next flush; the heartbeat decides whether Redis is gone for good
        self.stats.inc_value("cluster/redis_errors/flush")
        if not self._flush_failing:
            logger.warning("could not write archived URLs and healed failures to Redis (%s): "
                           "kept for the next try", failure.getErrorMessage())  # fmt: skip
        self._flush_failing = True

    def _activity(self) -> int:
        """Requests this worker queued or took so far: the run's state, once asked, holds
        until this moves."""
        return int(self.stats.get_value("scheduler/enqueued/redis", 0)) + int(
            self.stats.get_value("scheduler/dequeued/redis", 0)
        )

    def spider_idle(self) -> None:
        """Stay open while the run may still give this worker work. Redis is asked in a
        thread; the worker closes on an answer "done" given since it last did anything."""
        if self._closing or self.seed_only:
            return
        state, activity, at = self._run_state
        fresh = time.monotonic() - at < 2 * self.idle_poll
        if state == "done" and activity == self._activity() and fresh:
            return
        if not self._asking:
            self._asking = True
            activity = self._activity()
            d = threads.deferToThread(self._ask_in_thread)
            d.addCallbacks(self._answered, self._ask_failed, callbackArgs=(activity,))
        self.stats.inc_value("cluster/idle_waits")
        engine = self.crawler.engine if self.crawler is not None else None
        call_later(self.idle_poll, nudge_engine, engine)
        raise DontCloseSpider(f"cluster run {state}")

    def _ask_in_thread(self) -> tuple[int, str]:
        return self.state.reclaim(), self.state.run_state()

    def _answered(self, answer: tuple[int, str], activity: int) -> None:
        self._asking = False
        reclaimed, state = answer
        if reclaimed:
            self.stats.inc_value("cluster/leases/reclaimed", reclaimed)
        self._run_state = (state, activity, time.monotonic())
        if state == "done":  # close now, not at the next poll
            nudge_engine(self.crawler.engine if self.crawler is not None else None)

    def _ask_failed(self, failure: Any) -> None:
        self._asking = False
        if failure.check(StateLost):
            self.state_lost("idle")  # not "done": the run's keys are gone, not empty
            return
        self.stats.inc_value("cluster/redis_errors/idle")
        self._run_state = ("unknown", -1, 0.0)  # the heartbeat decides whether Redis is gone

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        for loop in (self._loop, self._flush_loop):
            if loop is not None and loop.running:
                loop.stop()
        try:
            self._flushed(
                await maybe_deferred_to_future(threads.deferToThread(self.state.flush, False))
            )
        except redis.RedisError as exc:
            self.stats.inc_value("cluster/redis_errors/flush")
            logger.warning("could not share %s with the other workers (%s): a refetch at worst",
                           self.state.waiting(), exc)  # fmt: skip
        if self.state.lost:
            # nothing of the run is left to leave (its leases went with it), and leaving would
            # log "last worker out" of a run a newer one may have replaced
            logger.info("not leaving run %s: Redis lost it", self.cluster_run)
            return
        requeue = reason != "finished"
        try:
            moved, ended = await maybe_deferred_to_future(
                threads.deferToThread(self.state.leave, requeue)
            )
        except redis.RedisError as exc:
            self.stats.inc_value("cluster/redis_errors/leave")
            logger.error("could not leave the cluster run (%s): the other workers requeue this "
                         "worker's requests once its alive key expires", exc)  # fmt: skip
        else:
            if moved:
                key = "requeued_at_close" if requeue else "dropped_at_close"
                self.stats.inc_value(f"cluster/leases/{key}", moved)
                logger.info("%s %d unfinished lease(s)", key.split("_")[0], moved)
            if ended:
                self.stats.set_value("cluster/run_ended", True)
                logger.info("last worker out: run %s of cluster %s is over", self.cluster_run,
                            self.state.ns)  # fmt: skip

    def engine_stopped(self) -> None:
        # the last signal: the pipelines and the failure recorder, which share this state
        # (ClusterState.for_crawler), are done with it
        self.state.close()
