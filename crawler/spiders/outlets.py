"""OutletsSpider: crawl the outlets of a config file and yield an ArticleItem per article page.

``scrapy crawl outlets -a config=config/outlets.yaml [-a outlets=name1,name2]``; the
``newsarchiver crawl`` command runs the same spider. Each outlet is entered through its start
pages (links followed to the outlet's ``depth`` inside its hosts), its sitemaps (indexes,
gzipped and news sitemaps too) and its feeds (RSS and Atom). A page is an article when its URL
matches the outlet's ``allow`` regexes or, for outlets without ``allow``, when it says so itself
(og:type=article, JSON-LD NewsArticle…) or was listed in a feed.

Once per run per outlet, before its seeds, a probe (``kind="probe"``) asks the outlet's first
host for a URL that cannot exist; its answer is the outlet's "not found" fingerprint, by which
the retry middleware tells soft 404s (:mod:`pipelines.error_pages`). Setting:
``SOFT_FAILURE_PROBE``.

Request meta: ``outlet`` (name), ``kind`` (hub, sitemap, feed, page, feed_entry, probe),
``original_capture`` (where the capture a conditional request's validators came from is: a 304
is read from it, :mod:`crawler.middlewares.not_modified`, and its links followed).
A page that is not HTML (:func:`pipelines.page_bytes.page_type`: a PDF, an image, JSON…) is a
failure ``not_html`` at an article URL (``allow`` matches it, or a feed listed it) and only
counted elsewhere; an article whose bytes fit no charset (``meta["charset_unfit"]`` from
:class:`~crawler.middlewares.charset.CharsetMiddleware`) is a failure ``charset_mismatch``.

A URL found (a page's link, a feed or sitemap entry, a start URL) is requested in its fetch
form and known by its identity (:mod:`storage.url_identity`, with the outlet's ``keep_params``):
tracking parameters and fragment removed; the canonical URL. The identity is what the spider's
link bookkeeping, the duplicate filter (Scrapy's fingerprint canonicalises alike), "archived
already?" (the manifest's ``articles.canonical_url``, and in a distributed crawl every worker's)
and the article's ``canonical_url`` go by; the WARC keeps the URL as fetched. Request meta
``url_identity``: the identity, when it is not the URL requested. A failure of an earlier run is
requested again at the URL it was recorded with (it heals by that URL).

The spider is built in parts: :class:`crawler.crawl_requests.CrawlRequests` (the seeds, and the
request for a URL found or none), :class:`crawler.link_following.LinkFollowing` (a page's links,
sitemap and feed entries); here, routing a page by what its worker made of it, and failures.

Stats: ``spider/pages/{hub,article}``, ``spider/article_signal/<signal>``, ``spider/not_html``
(every page that is not HTML), ``spider/failed/<reason>``,
``spider/sitemap/{index,urlset,too_large}``, ``spider/feed/entries``, ``spider/known_urls``
(what the archive held at start: storage.known_pages), ``spider/links/repeated`` (links to an
identity a page of this run linked already, at the same depth or less: not made requests again),
``spider/links/{tracking_removed,fragment_removed,params_kept}`` (URLs found with tracking
parameters, requested without; with a fragment; with tracking parameters kept for the outlet's
``keep_params``: each a page's distinct hrefs, feed and sitemap entries, start URLs),
``spider/depth/{lessened,refetched}`` (a page linked again at a lesser depth: read at it, or a
hub read already at the outlet's depth fetched again), per outlet
``outlet/<name>/articles``, ``soft_failures/probe/{sent,answered_200,answered_404,
answered_other,failed}``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from twisted.python.failure import Failure

from crawler.cluster.state import ClusterState
from crawler.failure_reasons import failed_request, failure_reason
from crawler.link_following import LinkFollowing
from crawler.middlewares.retry import RetryLater
from crawler.outlets import ConfigError, CrawlConfig, OutletConfig, load_config
from crawler.page_analysis import PageAnalysis
from crawler.page_work import ARTICLES, PageResult
from crawler.probes import NotFoundProbes
from crawler.requisite_links import REQUISITE
from crawler.requisites import Requisites
from pipelines import page_failure
from pipelines import signals as na_signals
from pipelines.error_pages import KEEP, Verdict
from pipelines.items import ArticleItem
from pipelines.page_bytes import PageType, page_type
from storage.clock import iso, utc_now
from storage.known_pages import KnownPages
from storage.manifest import Manifest

logger = logging.getLogger(__name__)


class OutletsSpider(LinkFollowing):
    name = "outlets"

    def __init__(
        self,
        config: str | None = None,
        outlets: str | None = None,
        crawl_config: CrawlConfig | None = None,
        retry: str | None = None,
        refresh: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if retry not in (None, "pending", "all"):
            raise ConfigError(f"retry must be 'pending' or 'all', not {retry!r}")
        # None: a crawl (due failures first, then discovery); "pending"/"all": retry failures only
        self.retry_mode = retry
        # refresh: fetch archived articles again, send no conditional requests
        self.refresh = refresh not in (False, "", "0", "false", "False", None)
        self._leave_alone: set[str] = set()
        self._manifest: Manifest | None = None
        self._known: KnownPages | None = None  # the archive's state at start (_load_known)
        self._cluster: ClusterState | None = None  # a distributed crawl's shared state
        # identity: the least depth a page of this run linked it at
        self._linked: dict[str, int] = {}
        self._capped_hubs: set[str] = set()  # identities of hubs read at the outlet's depth
        self.probes = NotFoundProbes(False, self._count)  # made for the crawl in from_crawler
        self.requisites: Requisites | None = None  # made for the crawl in from_crawler
        self.pages: PageAnalysis | None = None  # made for the crawl in from_crawler
        if crawl_config is None:
            if not config:
                raise ConfigError("no outlet config given: pass -a config=PATH")
            crawl_config = load_config(config)
        names = outlets.split(",") if isinstance(outlets, str) else outlets
        self.crawl_config = crawl_config.select(names)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OutletsSpider:
        spider: OutletsSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        settings = crawler.settings
        spider.pages = PageAnalysis.from_crawler(crawler)
        spider.probes = NotFoundProbes(
            settings.getbool("SOFT_FAILURE_PROBE") and settings.getbool("RETRY_SOFT_FAILURES"),
            spider._count, spider.pages.fingerprint,
        )  # fmt: skip
        crawler.signals.connect(spider.probes.answered, signal=signals.response_received)
        with contextlib.suppress(NotConfigured):  # ARCHIVE_REQUISITES off
            spider.requisites = Requisites.from_crawler(
                crawler, spider.parse_requisite, spider.on_requisite_error
            )
        # Under `scrapy crawl -a config=…` the config was loaded before the settings were known.
        spider.crawl_config.check_url_length(crawler.settings.getint("URLLENGTH_LIMIT"))
        if spider.crawl_config.user_agent:
            # Settings are frozen only after the spider is made; -s USER_AGENT still wins.
            crawler.settings.set("USER_AGENT", spider.crawl_config.user_agent, priority="spider")
        return spider

    async def judged(self, request: Request, response: HtmlResponse) -> Verdict:
        """The soft-failure verdict on a page (:class:`~crawler.middlewares.retry.PageJudge`, for
        the retry middleware): its page worker reads everything else of it in the same pass."""
        try:
            outlet = self.crawl_config.outlet(request.meta["outlet"])
        except KeyError:
            return KEEP  # not an outlet's page (robots.txt…)
        return (await self._analysed(request, response, outlet, judge=True)).verdict

    async def _analysed(
        self, request: Request, response: Response, outlet: OutletConfig, judge: bool = False
    ) -> PageResult:
        assert self.pages is not None
        meta = request.meta
        # linked at a lesser depth since its request was made: read at that depth
        least = self._linked.get(self.identity(meta, request.url), meta.get("depth", 0))
        if least < meta.get("depth", 0):
            meta["depth"] = least  # DepthMiddleware gives the page's links this depth + 1
        page = meta.get("kind") not in ("sitemap", "feed")
        # a sitemap or feed answered with an HTML page (an error page): only judged
        follow = page and meta.get("depth", 0) < outlet.depth and not self.retry_mode
        requisites = None
        if page and self.requisites is not None:
            requisites = self.requisites.wanted(meta, response.status)
            if requisites == ARTICLES and meta.get("charset_unfit"):
                requisites = None  # no article: its bytes fit no charset (charset_mismatch)
        return await self.pages.analyse(
            request, response, outlet, judge=judge, follow=follow, requisites=requisites,
            fingerprint=self.probes.fingerprint(outlet.name),
            extract=page and not meta.get("charset_unfit"),
        )  # fmt: skip

    def closed(self, reason: str) -> None:
        if self._manifest is not None:
            self._manifest.close()

    def _not_modified(self, response: Response) -> bool:
        """A 304 whose stored copy could not be read: nothing to parse. (One that could is a
        200 with meta["not_modified"], parsed for its links.)"""
        if response.status != 304:
            return False
        self._count("spider/not_modified")  # the WARC has a revisit record; nothing new to read
        self._ok(response)
        return True

    def on_error(self, failure: Failure) -> None:
        """Record the failure (the failure recorder listens); its exchanges are in the WARC."""
        request = failed_request(failure)
        if request is None:
            return
        self._record_error(failure, request)
        if not failure.check(RetryLater):  # recorded, not to be retried now: a lease ends
            self._signal(na_signals.request_done, request=request)

    def _record_error(self, failure: Failure, request: Request) -> None:
        reason = failure_reason(failure)
        if reason is None:
            return
        response = getattr(failure.value, "response", None)
        status = response.status if response is not None else None
        if reason == "redirect_loop":
            last = (request.meta.get("redirect_reasons") or [None])[-1]
            status = last if isinstance(last, int) else None
        detail = f"{type(failure.value).__name__}: {failure.value}"[:500]
        self._fail(request.url, request.meta, reason, status, detail)

    def _fail(
        self, url: str, meta: dict[str, Any], reason: str, status: int | None, detail: str
    ) -> None:
        """Tell the failure recorder (the URL recorded: :mod:`pipelines.page_failure`'s rule). A
        requisite's failure is only counted there: not one of the outlet's pages."""
        if meta.get("kind") != REQUISITE:
            self._count(f"spider/failed/{reason}")
            logger.warning("failed: %s (%s)", url, reason)
        self._signal(
            na_signals.page_failed,
            **page_failure.from_meta(url, meta, reason, status=status, detail=detail),
        )

    def _ok(self, response: Response) -> None:
        for url in {*(response.meta.get("redirect_urls") or []), response.url}:
            self._signal(na_signals.page_ok, url=url)

    def request_dropped(self, request: Request, spider: Spider) -> None:
        """A redirect back to a URL of its own chain is dropped by the duplicate filter, without
        a word from Scrapy: record it as the redirect loop it is."""
        chain = request.meta.get("redirect_urls") or []
        if spider is self and request.url in chain:
            status = (request.meta.get("redirect_reasons") or [None])[-1]
            detail = "redirect loop: " + " -> ".join([*chain, request.url])
            self._fail(request.url, request.meta, "redirect_loop",
                       status if isinstance(status, int) else None, detail)  # fmt: skip

    def _outlet(self, response: Response) -> OutletConfig:
        return self.crawl_config.outlet(response.meta["outlet"])

    # --- pages --------------------------------------------------------------------------------

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        """Route a page by what its page worker made of it (crawler.page_work): the crawl
        process parses nothing."""
        outlet = self._outlet(response)
        if self._not_modified(response):
            return
        what = page_type(response.headers.get("Content-Type"), response.body)
        if not what.html or not isinstance(response, TextResponse):
            self._not_html(response, outlet, what)
            return
        if soft := response.meta.get("soft_failure"):
            # an error/block page even after its retries (BackoffRetryMiddleware): never text
            detail = "an error, block or challenge page served with a success status"
            self._fail(response.url, response.meta, soft, response.status, detail)
            return
        if response.meta.get("not_modified"):
            # unchanged since its capture (a 304, read back from the WARC): parsed as fetched. An
            # article asked for again had no text yet (a killed run) or is due a recrawl.
            self._count("spider/not_modified")
        assert response.request is not None
        page = await self._analysed(response.request, response, outlet)
        if page.failed:  # its worker died or hung on it: this page only, recorded
            self._fail(response.url, response.meta, page.failed[0], response.status,
                       page.failed[1])  # fmt: skip
            return
        if page.error and page.no_text:
            logger.error("extraction failed on %s: %s", response.url, page.no_text[1])
        reason = page.article
        if reason and (unfit := response.meta.get("charset_unfit")):
            self._fail(response.url, response.meta, "charset_mismatch", response.status, unfit)
        elif reason:
            self._count("spider/pages/article")
            self._count(f"spider/article_signal/{reason}")
            self._count("articles", outlet)
            yield self.article_item(response, outlet, page)  # the store pipeline says page_ok
        else:
            self._count("spider/pages/hub")
            self._ok(response)
            if response.meta.get("depth", 0) >= outlet.depth:  # its links were not followed
                self._capped_hubs.add(self.identity(response.meta, response.url))
        for request in self._follow(page, response, outlet):
            yield request
        if self.requisites is not None and page.requisites is not None:
            for request in self.requisites.for_page(page.requisites, response, outlet.name):
                yield request

    async def parse_requisite(self, response: Response) -> AsyncIterator[Request]:
        """A requisite came (its exchange is in the WARC): a stylesheet's own are fetched too."""
        assert self.requisites is not None
        for request in await self.requisites.for_stylesheet(response):
            yield request

    def on_requisite_error(self, failure: Failure) -> None:
        """Counted and logged (:meth:`Requisites.failed`), never an outlet's failure."""
        assert self.requisites is not None
        self.requisites.failed(failure)
        request = failed_request(failure)
        if request is not None and not failure.check(RetryLater):
            self._signal(na_signals.request_done, request=request)

    def _not_html(self, response: Response, outlet: OutletConfig, what: PageType) -> None:
        """A PDF, image, archive or JSON where an article was expected is a failure; linked
        from a hub, it is only counted (its exchange is in the WARC either way)."""
        self._count("spider/not_html")
        found = (response.meta.get("redirect_urls") or [response.url])[0]
        article_url = response.meta.get("kind") == "feed_entry" or any(
            outlet.allowed_article(url) for url in (found, response.url)
        )
        if article_url:
            detail = what.detail if not what.html else f"{what.detail}, binary bytes"
            self._fail(response.url, response.meta, "not_html", response.status, detail)
        else:
            self._ok(response)

    def article_item(
        self, response: TextResponse, outlet: OutletConfig, page: PageResult
    ) -> ArticleItem:
        redirects = response.meta.get("redirect_urls") or [response.url]
        content_type = response.headers.get("Content-Type")
        return ArticleItem(
            url=redirects[0],
            final_url=response.url,
            canonical_url=self.identity(response.meta, response.url),
            outlet=outlet.name,
            http_status=response.status,
            body=response.body,
            content_type=content_type.decode("latin-1") if content_type else None,
            encoding=response.encoding,  # as CharsetMiddleware chose it: extraction decodes alike
            fetched_at=iso(utc_now()),
            warc=response.meta.get("warc"),
            article=page.text,
            no_article=page.no_text,
            analysed=True,  # its page worker read the text (or found none): ExtractPipeline counts
            extract_error=page.error,
        )
