"""IndexUpdater: bring ``ARCHIVE/indexes/index.cdxj`` up to date at the end of every crawl.

When the WARC capture has closed its files (the ``warc_closed`` signal: still inside the crawl,
under the archive's lock), the index parts its writer wrote as it closed each file (``parts``:
CDXJ lines made as the records were appended) are merged into ``index.cdxj``
(:func:`storage.index.update_index`) in a thread, off the reactor; no WARC file is read back.
Only a closed WARC without a part (repaired after a kill, or whose part could not be written) is
read and indexed (webrecorder's cdxj-indexer). The spider's close waits for it, so that the
crawl's stats and run summary count it. Being a component of the crawl, not of a command, it
runs for ``newsarchiver crawl``, ``scrapy crawl outlets`` and a script's ``CrawlerProcess``
alike.

A crawl stopped by a full disk skips it (its writes would fail too; the next crawl, or
``newsarchiver index``, catches up). An index that cannot be written is an error in the log,
not a crashed crawl: the WARC files are the evidence, the index is made from them again.

Settings: ``ARCHIVE_DIR``. Stats: ``index/updated``, ``index/warcs_indexed`` (files new to the
index), ``index/warcs_read`` (of those, the files indexed by reading them),
``index/skipped/disk_full``, ``index/errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.extensions.disk_guard import FINISH_REASON as DISK_FULL
from pipelines import signals as na_signals
from storage.index import update_index
from storage.layout import ArchiveLayout

logger = logging.getLogger(__name__)


class IndexUpdater:
    def __init__(self, layout: ArchiveLayout, stats: StatsCollector) -> None:
        self.layout = layout
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexUpdater:
        assert crawler.stats is not None
        ext = cls(ArchiveLayout(crawler.settings["ARCHIVE_DIR"]), crawler.stats)
        crawler.signals.connect(ext.warc_closed, signal=na_signals.warc_closed)
        return ext

    async def warc_closed(self, reason: str, parts: Sequence[str] = ()) -> None:
        if reason == DISK_FULL:
            self.stats.inc_value("index/skipped/disk_full")
            logger.warning("the index was not updated (the disk is full): run `newsarchiver "
                           "index` once there is room, or let the next crawl do it")  # fmt: skip
            return
        try:
            done = await maybe_deferred_to_future(
                deferToThread(update_index, self.layout, False, set(parts))
            )
        except Exception as exc:
            self.stats.inc_value("index/errors")
            logger.error("could not update the index %s: %s (the WARC files are whole; "
                         "`newsarchiver index` makes it)", self.layout.index_path, exc)  # fmt: skip
            return
        self.stats.inc_value("index/updated")
        self.stats.inc_value("index/warcs_indexed", len(done.indexed))
        if done.read:
            self.stats.inc_value("index/warcs_read", len(done.read))
