"""PageAnalysis: send each HTML page to a page worker once, and keep its answer for the page.

The crawl process parses no page: the retry middleware (judging soft failures) and the spider
(routing: article or hub, links, requisites, the article's text) both ask :meth:`PageAnalysis.
analyse` for the :class:`~crawler.page_work.PageResult` of a response, and the first to ask
sends the page to the crawl's :class:`~pipelines.worker_pool.WorkerPool`
(:func:`crawler.page_work.analyse_page`); the other gets the same answer, kept beside the
response object (weakly: gone with the response, or with a retry that replaces it). A worker
that dies on the page or hangs past ``EXTRACT_TIMEOUT`` costs that page only (its text, its
links and requisites too): its result says ``failed`` (``extraction_crashed``,
``extraction_timeout``, or ``extraction_error`` for a bug in reading it).

Settings: ``EXTRACT_ENABLED`` (read an article page's text in the same pass),
``EXTRACT_MIN_CHARS``, ``EXTRACT_FUNCTION``; the pool's ``EXTRACT_WORKERS``, ``EXTRACT_TIMEOUT``.
Stats: ``pages/analysed``, ``pages/failed/<reason>``, ``extract/worker_died``,
``extract/timeout``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import load_object

from crawler.outlets import OutletConfig
from crawler.page_work import PageJob, PageResult, analyse_page, probe_fingerprint
from pipelines.article import ArticleText, extract_article
from pipelines.error_pages import NotFoundFingerprint
from pipelines.extract import extractor_kwargs
from pipelines.worker_pool import WorkerPool, WorkTimeout, stats_counter

logger = logging.getLogger(__name__)


def _content_type(response: Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.decode("latin-1") if value else None


class PageAnalysis:
    def __init__(
        self,
        pool: WorkerPool,
        count: Callable[[str], None],
        *,
        extract: bool,
        min_chars: int,
        extract_fn: Callable[..., ArticleText],
    ) -> None:
        self.pool = pool
        self.count = count  # a stats counter
        self.extract = extract
        self.min_chars = min_chars
        # the project's extractor reads the worker's tree; a user's is called with the bytes
        self.extract_fn = None if extract_fn is extract_article else extract_fn
        self._results: weakref.WeakKeyDictionary[Response, PageResult] = weakref.WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageAnalysis:
        settings = crawler.settings
        return cls(
            WorkerPool.for_crawler(crawler), stats_counter(crawler),
            extract=settings.getbool("EXTRACT_ENABLED"),
            min_chars=settings.getint("EXTRACT_MIN_CHARS"),
            extract_fn=load_object(settings["EXTRACT_FUNCTION"]),
        )  # fmt: skip

    async def analyse(
        self,
        request: Request,
        response: Response,
        outlet: OutletConfig,
        *,
        judge: bool = False,
        fingerprint: NotFoundFingerprint | None = None,
        follow: bool = False,
        requisites: str | None = None,
        extract: bool = True,
    ) -> PageResult:
        """The page's result, sent to a worker unless it was already (see the module's
        docstring). `follow`: the links to follow are wanted; `requisites`: ALL/ARTICLES/None;
        `extract`: an article's text is wanted (not for a page whose charset fits nothing)."""
        if (known := self._results.get(response)) is not None:
            return known
        meta = request.meta
        kwargs: dict[str, Any] = {}
        if self.extract_fn is not None:
            kwargs = extractor_kwargs(self.extract_fn, outlet.drop, outlet.keep, self.min_chars,
                                      getattr(response, "encoding", None))  # fmt: skip
        job = PageJob(
            url=response.url, body=response.body, content_type=_content_type(response),
            encoding=getattr(response, "encoding", None),
            urls=(*meta.get("redirect_urls", ()), response.url), judge=judge,
            hub=meta.get("kind") == "hub", fingerprint=fingerprint if judge else None,
            article_by_url=outlet.allowed_article(response.url),
            feed_entry=meta.get("kind") == "feed_entry", extract=self.extract and extract,
            scope=outlet if follow else None, requisites=requisites, drop=outlet.drop,
            keep=outlet.keep, min_chars=self.min_chars, extract_fn=self.extract_fn,
            extract_kwargs=kwargs,
        )  # fmt: skip
        self.count("pages/analysed")

        try:
            result = await self.pool.run(analyse_page, job)
        except BrokenProcessPool as exc:
            logger.error("page worker died on %s: %s", response.url, exc)
            self.count("extract/worker_died")
            result = PageResult(failed=("extraction_crashed", str(exc) or "worker process died"))
        except WorkTimeout as exc:
            logger.error("page worker hung on %s: %s; it was replaced", response.url, exc)
            self.count("extract/timeout")
            result = PageResult(failed=("extraction_timeout", str(exc)))
        except Exception as exc:  # a bug on one page's reading: that page only, recorded
            logger.exception("page worker failed on %s", response.url)
            result = PageResult(failed=("extraction_error", f"{type(exc).__name__}: {exc}"[:500]))
        if result.failed:
            self.count(f"pages/failed/{result.failed[0]}")
        self._results[response] = result
        return result

    async def fingerprint(self, request: Request, response: Response) -> NotFoundFingerprint:
        """A probe's answer as its outlet's fingerprint, read in a worker."""
        urls = [*request.meta.get("redirect_urls", ()), response.url]
        encoding = getattr(response, "encoding", None)
        return await self.pool.run(probe_fingerprint, response.body, _content_type(response),
                                   encoding, response.status, urls)  # fmt: skip
