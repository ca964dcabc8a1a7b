"""NotModifiedMiddleware: a page, feed or sitemap that answers 304 is read from its last capture.

A conditional request saves the outlet a download, but a 304 has no body: a spider that stopped
there would never see the links of an unchanged home page again, so a section page below it
that gained an article, or a link the last (killed) run never got to, would be missed. The
spider puts the place of the capture the validators came from on ``meta["original_capture"]``;
on a 304 this middleware reads that response back from the WARC (in a thread: file reads and
gunzip stay off the reactor) and hands the spider a 200 response with the stored body and
``meta["not_modified"] = True``, parsed as if it had been fetched: links are followed, and an
article whose text the archive lacks (a killed run fetched it, never stored it) is extracted.
The WARC keeps the 304 as a server-not-modified revisit record (written from
``response_downloaded``, before any middleware). A stored copy that cannot be read (its WARC
pushed and deleted locally) or that belongs to another URL (the validators went along with a
redirect) is no stand-in: the page is asked for again without validators.

It sits just below decompression (590), so the stored copy goes through the charset choice
(585) like a page just fetched; the retry middleware (550) does not retry a stored copy.

Settings: ``ARCHIVE_DIR``.
Stats: ``not_modified/replayed``, ``not_modified/refetched/{unreadable,redirected}``.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from storage.layout import ArchiveLayout
from storage.warc_read import RecordMissing, StoredResponse, read_response

logger = logging.getLogger(__name__)

# the stored body is handed over decoded: its framing headers no longer describe it
FRAMING = {b"content-encoding", b"content-length", b"transfer-encoding"}
VALIDATORS = (b"If-None-Match", b"If-Modified-Since")


class NotModifiedMiddleware:
    def __init__(self, layout: ArchiveLayout, stats: StatsCollector) -> None:
        self.layout = layout
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NotModifiedMiddleware:
        assert crawler.stats is not None
        return cls(ArchiveLayout(crawler.settings["ARCHIVE_DIR"]), crawler.stats)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        original = request.meta.get("original_capture")
        if response.status != 304 or not original:
            return response
        if original.get("url") != response.url:
            # a redirect carried the validators to another URL: that capture is not this page
            return self._refetch(request, "redirected")
        try:
            stored: StoredResponse = await maybe_deferred_to_future(
                deferToThread(read_response, self.layout, None, str(original["warc_file"]),
                              int(original["warc_offset"]), url=response.url)
            )  # fmt: skip
        except (RecordMissing, OSError, ValueError, TypeError) as exc:
            # e.g. pushed and deleted locally (--delete-local-after-verify): ask for the page
            logger.info("304 for %s: its last capture cannot be read (%s); fetching it again",
                        request.url, exc)  # fmt: skip
            return self._refetch(request, "unreadable")
        self.stats.inc_value("not_modified/replayed")
        headers = Headers(
            [(k, v) for k, v in stored.headers if k.lower().encode("latin-1") not in FRAMING]
        )
        cls: Any = responsetypes.from_args(headers=headers, url=response.url, body=stored.body)
        request.meta["not_modified"] = True
        return cls(
            url=response.url, status=200, headers=headers, body=stored.body, request=request,
            flags=[*response.flags, "not_modified"], ip_address=response.ip_address,
            protocol=response.protocol,
        )  # fmt: skip

    def _refetch(self, request: Request, why: str) -> Request:
        """The same request without validators: the page itself, once."""
        self.stats.inc_value(f"not_modified/refetched/{why}")
        headers = request.headers.copy()
        for name in VALIDATORS:
            headers.pop(name, None)
        meta = {k: v for k, v in request.meta.items()
                if k not in ("original_capture", "handle_httpstatus_list")}  # fmt: skip
        return request.replace(headers=headers, meta=meta, dont_filter=True)
