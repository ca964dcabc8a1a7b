"""Page requisites: what an archived page needs to replay as its reader saw it.

For every article page the crawl archives (and every hub page with ``ARCHIVE_REQUISITES_HUBS``),
the page worker that reads the page lists its stylesheets, scripts, images, fonts and icons
(:mod:`crawler.page_work`, :mod:`crawler.requisite_links`) and :meth:`Requisites.for_page`
returns the requests for them; a stylesheet's own ``@import``, fonts and images come from
:meth:`Requisites.for_stylesheet` once it is fetched. Requisites on other hosts (CDNs) are
fetched too; robots.txt and politeness (Scrapy's per-host slots, AutoThrottle) apply to each
host as to the outlet's own pages. Each URL is requested once per run, so one shared stylesheet
is one request; one the archive already holds with the same payload becomes a revisit record
(:mod:`crawler.extensions.warc_capture`). Requisites never become texts or articles, and their
failures are counted and logged, never listed as the outlet's failures.

Limits, each counted with its reason when it bites: ``ARCHIVE_REQUISITES_MAX_SIZE`` (bytes of one
requisite: Scrapy's ``download_maxsize``), ``ARCHIVE_REQUISITES_MAX_PER_PAGE`` (what one page or
stylesheet may add; stylesheets and scripts go first, then fonts, icons, images),
``ARCHIVE_REQUISITES_MAX_PER_RUN``.

Settings: ``ARCHIVE_REQUISITES``, ``ARCHIVE_REQUISITES_HUBS``, the three limits,
``URLLENGTH_LIMIT`` (a longer requisite URL is skipped). Per request:
``meta["dont_archive_requisites"] = True`` fetches the page without its requisites.
Request meta of a requisite: ``kind="requisite"``, ``requisite`` (its kind), ``requisite_of``
(the page or stylesheet that named it), ``requisite_level`` (0: named by the page), ``outlet``.

Stats: ``requisites/pages``, ``requisites/found``, ``requisites/requested/<kind>``,
``requisites/fetched/<kind>``, ``requisites/bytes``, ``requisites/failed/<reason>`` (the
reasons of :mod:`crawler.failure_reasons`, ``robots``, and ``unread``: a stylesheet its worker
died or hung on),
``requisites/skipped/{seen,page_limit,run_limit,url_too_long,import_depth}`` (a stylesheet
@imported more than ``MAX_IMPORT_DEPTH`` stylesheets below its page: generated chains end).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.python.failure import Failure
from w3lib.encoding import http_content_type_encoding

from crawler.failure_reasons import failed_request, failure_reason
from crawler.middlewares.retry import RetryLater
from crawler.page_work import ALL, ARTICLES
from crawler.requisite_links import (
    ORDER,
    REQUISITE,
    STYLESHEET,
    Requisite,
    css_requisites,
)
from pipelines.worker_pool import WorkerPool, WorkTimeout

logger = logging.getLogger(__name__)

KIND = REQUISITE  # meta["kind"] of a requisite request
# a stylesheet @imported by a stylesheet… this deep at most: a chain of generated URLs ends
MAX_IMPORT_DEPTH = 4


class Requisites:
    def __init__(
        self,
        count: Callable[[str, int], None],
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any],
        *,
        hubs: bool,
        max_size: int,
        max_per_page: int,
        max_per_run: int,
        max_url_length: int,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self.count = count  # (stats key, amount): the crawler's stats, made after this
        self.callback = callback
        self.errback = errback
        self.hubs = hubs
        self.max_size = max_size
        self.max_per_page = max_per_page
        self.max_per_run = max_per_run
        self.max_url_length = max_url_length
        self._requested: set[str] = set()  # URLs asked for in this run
        # where a stylesheet is read: the crawl's worker processes (tinycss2 is pure Python, a
        # thread would hold the crawl's GIL)
        self._run = run

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, callback: Callable[..., Any], errback: Callable[[Failure], Any]
    ) -> Requisites:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_REQUISITES"):
            raise NotConfigured("ARCHIVE_REQUISITES is off")
        # crawler.settings_check has made sure each is at least 1
        limits = {name.lower(): settings.getint(f"ARCHIVE_REQUISITES_{name}")
                  for name in ("MAX_SIZE", "MAX_PER_PAGE", "MAX_PER_RUN")}  # fmt: skip

        def count(key: str, amount: int) -> None:
            assert crawler.stats is not None
            crawler.stats.inc_value(key, amount)

        return cls(
            count, callback, errback, hubs=settings.getbool("ARCHIVE_REQUISITES_HUBS"),
            max_url_length=settings.getint("URLLENGTH_LIMIT") or 2**31,
            run=WorkerPool.for_crawler(crawler).run, **limits,
        )  # fmt: skip

    def wanted(self, meta: dict[str, Any], status: int) -> str | None:
        """Whose requisites are read from this page (``page_work.ALL``: any page,
        ``ARTICLES``: an article's, by setting), or None: not for a page read back from its
        last capture after a 304 (its requisites were fetched with that capture), not for an
        opted-out one. `meta`: the page's request's."""
        if meta.get("dont_archive_requisites") or meta.get("dont_archive"):
            return None
        if meta.get("not_modified") or status != 200:
            return None
        return ALL if self.hubs else ARTICLES

    def for_page(
        self, found: Iterable[Requisite], response: Response, outlet: str
    ) -> list[Request]:
        """The requests for the requisites a page worker read from an HTML page."""
        self.count("requisites/pages", 1)
        return self.requests_for(list(found), response.url, outlet)

    async def for_stylesheet(self, response: Response) -> list[Request]:
        """The requisites a fetched stylesheet names (@import, fonts, images)."""
        self.fetched(response)
        if response.meta.get("requisite") != STYLESHEET or response.status != 200:
            return []
        content_type = response.headers.get("Content-Type") or b""
        encoding = http_content_type_encoding(content_type.decode("latin-1"))
        try:
            found: list[Requisite] = await self._run(
                css_requisites, response.body, response.url, encoding
            )
        except (BrokenProcessPool, WorkTimeout) as exc:  # its worker died or hung on it
            self.count("requisites/failed/unread", 1)
            logger.warning("stylesheet %s not read: %s", response.url, exc)
            return []
        return self.stylesheet_requests(found, response)

    def stylesheet_requests(self, found: list[Requisite], response: Response) -> list[Request]:
        """The requests for what a fetched stylesheet names: its fonts and images, and its
        @imports unless it is MAX_IMPORT_DEPTH stylesheets below its page already."""
        level = response.meta.get("requisite_level", 0) + 1
        if level > MAX_IMPORT_DEPTH:
            imports = [r for r in found if r.kind == STYLESHEET]
            self.count("requisites/skipped/import_depth", len(imports))
            found = [r for r in found if r.kind != STYLESHEET]
        return self.requests_for(found, response.url, response.meta["outlet"], level)

    def fetched(self, response: Response) -> None:
        if response.meta.get("requisite_counted"):
            return
        response.meta["requisite_counted"] = True
        self.count(f"requisites/fetched/{response.meta.get('requisite', 'other')}", 1)
        self.count("requisites/bytes", len(response.body))

    def failed(self, failure: Failure) -> None:
        """A requisite that did not come: counted and logged, not an outlet failure."""
        request = failed_request(failure)
        reason = failure_reason(failure)
        if reason is None:
            if isinstance(failure.value, RetryLater):
                return  # a retry scheduled for later: not an end
            reason = "robots" if "robots.txt" in str(failure.value) else "ignored"
        self.count(f"requisites/failed/{reason}", 1)
        url = request.url if request is not None else "?"
        logger.info("requisite failed: %s (%s)", url, reason)

    def requests_for(
        self, found: list[Requisite], of: str, outlet: str, level: int = 0
    ) -> list[Request]:
        """The requests for requisites `of` a page or stylesheet names (`level` stylesheets
        below the page): each URL once a run, within the limits; what is left out is counted
        by its reason."""
        self.count("requisites/found", len(found))
        requests: list[Request] = []
        # the layout first, photos last, should the page limit bite
        for requisite in sorted(found, key=lambda r: ORDER[r.kind]):
            skipped = self._skip(requisite.url, len(requests))
            if skipped:
                self.count(f"requisites/skipped/{skipped}", 1)
                continue
            self._requested.add(requisite.url)
            self.count(f"requisites/requested/{requisite.kind}", 1)
            meta = {"outlet": outlet, "kind": KIND, "requisite": requisite.kind,
                    "requisite_of": of, "requisite_level": level,
                    "download_maxsize": self.max_size}  # fmt: skip
            # a page's requisites are fetched right after it: a replay shows them as they were
            requests.append(Request(requisite.url, callback=self.callback, errback=self.errback,
                                    meta=meta, priority=1))  # fmt: skip
        return requests

    def _skip(self, url: str, queued: int) -> str | None:
        if url in self._requested:
            return "seen"
        if len(url) > self.max_url_length:
            return "url_too_long"
        if queued >= self.max_per_page:
            return "page_limit"
        if len(self._requested) >= self.max_per_run:
            return "run_limit"
        return None
