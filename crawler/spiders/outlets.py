"""OutletsSpider: crawl the outlets of a config file and yield an ArticleItem per article page.

``scrapy crawl outlets -a config=config/outlets.yaml [-a outlets=name1,name2]``; the
``newsarchiver crawl`` command runs the same spider. Each outlet is entered through its start
pages (links followed to the outlet's ``depth`` inside its hosts), its sitemaps (indexes,
gzipped and news sitemaps too) and its feeds (RSS and Atom). A page is an article when its URL
matches the outlet's ``allow`` regexes or, for outlets without ``allow``, when it says so itself
(og:type=article, JSON-LD NewsArticle…) or was listed in a feed.

Request meta: ``outlet`` (name), ``kind`` (hub, sitemap, feed, page, feed_entry).
Stats: ``spider/pages/{hub,article}``, ``spider/article_signal/<signal>``, ``spider/not_html``,
``spider/sitemap/{index,urlset,too_large}``, ``spider/feed/entries``, per outlet
``outlet/<name>/articles``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawler.discovery import (
    SitemapTooLarge,
    article_signal,
    feed_links,
    sitemap_body,
    sitemap_entries,
)
from crawler.failure_reasons import failure_reason
from crawler.items import ArticleItem
from crawler.outlets import ConfigError, CrawlConfig, OutletConfig, load_config
from storage.layout import iso, utc_now

logger = logging.getLogger(__name__)


class OutletsSpider(Spider):
    name = "outlets"

    def __init__(
        self,
        config: str | None = None,
        outlets: str | None = None,
        crawl_config: CrawlConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if crawl_config is None:
            if not config:
                raise ConfigError("no outlet config given: pass -a config=PATH")
            crawl_config = load_config(config)
        names = outlets.split(",") if isinstance(outlets, str) else outlets
        self.crawl_config = crawl_config.select(names)
        self._links = LinkExtractor(unique=True)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> OutletsSpider:
        spider: OutletsSpider = super().from_crawler(crawler, *args, **kwargs)
        if spider.crawl_config.user_agent:
            # Settings are frozen only after the spider is made; -s USER_AGENT still wins.
            crawler.settings.set("USER_AGENT", spider.crawl_config.user_agent, priority="spider")
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for outlet in self.crawl_config.outlets:
            for url in outlet.start_urls:
                yield self._request(url, outlet, "hub", self.parse_page)
            for url in outlet.sitemaps:
                yield self._request(url, outlet, "sitemap", self.parse_sitemap)
            for url in outlet.feeds:
                yield self._request(url, outlet, "feed", self.parse_feed)

    def _request(self, url: str, outlet: OutletConfig, kind: str, callback: Any) -> Request:
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta={"outlet": outlet.name, "kind": kind},
        )

    def on_error(self, failure: Failure) -> None:
        """Count the failure by outlet and reason; the exchange, if any, is in the WARC."""
        reason = failure_reason(failure)
        request = getattr(failure, "request", None) or getattr(failure.value, "request", None)
        if reason is None or request is None:
            return
        outlet = request.meta.get("outlet", "unknown")
        self._count(f"spider/failed/{reason}")
        self._count(f"outlet/{outlet}/failed/{reason}")
        logger.warning("failed: %s (%s)", request.url, reason)

    def _outlet(self, response: Response) -> OutletConfig:
        return self.crawl_config.outlet(response.meta["outlet"])

    def _count(self, key: str, outlet: OutletConfig | None = None) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key if outlet is None else f"outlet/{outlet.name}/{key}")

    # --- discovery ----------------------------------------------------------------------------
    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        outlet = self._outlet(response)
        max_size = response.meta.get("download_maxsize", self.settings.getint("DOWNLOAD_MAXSIZE"))
        try:
            kind, urls = sitemap_entries(sitemap_body(response.body, max_size))
        except SitemapTooLarge as exc:
            self._count("spider/sitemap/too_large")
            logger.warning("skipped sitemap %s: %s", response.url, exc)
            return
        self._count(f"spider/sitemap/{'index' if kind == 'sitemapindex' else 'urlset'}")
        for url in urls:
            if not outlet.owns(url) or outlet.denied(url):
                continue
            if kind == "sitemapindex":
                yield self._request(url, outlet, "sitemap", self.parse_sitemap)
            elif outlet.allowed_article(url) is not False:
                yield self._request(url, outlet, "page", self.parse_page)

    def parse_feed(self, response: Response) -> Iterator[Request]:
        outlet = self._outlet(response)
        for url in feed_links(response.body):
            url = response.urljoin(url)
            if (
                outlet.owns(url)
                and not outlet.denied(url)
                and outlet.allowed_article(url) is not False
            ):
                self._count("spider/feed/entries")
                yield self._request(url, outlet, "feed_entry", self.parse_page)

    # --- pages --------------------------------------------------------------------------------
    def parse_page(self, response: Response) -> Iterator[Any]:
        outlet = self._outlet(response)
        if not isinstance(response, TextResponse):
            self._count("spider/not_html")
            return
        reason = self.article_reason(response, outlet)
        if reason:
            self._count("spider/pages/article")
            self._count(f"spider/article_signal/{reason}")
            self._count("articles", outlet)
            yield self.article_item(response, outlet)
        else:
            self._count("spider/pages/hub")
        if response.meta.get("depth", 0) < outlet.depth:
            yield from self.follow_links(response, outlet)

    def article_reason(self, response: TextResponse, outlet: OutletConfig) -> str | None:
        by_url = outlet.allowed_article(response.url)
        if by_url is not None:
            return "allow" if by_url else None
        if signal := article_signal(response.selector):
            return signal
        return "feed" if response.meta.get("kind") == "feed_entry" else None

    def follow_links(self, response: TextResponse, outlet: OutletConfig) -> Iterator[Request]:
        for link in self._links.extract_links(response):
            if outlet.owns(link.url) and not outlet.denied(link.url):
                yield self._request(link.url, outlet, "page", self.parse_page)

    def article_item(self, response: TextResponse, outlet: OutletConfig) -> ArticleItem:
        redirects = response.meta.get("redirect_urls") or [response.url]
        content_type = response.headers.get("Content-Type")
        return ArticleItem(
            url=redirects[0],
            final_url=response.url,
            outlet=outlet.name,
            http_status=response.status,
            body=response.body,
            content_type=content_type.decode("latin-1") if content_type else None,
            fetched_at=iso(utc_now()),
            warc=response.meta.get("warc"),
        )
