"""ExtractPipeline: HTML to clean article text, in a pool of worker processes.

Extraction is the CPU-heavy step of the crawl; it runs in ``EXTRACT_WORKERS`` processes (0: one
per usable core) so that the reactor only routes and both cores work. The page's bytes (already
decoded of Content-Encoding) go to :func:`pipelines.article.extract_article` with the outlet's
``drop``/``keep`` selectors and the charset the crawl decoded the page in (``item.encoding``,
from :mod:`crawler.middlewares.charset`); the result is put on ``item.article``. A page with no
article text keeps ``item.article = None`` and ``item.no_article`` = (reason, detail) so that
the store pipeline records it as a failure; a worker that dies is replaced and costs only its
page.

A page whose extraction takes longer than ``EXTRACT_TIMEOUT`` has its worker killed and is a
failure (``extraction_timeout``); a page that kills its worker twice is ``extraction_crashed``.
``EXTRACT_FUNCTION`` names the extractor (a top-level function with the signature of
:func:`pipelines.article.extract_article`), so a user can plug in their own.

Settings: ``EXTRACT_ENABLED``, ``EXTRACT_WORKERS``, ``EXTRACT_MIN_CHARS``, ``EXTRACT_TIMEOUT``,
``EXTRACT_FUNCTION``.
Stats: ``extract/ok``, ``extract/no_article/<reason>``, ``extract/worker_died``,
``extract/timeout``, ``extract/error``.

Workers end with the crawl, however it ends: each watches the crawl's process (a pidfd) and exits
when it is gone, so a SIGKILLed crawl leaves no extraction process behind.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object
from twisted.internet import defer

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


def _init_worker(crawl_pid: int) -> None:
    """In each worker: quiet logs, and a watchdog that ends the worker with the crawl."""
    # trafilatura warns ("discarding data") for every page without text; the pipeline counts
    # those pages itself, so only errors get through to the crawl's stderr
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.ERROR)
    threading.Thread(target=_exit_with, args=(crawl_pid,), name="crawl-watchdog",
                     daemon=True).start()  # fmt: skip


def _exit_with(crawl_pid: int) -> None:
    """Exit as soon as the crawl process is gone. A SIGKILLed crawl runs no cleanup, and a worker
    would wait for work for ever: it holds its own call queue's write end (so never reads EOF),
    and the forkserver, which waits for its last child, lives on too. The worker's parent is the
    forkserver, not the crawl, so a parent-death signal would not fire: watch the crawl itself."""
    try:
        fd = os.pidfd_open(crawl_pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look once a second
        while True:
            try:
                os.kill(crawl_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(1.0)
    select.select([fd], [], [])  # readable once the process has exited
    os._exit(1)


class ExtractionTimeout(Exception):
    pass


class ExtractPipeline:
    def __init__(
        self,
        workers: int,
        min_chars: int,
        stats: StatsCollector,
        timeout: float = 60.0,
        extract_fn: Callable[..., ArticleText] = extract_article,
    ) -> None:
        self.workers = workers or usable_cores()
        self.min_chars = min_chars
        self.timeout = timeout
        self.extract_fn = extract_fn
        # an EXTRACT_FUNCTION written before `encoding` was passed still works (and decodes by
        # its own rules)
        params = inspect.signature(extract_fn).parameters.values()
        self._takes_encoding = any(p.name == "encoding" or p.kind is p.VAR_KEYWORD for p in params)
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
            timeout=settings.getfloat("EXTRACT_TIMEOUT"),
            extract_fn=load_object(settings["EXTRACT_FUNCTION"]),
        )
        pipeline.crawler = crawler
        return pipeline

    def _new_pool(self, workers: int | None = None) -> ProcessPoolExecutor:
        # forkserver: workers are forked from a clean server process, never from the crawler
        # with its reactor threads and open sockets.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
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
                item.body, item.final_url, item.content_type, drop=drop, keep=keep,
                encoding=item.encoding,
            )  # fmt: skip
            self.stats.inc_value("extract/ok")
        except NoArticle as exc:
            self.stats.inc_value(f"extract/no_article/{exc.reason}")
            item.no_article = (exc.reason, exc.detail)
        except BrokenProcessPool as exc:
            logger.error("extraction worker died on %s: %s", item.final_url, exc)
            item.no_article = ("extraction_crashed", str(exc) or "worker process died")
        except ExtractionTimeout as exc:
            logger.error("extraction of %s hung: %s; its worker was replaced", item.final_url, exc)
            item.no_article = ("extraction_timeout", str(exc))
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
        encoding: str | None = None,
    ) -> ArticleText:
        """Extract in the pool. A worker that dies takes every page in flight down with it, so
        after a pool breaks each of those pages is tried again alone, in a worker of its own:
        only the page that kills or hangs that worker is lost."""
        args = (self.extract_fn, body, url, content_type)
        kwargs: dict[str, Any] = {"drop": drop, "keep": keep, "min_chars": self.min_chars}
        if encoding is not None and self._takes_encoding:
            kwargs["encoding"] = encoding
        pool = self._pool
        assert pool is not None, "open_spider() was not called"
        try:
            return await self._run(pool, args, kwargs)
        except BrokenProcessPool:
            if self._pool is pool:
                self.stats.inc_value("extract/worker_died")
                self._replace_broken_pool()
        except CancelledError:
            pass  # still queued when its pool was replaced: it goes on alone too
        alone = self._new_pool(workers=1)
        try:
            return await self._run(alone, args, kwargs)
        except BrokenProcessPool:
            self.stats.inc_value("extract/worker_died")
            raise
        finally:
            alone.shutdown(wait=False, cancel_futures=True)

    async def _run(self, pool: ProcessPoolExecutor, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> ArticleText:  # fmt: skip
        d = deferred_from_future(pool.submit(*args, **kwargs))
        if self.timeout > 0:
            from twisted.internet import reactor

            d.addTimeout(self.timeout, reactor)
        try:
            result: ArticleText = await maybe_deferred_to_future(d)
            return result
        except defer.TimeoutError:
            # a worker stuck on one page: kill the pool's workers (a running task cannot be
            # cancelled otherwise); the other pages in flight then go on alone
            self.stats.inc_value("extract/timeout")
            self._kill(pool)
            if self._pool is pool:
                self._replace_broken_pool()
            raise ExtractionTimeout(f"no result after {self.timeout:g} s") from None

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()

    def _replace_broken_pool(self) -> None:
        old, self._pool = self._pool, self._new_pool()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
