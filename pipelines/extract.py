"""ExtractPipeline: the article text of each ArticleItem, counted, and read where still missing.

A crawl's page workers read an article's text in the same pass as every other decision on the
page (:mod:`crawler.page_work`): such an item comes ``analysed``, with ``item.article`` (an
:class:`~pipelines.article.ArticleText`) or ``item.no_article`` = (reason, detail), and this
pipeline only counts it. An item no page worker read (a spider of the user's own) is extracted
here, in the crawl's :class:`~pipelines.worker_pool.WorkerPool`: its bytes (already decoded of
Content-Encoding) go to ``EXTRACT_FUNCTION`` (:func:`pipelines.article.extract_article` unless
a user plugs in their own, same signature) with the outlet's ``drop``/``keep`` selectors and
the charset the crawl decoded the page in (``item.encoding``). A page with no article text
keeps ``item.article = None`` and ``item.no_article`` set, so that the store pipeline records
it as a failure; a worker that dies or hangs past ``EXTRACT_TIMEOUT`` costs only its page
(``extraction_crashed``, ``extraction_timeout``).

Settings: ``EXTRACT_ENABLED``, ``EXTRACT_WORKERS``, ``EXTRACT_MIN_CHARS``, ``EXTRACT_TIMEOUT``,
``EXTRACT_FUNCTION``.
Stats: ``extract/ok``, ``extract/no_article/<reason>``, ``extract/worker_died``,
``extract/timeout``, ``extract/error``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.misc import load_object

from pipelines.article import ArticleText, NoArticle
from pipelines.items import ArticleItem
from pipelines.worker_pool import WorkerPool, WorkTimeout

logger = logging.getLogger(__name__)


def extractor_kwargs(
    fn: Callable[..., ArticleText],
    drop: tuple[str, ...],
    keep: tuple[str, ...],
    min_chars: int,
    encoding: str | None,
) -> dict[str, Any]:
    """The keyword arguments an EXTRACT_FUNCTION is called with. One written before `encoding`
    was passed still works (and decodes by its own rules)."""
    kwargs: dict[str, Any] = {"drop": drop, "keep": keep, "min_chars": min_chars}
    params = inspect.signature(fn).parameters.values()
    if encoding is not None and any(
        p.name == "encoding" or p.kind is p.VAR_KEYWORD for p in params
    ):
        kwargs["encoding"] = encoding
    return kwargs


class ExtractPipeline:
    def __init__(
        self,
        workers: int,
        min_chars: int,
        stats: StatsCollector,
        *,
        timeout: float,
        extract_fn: Callable[..., ArticleText],
        pool: WorkerPool | None = None,
    ) -> None:
        self.min_chars = min_chars
        self.extract_fn = extract_fn
        self.stats = stats
        self.crawler: Crawler | None = None
        self.pool = pool if pool is not None else WorkerPool(workers, stats.inc_value, timeout)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings = crawler.settings
        if not settings.getbool("EXTRACT_ENABLED"):
            raise NotConfigured("EXTRACT_ENABLED is off")
        assert crawler.stats is not None
        pipeline = cls(
            workers=settings.getint("EXTRACT_WORKERS"),
            min_chars=settings.getint("EXTRACT_MIN_CHARS"),
            stats=crawler.stats,
            timeout=settings.getfloat("EXTRACT_TIMEOUT"),
            extract_fn=load_object(settings["EXTRACT_FUNCTION"]),
            pool=WorkerPool.for_crawler(crawler),
        )
        pipeline.crawler = crawler
        return pipeline

    def open_spider(self) -> None:
        self.pool.start()

    def close_spider(self) -> None:
        self.pool.close()

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
        if item.analysed:  # its page worker read the text already
            self._count(item)
            return item
        drop, keep = self._rules(item.outlet)
        try:
            item.article = await self.extract(
                item.body, item.final_url, item.content_type, drop=drop, keep=keep,
                encoding=item.encoding,
            )  # fmt: skip
        except NoArticle as exc:
            item.no_article = (exc.reason, exc.detail)
        except BrokenProcessPool as exc:
            logger.error("extraction worker died on %s: %s", item.final_url, exc)
            self.stats.inc_value("extract/worker_died")
            item.no_article = ("extraction_crashed", str(exc) or "worker process died")
        except WorkTimeout as exc:
            logger.error("extraction of %s hung: %s; its worker was replaced", item.final_url, exc)
            self.stats.inc_value("extract/timeout")
            item.no_article = ("extraction_timeout", str(exc))
        except Exception as exc:  # a bug or a page the extractor chokes on: one page, recorded
            item.extract_error = True
            logger.exception("extraction failed on %s", item.final_url)
            item.no_article = ("extraction_error", f"{type(exc).__name__}: {exc}"[:500])
        self._count(item)
        return item

    def _count(self, item: ArticleItem) -> None:
        if item.article is not None:
            self.stats.inc_value("extract/ok")
        elif item.extract_error:
            self.stats.inc_value("extract/error")
        elif item.no_article is not None and not item.no_article[0].startswith("extraction_"):
            self.stats.inc_value(f"extract/no_article/{item.no_article[0]}")

    async def extract(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        drop: tuple[str, ...] = (),
        keep: tuple[str, ...] = (),
        encoding: str | None = None,
    ) -> ArticleText:
        """Extract in the pool (:meth:`WorkerPool.run`: a page that kills or hangs its worker
        is the only one lost)."""
        kwargs = extractor_kwargs(self.extract_fn, drop, keep, self.min_chars, encoding)
        return await self.pool.run(self.extract_fn, body, url, content_type, **kwargs)
