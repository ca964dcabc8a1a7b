"""CharsetMiddleware: decode each HTML page in the charset its bytes fit, once for the crawl.

Scrapy decodes a page in the charset its header declares, however wrong: a UTF-8 page served
with ``charset=utf-16`` becomes mojibake with no title. Here the charset is chosen by
:func:`pipelines.page_bytes.choose_charset` (BOM, then header, then ``<meta>``, each only if the
bytes fit it, else UTF-8 when they are clean UTF-8) and set on the response, so that everything
after it reads the same text: the soft-failure check, the spider's links and article signals,
and extraction (the spider puts the charset on the article item). A page whose declared charset
did not fit is logged at INFO with the URL, the declared and the used charset; a page whose
bytes fit no charset gets ``meta["charset_unfit"]`` (a detail), which the spider records as a
``charset_mismatch`` failure for an article and reads as best it can for a hub.

Only 2xx HTML answers to the spider's page requests (meta ``kind`` hub, page, feed_entry) are
judged; feeds and sitemaps are XML with their own declaration. It runs after
HttpCompressionMiddleware (590: the body is decoded of Content-Encoding) and before
MetaRefreshMiddleware (580) and BackoffRetryMiddleware (550), which read the text.

Stats: ``charset/from/<source>`` (bom, header, meta, sniffed, default), ``charset/mismatch``,
``charset/mismatch/<declared>``, ``charset/unfit``, ``charset/unknown_label``.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.http import Request, Response, TextResponse
from scrapy.statscollectors import StatsCollector

from pipelines.page_bytes import choose_charset, page_type

logger = logging.getLogger(__name__)

# the probe too: its answer is compared with pages, so it is read as they are
PAGE_KINDS = frozenset({"hub", "page", "feed_entry", "probe"})


class CharsetMiddleware:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetMiddleware:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        # a retry copies the meta of the attempt before: judge every answer afresh
        request.meta.pop("charset_unfit", None)
        if (
            request.meta.get("kind") not in PAGE_KINDS
            or not 200 <= response.status < 300
            or not isinstance(response, TextResponse)
        ):
            return response
        content_type = response.headers.get("Content-Type")
        if not page_type(content_type, response.body).html:
            return response  # the spider records or counts it as not_html
        choice = choose_charset(content_type, response.body)
        self.stats.inc_value(f"charset/from/{choice.source}")
        if choice.label:
            self.stats.inc_value("charset/unknown_label")
        if choice.encoding is None:
            self.stats.inc_value("charset/unfit")
            request.meta["charset_unfit"] = choice.unfit_detail
            logger.info("charset: %s fits no charset (declared %s)", response.url, choice.declared)
            return response
        if choice.mismatch:
            self.stats.inc_value("charset/mismatch")
            self.stats.inc_value(f"charset/mismatch/{choice.declared}")
            logger.info("charset: %s declared %s, decoded as %s (%s)", response.url,
                        choice.declared, choice.encoding, choice.source)  # fmt: skip
        return response.replace(encoding=choice.encoding)
