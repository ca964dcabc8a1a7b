"""Progress: Scrapy's periodic stats line, with what an operator of an archive wants to see.

Replaces ``scrapy.extensions.logstats.LogStats`` (same ``LOGSTATS_INTERVAL``, default 60 s):

    progress: 1520 pages (48/min), queue 212, archived 301, duplicates 12, failed 9
"""

from __future__ import annotations

import logging

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.logstats import LogStats

logger = logging.getLogger(__name__)


class Progress(LogStats):
    crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        ext = super().from_crawler(crawler)
        ext.crawler = crawler
        return ext

    def log(self, spider: Spider) -> None:
        self.calculate_stats()
        stats = self.stats.get_stats()
        failed = sum(
            v for k, v in stats.items() if k.startswith("failures/") and k != "failures/healed"
        )
        engine = self.crawler.engine if self.crawler else None
        scheduler = engine.scheduler if engine is not None else None
        queue = len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else 0
        logger.info(
            "progress: %d pages (%d/min), queue %d, archived %d, duplicates %d, failed %d",
            self.pages, self.prate, queue, stats.get("text/written", 0),
            stats.get("text/duplicate", 0), failed,
            extra={"spider": spider},
        )  # fmt: skip
