"""DiskGuard: a crawl keeps a floor of free space on the archive's disk, and a full disk ends it
with one line, not thousands.

At start (``spider_opened``) a disk with less than ``ARCHIVE_MIN_FREE_MB`` free stops the crawl
before its first request (``newsarchiver crawl`` checks the same before it takes the lock). Any
component whose write fails for want of space (or that would take the disk below the floor: the
WARC capture checks before each write) sends the ``disk_full`` signal; the first one is logged
once, at CRITICAL, naming the path and its free space, and closes the spider with the finish
reason ``disk_full`` (the CLI's exit code 5). Later ones are only counted. The run's own log file
stops on its first failed write (:class:`~crawler.extensions.run_log.RunLog`), and the run
summary is written if there is room for it.

Settings: ``ARCHIVE_DIR``, ``ARCHIVE_MIN_FREE_MB``.
Stats: ``disk/full/<source>`` (warc, text, …), ``disk/free_mb_at_stop``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import deferred_from_coro

from pipelines import signals as na_signals
from storage.diskspace import DiskFull, check_free
from storage.layout import ArchiveLayout

logger = logging.getLogger(__name__)

FINISH_REASON = "disk_full"


class DiskGuard:
    def __init__(
        self, layout: ArchiveLayout, min_free_bytes: int, stats: StatsCollector,
        stop: Callable[[str], None],
    ) -> None:  # fmt: skip
        self.layout = layout
        self.min_free_bytes = min_free_bytes
        self.stats = stats
        self.stop = stop  # closes the spider with a finish reason
        self.error: DiskFull | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DiskGuard:
        s = crawler.settings
        assert crawler.stats is not None

        def stop(reason: str) -> None:
            if crawler.engine is not None:
                deferred_from_coro(crawler.engine.close_spider_async(reason=reason))

        ext = cls(ArchiveLayout(s["ARCHIVE_DIR"]), int(s.getfloat("ARCHIVE_MIN_FREE_MB") * 1e6),
                  crawler.stats, stop)  # fmt: skip
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.disk_full, signal=na_signals.disk_full)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        try:
            check_free(self.layout.root, self.min_free_bytes)
        except DiskFull as exc:
            self.disk_full(exc, "start")

    def disk_full(self, error: DiskFull, source: str) -> None:
        self.stats.inc_value(f"disk/full/{source}")
        if self.error is not None:
            return
        self.error = error
        self.stats.set_value("disk/free_mb_at_stop", round(error.free / 1e6, 1))
        self.stats.set_value("disk/error", str(error))
        logger.critical("stopping the crawl: %s", error)
        self.stop(FINISH_REASON)
