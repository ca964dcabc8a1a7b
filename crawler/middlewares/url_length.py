"""UrlLengthMiddleware: a link longer than ``URLLENGTH_LIMIT`` is a recorded failure.

Replaces Scrapy's middleware of the same name, which drops such a request with only a stat. The
request is dropped as before (no server is asked for it); a request of the spider's own (meta
``outlet``: the spider only makes them for links inside an outlet's hosts, so an off-scope long
link never gets here) is also a ``page_failed`` with reason ``url_too_long``, once per URL per
run however many pages link to it. The failure row's URL is shortened as
:mod:`pipelines.page_failure` shows an over-long URL (its first ``SHOWN_CHARS`` characters and
"…"); the detail has the full length, a SHA-256 of the whole URL and the page that linked to it.
Such a row names no URL that can be requested: it is never retried
(``storage.failures.NOT_REQUESTABLE``).

Settings: ``URLLENGTH_LIMIT`` (Scrapy's; 0 turns the middleware off).
Stats: Scrapy's ``urllength/request_ignored_count``, ``urllength/failed`` (URLs recorded),
``urllength/repeated`` (found again in the run, not recorded again).
"""

from __future__ import annotations

import hashlib
import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from pipelines import page_failure
from pipelines import signals as na_signals
from pipelines.page_failure import URL_TOO_LONG, shown_url

logger = logging.getLogger(__name__)


class UrlLengthMiddleware(BaseSpiderMiddleware):
    def __init__(self, crawler: Crawler, maxlength: int) -> None:
        super().__init__(crawler)
        self.maxlength = maxlength
        self._seen: set[bytes] = set()  # digests, not the URLs: they are long by definition

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlLengthMiddleware:
        maxlength = crawler.settings.getint("URLLENGTH_LIMIT")
        if not maxlength:
            raise NotConfigured("URLLENGTH_LIMIT is 0")
        return cls(crawler, maxlength)

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if len(request.url) <= self.maxlength:
            return request
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("urllength/request_ignored_count")
        outlet = request.meta.get("outlet")
        if not outlet:  # not one of the spider's pages: Scrapy's behaviour, a stat
            logger.info("ignoring a link of %d characters: %s", len(request.url),
                        shown_url(request.url))  # fmt: skip
            return None
        digest = hashlib.sha256(request.url.encode("utf-8", "surrogatepass")).digest()
        if digest in self._seen:
            stats.inc_value("urllength/repeated")
            return None
        self._seen.add(digest)
        stats.inc_value("urllength/failed")
        found_on = f" on {shown_url(response.url)}" if response is not None else ""
        detail = (f"a URL of {len(request.url)} characters (URLLENGTH_LIMIT {self.maxlength})"
                  f"{found_on}; sha256 {digest.hex()}")  # fmt: skip
        logger.warning("failed: %s (url_too_long, %d characters)", shown_url(request.url),
                       len(request.url))  # fmt: skip
        self.crawler.signals.send_catch_log(
            na_signals.page_failed,
            **page_failure.from_request(request, URL_TOO_LONG, attempts=0, detail=detail),
        )
        return None
