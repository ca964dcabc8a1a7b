"""ExtractPipeline: HTML to clean article text, in a pool of worker processes.

Extraction is the CPU-heavy step of the crawl; it runs in ``EXTRACT_WORKERS`` processes (0: one
per usable core) so that the reactor only routes and both cores work. The page's bytes (already
decoded of Content-Encoding) go to :func:`pipelines.article.extract_article` with the outlet's
``drop``/``keep`` selectors; the result is put on ``item.article``. A page with no article text
keeps ``item.article = None`` and ``item.no_article`` = (reason, detail) so that the store
pipeline records it as a failure; a worker that dies is replaced and costs only its page.

Settings: ``EXTRACT_ENABLED``, ``EXTRACT_WORKERS``, ``EXTRACT_MIN_CHARS``.
Stats: ``extract/ok``, ``extract/no_article/<reason>``, ``extract/worker_died``, ``extract/error``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.items import ArticleItem
from crawler.settings_check import check_settings
from crawler.twisted_util import deferred_from_future
from pipelines.article import ArticleText, NoArticle, extract_article

logger = logging.getLogger(__name__)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _quiet_worker() -> None:
    """In each worker: trafilatura warns ("discarding data") for every page without text; the
    pipeline counts those pages itself, so only errors get through to the crawl's stderr."""
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.ERROR)


class ExtractPipeline:
    def __init__(self, workers: int, min_chars: int, stats: StatsCollector) -> None:
        self.workers = workers or usable_cores()
        self.min_chars = min_chars
        self.stats = stats
        self.crawler: Crawler | None = None
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings = crawler.settings
        if not settings.getbool("EXTRACT_ENABLED"):
            raise NotConfigured("EXTRACT_ENABLED is off")
        check_settings(settings)
        assert crawler.stats is not None
        pipeline = cls(
            workers=settings.getint("EXTRACT_WORKERS"),
            min_chars=settings.getint("EXTRACT_MIN_CHARS"),
            stats=crawler.stats,
        )
        pipeline.crawler = crawler
        return pipeline

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: workers are forked from a clean server process, never from the crawler
        # with its reactor threads and open sockets.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_quiet_worker
        )

    def open_spider(self) -> None:
        self._pool = self._new_pool()
        logger.info("extraction runs in %d worker process(es)", self.workers)

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _rules(self, outlet: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        spider = self.crawler.spider if self.crawler else None
        config = getattr(spider, "crawl_config", None)
        if config is None:
            return (), ()
        try:
            rules = config.outlet(outlet)
        except KeyError:
            return (), ()
        return rules.drop, rules.keep

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        drop, keep = self._rules(item.outlet)
        try:
            item.article = await self.extract(
                item.body, item.final_url, item.content_type, drop=drop, keep=keep
            )
            self.stats.inc_value("extract/ok")
        except NoArticle as exc:
            self.stats.inc_value(f"extract/no_article/{exc.reason}")
            item.no_article = (exc.reason, exc.detail)
        except BrokenProcessPool as exc:
            logger.error("extraction worker died on %s: %s", item.final_url, exc)
            item.no_article = ("extraction_crashed", str(exc) or "worker process died")
        except Exception as exc:  # a bug or a page the extractor chokes on: one page, recorded
            self.stats.inc_value("extract/error")
            logger.exception("extraction failed on %s", item.final_url)
            item.no_article = ("extraction_error", f"{type(exc).__name__}: {exc}"[:500])
        return item

    async def extract(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        drop: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
    ) -> ArticleText:
        """Extract in the pool. When a worker dies every page in flight fails with it: each is
        tried once more in a new pool, so only the page that kills a worker twice is lost."""
        for attempt in (1, 2):
            pool = self._pool
            assert pool is not None, "open_spider() was not called"
            future = pool.submit(
                extract_article, body, url, content_type,
                drop=drop, keep=keep, min_chars=self.min_chars,
            )  # fmt: skip
            try:
                return await maybe_deferred_to_future(deferred_from_future(future))
            except BrokenProcessPool:
                if self._pool is pool:
                    self.stats.inc_value("extract/worker_died")
                    self._replace_broken_pool()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _replace_broken_pool(self) -> None:
        old, self._pool = self._pool, self._new_pool()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
