"""FailureRecorder: the one writer of failure records (manifest + ARCHIVE/failures.jsonl).

Hears ``page_failed`` from the spider and the pipelines and ``page_ok`` when a listed URL
heals, and writes through :class:`storage.failures.FailureLog` in a writer thread of its own.

In a distributed crawl (``CLUSTER_ENABLED``) each row is also put in Redis (from the writer
thread), where the worker that seeds the next run finds it, whoever recorded it; a URL that
heals anywhere leaves it (written behind, in the cluster's next flush: no Redis call per page).

Settings: ``RETRY_RUNS_MAX`` (failed runs before gave_up), ``RETRY_RUN_BACKOFF`` (seconds before
a URL that failed in one run is due again), ``RETRY_RUN_BACKOFF_FACTOR`` (growth per failed run).
Stats: ``failures/<reason>``, ``failures/healed``, ``failure_records/errors``,
``cluster/redis_errors/failures``, per outlet ``outlet/<name>/failed/<reason>``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.statscollectors import StatsCollector

from crawler.cluster.state import ClusterState
from crawler.requisite_links import REQUISITE
from pipelines import signals as na_signals
from pipelines.run_id import run_id_for
from pipelines.writer_thread import WriterThread
from storage.diskspace import is_disk_full
from storage.failures import FailureLog, RetryPolicy
from storage.layout import ArchiveLayout
from storage.manifest import Manifest

logger = logging.getLogger(__name__)


def retry_policy(settings: BaseSettings) -> RetryPolicy:
    """When a failed URL is requested again in a later run: ``RETRY_RUNS_MAX``,
    ``RETRY_RUN_BACKOFF``, ``RETRY_RUN_BACKOFF_FACTOR``."""
    return RetryPolicy(
        max_runs=settings.getint("RETRY_RUNS_MAX"),
        base_seconds=settings.getfloat("RETRY_RUN_BACKOFF"),
        factor=settings.getfloat("RETRY_RUN_BACKOFF_FACTOR"),
    )


class FailureRecorder:
    def __init__(self, layout: ArchiveLayout, policy: RetryPolicy, run_id: str,
                 stats: StatsCollector, cluster: ClusterState | None = None) -> None:  # fmt: skip
        self.layout = layout
        self.cluster = cluster
        self.policy = policy
        self.run_id = run_id
        self.stats = stats
        self.log: FailureLog | None = None
        self._listed: set[str] = set()
        self._writer = WriterThread("failure-writer")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailureRecorder:
        s = crawler.settings
        policy = retry_policy(s)
        assert crawler.stats is not None
        cluster = ClusterState.for_crawler(crawler) if s.getbool("CLUSTER_ENABLED") else None
        ext = cls(ArchiveLayout(s["ARCHIVE_DIR"]), policy, run_id_for(crawler), crawler.stats,
                  cluster)  # fmt: skip
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        # engine_stopped comes after every spider_closed handler, some of which still record
        # failures (the retry middleware's abandoned retries)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(ext.page_failed, signal=na_signals.page_failed)
        crawler.signals.connect(ext.page_ok, signal=na_signals.page_ok)
        return ext

    async def spider_opened(self, spider: Spider) -> None:
        await self._writer.run(self._open)

    def _open(self) -> None:
        self.layout.ensure()
        manifest = Manifest(self.layout.manifest_path)
        self.log = FailureLog(manifest, self.layout.failures_path, self.policy, self.run_id)
        self._listed = {f["url"] for f in manifest.failures()}

    def page_failed(self, url: str, outlet: str | None, reason: str, status: int | None = None,
                    attempts: int = 1, detail: str = "", kind: str | None = None,
                    retry_after: float | None = None, due_now: bool = False,
                    **_: Any) -> None:  # fmt: skip
        if kind == REQUISITE:
            # not a page of the outlet: counted, never listed (a redirect loop, a retry
            # abandoned at close or a request Redis lost, reported like a page's)
            self.stats.inc_value(f"requisites/failed/{reason}")
            logger.info("requisite failed: %s (%s)", url, reason)
            return
        self.stats.inc_value(f"failures/{reason}")
        if outlet:
            self.stats.inc_value(f"outlet/{outlet}/failed/{reason}")
        self._listed.add(url)
        self._submit(self._record, url, outlet, reason, status, attempts, detail, kind,
                     0.0 if due_now else retry_after, due_now)  # fmt: skip

    def _record(self, url: str, outlet: str | None, reason: str, status: int | None,
                attempts: int, detail: str, kind: str | None, retry_after: float | None,
                due_now: bool) -> None:  # fmt: skip
        assert self.log is not None
        row = self.log.record(url, outlet, reason, status=status, attempts=attempts,
                              detail=detail, kind=kind, retry_after=retry_after,
                              due_now=due_now)  # fmt: skip
        self._shared(lambda c: c.put_failure(row))

    def _shared(self, fn: Any) -> None:
        """Runs in the writer thread: mirror a change into Redis, survive its absence."""
        if self.cluster is None:
            return
        try:
            fn(self.cluster)
        except redis.RedisError as exc:  # the local row is written; only sharing it failed
            self.stats.inc_value("cluster/redis_errors/failures")
            logger.warning("could not share a failure record through Redis: %s", exc)

    def page_ok(self, url: str, **_: Any) -> None:
        if self.cluster is not None:  # maybe listed by another worker: with the next flush
            self.cluster.heal(url)
        if url in self._listed:
            self._listed.discard(url)
            self.stats.inc_value("failures/healed")
            self._submit(self._heal, url)

    def _heal(self, url: str) -> None:
        assert self.log is not None
        self.log.heal(url)

    def _submit(self, fn: Any, *args: Any) -> None:
        d = self._writer.submit(fn, *args)
        d.addErrback(self._write_failed)

    def _write_failed(self, failure: Any) -> None:
        # counted, so that the run summary and the tests see it: never a silent loss
        self.stats.inc_value("failure_records/errors")
        if is_disk_full(failure.value):
            # the disk guard says it once for the crawl; the URL, never archived, comes again
            self.stats.inc_value("failure_records/errors/disk_full")
            logger.debug("could not write a failure record: %s", failure.value)
            return
        logger.error("could not write a failure record: %s", failure.value)

    async def engine_stopped(self) -> None:
        await self._writer.close(self._close)  # after every write queued before it

    def _close(self) -> None:
        if self.log is not None:
            self.log.manifest.close()
