"""ClusterWorker: one worker's membership in a distributed crawl.

At start (``from_crawler``, before the first request) it checks that Redis answers and joins the
run: the first worker of a run seeds it (the spider asks :meth:`ClusterState.should_seed`), the
others take requests from the queue; a worker id used by a live process is refused. While the
crawl runs, a heartbeat in a thread refreshes this worker's ``alive`` key and moves the leases of
dead workers back to the queue. When this worker runs out of requests it stays open while the
run has queued requests, is being seeded, or other workers hold requests (which may find more),
and polls for them; it closes when none do. On closing it leaves the run: its unfinished leases
go back to the queue (a shutdown, a lost Redis) or are dropped (a finished crawl has none that
matter), and the last worker out deletes the run's queue and seen-URL filter.

Redis lost midway: the heartbeat keeps trying; after ``CLUSTER_REDIS_LOST_TIMEOUT`` seconds
without it the crawl closes with reason ``cluster_redis_lost``, its pipelines finish and its
archive stays consistent; its leases are requeued by the other workers once its alive key
expires.

Settings: ``CLUSTER_ENABLED``, ``REDIS_URL``, ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``,
``CLUSTER_HEARTBEAT``, ``CLUSTER_WORKER_TTL``, ``CLUSTER_REDIS_LOST_TIMEOUT``,
``CLUSTER_IDLE_POLL``.
Stats: ``cluster/role/<seeder|resumer|joiner>``, ``cluster/leases/reclaimed``,
``cluster/leases/{requeued,dropped}_at_close``, ``cluster/idle_waits``, ``cluster/run_ended``,
``cluster/redis_errors/{heartbeat,idle,leave}``.
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
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task, threads
from twisted.internet.defer import Deferred

from crawler.cluster.state import ClusterState, redact
from crawler.run import run_id_for
from crawler.twisted_util import nudge_engine
from storage.layout import iso, utc_now

logger = logging.getLogger(__name__)

LOST_REASON = "cluster_redis_lost"


class ClusterWorker:
    def __init__(
        self,
        state: ClusterState,
        stats: StatsCollector,
        run_id: str,
        heartbeat: float = 5.0,
        ttl: int = 30,
        lost_timeout: float = 60.0,
        idle_poll: float = 0.5,
        seed_only: bool = False,
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
        )  # fmt: skip
        ext.crawler = crawler
        ext.join()  # ClusterError (exit 2) before anything starts
        # beating from now on: opening the pipelines can take longer than CLUSTER_WORKER_TTL
        ext._loop = task.LoopingCall(ext._beat)
        ext._loop.start(ext.heartbeat_interval, now=False)
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

    def _close(self, reason: str) -> None:
        if self._closing or self.crawler is None or self.crawler.engine is None:
            return
        self._closing = True
        d = deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))
        d.addErrback(lambda f: logger.error("could not close the crawl: %s", f.getErrorMessage()))

    def spider_idle(self) -> None:
        """Stay open while the run may still give this worker work."""
        if self._closing or self.seed_only:
            return
        try:
            self.stats.inc_value("cluster/leases/reclaimed", self.state.reclaim())
            state = self.state.run_state()
        except redis.RedisError:
            self.stats.inc_value("cluster/redis_errors/idle")
            state = "unknown"  # the heartbeat decides whether Redis is gone for good
        if state == "done":
            return
        self.stats.inc_value("cluster/idle_waits")
        engine = self.crawler.engine if self.crawler is not None else None
        call_later(self.idle_poll, nudge_engine, engine)
        raise DontCloseSpider(f"cluster run {state}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        requeue = reason != "finished"
        try:
            moved, ended = self.state.leave(requeue=requeue)
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
