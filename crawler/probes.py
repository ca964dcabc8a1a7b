"""NotFoundProbes: each outlet's own answer for a URL that cannot exist, asked once per run.

The spider sends :meth:`NotFoundProbes.request` for an outlet before its seeds (priority
``PROBE_PRIORITY``): ``/newsarchiver-probe-<random hex>`` on the outlet's first host, never
retried, never followed, never a failure; robots.txt applies and the WARC keeps it. Its answer is
read on ``response_received`` (:meth:`answered`), as soon as it is downloaded (by a page
worker: the crawl process parses no HTML), not when its callback comes round, so every page
downloaded after it is judged by it: a success answer
becomes the outlet's :class:`~pipelines.error_pages.NotFoundFingerprint` (an honest 404 or 410
needs none), which the retry middleware compares pages with.

Settings: ``SOFT_FAILURE_PROBE``, ``RETRY_SOFT_FAILURES`` (both on, or no probe is sent).
The spider sends an outlet's other seeds once the probes have answered (:meth:`answers`, at
most ``DOWNLOAD_TIMEOUT`` seconds), so no page is judged before its outlet's fingerprint is in.

Stats: ``soft_failures/probe/{sent,answered_200,answered_404,answered_other,failed,late}``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import defer

from crawler.outlets import OutletConfig
from pipelines.error_pages import NotFoundFingerprint

logger = logging.getLogger(__name__)

PROBE_PRIORITY = 100  # ahead of every seed: pages are judged by its answer once it is in
KIND = "probe"


class NotFoundProbes:
    def __init__(
        self,
        enabled: bool,
        count: Callable[[str], None],
        read: Callable[[Request, Response], Awaitable[NotFoundFingerprint]] | None = None,
    ) -> None:
        self.enabled = enabled
        self._count = count  # a stats counter (the crawl's stats exist only once it starts)
        # reads an HTML answer off the reactor (PageAnalysis.fingerprint: a page worker)
        self._read = read
        self._fingerprints: dict[str, NotFoundFingerprint] = {}  # outlet: its probe's answer
        self._waiting: dict[str, defer.Deferred[None]] = {}  # outlet: fired when it is in

    def request(self, outlet: OutletConfig, callback: Callable[..., Any],
                errback: Callable[..., Any]) -> Request | None:  # fmt: skip
        """The probe of one outlet, or None (off, or an outlet with no URL to take a host from)."""
        first = next(iter([*outlet.start_urls, *outlet.sitemaps, *outlet.feeds]), None)
        if not self.enabled or first is None:
            return None
        parts = urlsplit(first)
        url = f"{parts.scheme}://{parts.netloc}/newsarchiver-probe-{secrets.token_hex(8)}"
        self._count("soft_failures/probe/sent")
        self._waiting[outlet.name] = defer.Deferred()
        meta = {"outlet": outlet.name, "kind": KIND, "dont_retry": True,
                # every answer reaches the callback; redirects (3xx) are still followed
                "handle_httpstatus_list": list(range(400, 600))}  # fmt: skip
        return Request(url, callback=callback, errback=errback, meta=meta,
                       priority=PROBE_PRIORITY, dont_filter=True)  # fmt: skip

    def answered(self, response: Response, request: Request, **_: Any) -> None:
        """``response_received``: keep a probe's answer as its outlet's fingerprint."""
        if request.meta.get("kind") != KIND:
            return
        status = response.status
        if 200 <= status < 300:
            self._count("soft_failures/probe/answered_200")
        elif status in (404, 410):
            self._count("soft_failures/probe/answered_404")
        else:
            self._count("soft_failures/probe/answered_other")
        if isinstance(response, HtmlResponse) and self._read is not None:
            deferred_from_coro(self._keep_read(request, response))
        else:
            urls = [*request.meta.get("redirect_urls", ()), response.url]
            self._keep(request, response, NotFoundFingerprint.from_page(None, status, urls))

    async def _keep_read(self, request: Request, response: Response) -> None:
        assert self._read is not None
        try:
            fingerprint = await self._read(request, response)
        except Exception as exc:  # its worker died or hung on it: pages go by the patterns
            logger.warning("probe %s not read: %s", response.url, exc)
            self.failed(request)
            return
        self._keep(request, response, fingerprint)

    def _keep(self, request: Request, response: Response, fingerprint: NotFoundFingerprint) -> None:
        if fingerprint.usable:
            self._fingerprints[request.meta["outlet"]] = fingerprint
        use = "a soft 404 to compare pages with" if fingerprint.usable else "not used"
        logger.info("probe %s: %d, %s", response.url, response.status, use)
        self._settle(request.meta["outlet"])

    def failed(self, request: Request | None) -> None:
        """No answer (robots.txt, a timeout): pages are judged by the pattern rules alone."""
        self._count("soft_failures/probe/failed")
        if request is not None:
            self._settle(request.meta.get("outlet", ""))

    def _settle(self, outlet: str) -> None:
        d = self._waiting.pop(outlet, None)
        if d is not None and not d.called:
            d.callback(None)

    async def answers(self, timeout: float) -> None:
        """Until every probe sent has its answer (or `timeout` seconds): the seeds that follow
        are then judged against it, however the downloads happen to finish."""
        from twisted.internet import reactor

        waiting = [d for d in self._waiting.values() if not d.called]
        if not waiting:
            return
        both = defer.DeferredList(waiting)
        both.addTimeout(timeout, reactor)
        try:
            await maybe_deferred_to_future(both)
        except defer.TimeoutError:
            self._count("soft_failures/probe/late")
            logger.info("a probe did not answer within %g s: its pages start without it", timeout)

    def fingerprint(self, outlet: str) -> NotFoundFingerprint | None:
        return self._fingerprints.get(outlet)
