"""BackoffRetryMiddleware: retry with exponential backoff and jitter, honouring Retry-After.

Scrapy's RetryMiddleware retries at once; an outlet that answers 429 or 503 wants the crawler to
wait. Here a retry is delayed without holding anything: the failed response or exception is
turned into an :class:`RetryLater` (an IgnoreRequest, which the spider's errback passes over), the
retry request is handed to the engine after the delay (``call_later``), and the spider is
kept open (``DontCloseSpider`` on ``spider_idle``) while retries wait. Requests that are not the
spider's own (robots.txt) are retried at once, as Scrapy does.

Besides ``RETRY_HTTP_CODES`` and ``RETRY_EXCEPTIONS``, an HTML page with a success status that is
an error, block or challenge page (:mod:`pipelines.error_pages`) is retried like a 403; when its
retries run out it reaches the spider with ``meta["soft_failure"]`` set, to be recorded, not
archived as text. The page is judged by a page worker the spider sends it to
(``spider.judged(request, response)``, :class:`PageJudge`), with the
outlet's "not found" fingerprint from its probe; that one reading of the page then serves the
spider's callback too.
A ``Retry-After`` longer than ``RETRY_AFTER_MAX`` is not waited for in this run:
the failure is recorded and the URL is due again in a later run.

Settings: ``RETRY_ENABLED``, ``RETRY_TIMES``, ``RETRY_HTTP_CODES``, ``RETRY_EXCEPTIONS``,
``RETRY_PRIORITY_ADJUST``, ``RETRY_BASE_DELAY``, ``RETRY_MAX_DELAY``, ``RETRY_JITTER``,
``RETRY_AFTER_MAX``, ``RETRY_SOFT_FAILURES``. Meta keys: ``dont_retry``, ``max_retry_times``.
Stats: Scrapy's ``retry/count``, ``retry/reason_count/<reason>``, ``retry/max_reached``, and
``retry/delayed``, ``retry/retry_after_honoured``, ``retry/retry_after_too_long``,
``retry/abandoned_at_close``; ``soft_failures/kept_article/<signal>`` (a pattern matched, the
page's article signals won) and ``soft_failures/fingerprint_match``, per answer judged.
"""

from __future__ import annotations

import logging
import random
from email.utils import parsedate_to_datetime
from typing import Protocol, cast

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.misc import load_object

from crawler.failure_reasons import exception_reason, http_reason
from crawler.requisite_links import REQUISITE
from pipelines import page_failure
from pipelines import signals as na_signals
from pipelines.error_pages import Verdict
from storage.clock import utc_now

logger = logging.getLogger(__name__)


class PageJudge(Protocol):
    """What the retry middleware asks the spider (``OutletsSpider`` is one): the verdict on a
    page with a success status, read off the reactor (:mod:`crawler.page_analysis`)."""

    async def judged(self, request: Request, response: HtmlResponse) -> Verdict: ...


class RetryLater(IgnoreRequest):
    """This attempt failed; a retry is scheduled. Not a failure of the URL (yet)."""


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = utc_now().timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(attempt: int, base: float, cap: float, jitter: bool = True) -> float:
    """Exponential backoff for the `attempt`-th retry (1-based), with "equal jitter":
    between half and all of min(cap, base * 2 ** (attempt - 1)), so retries of many URLs that
    failed together do not come back together."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2) if jitter else delay


class BackoffRetryMiddleware:
    def __init__(
        self,
        crawler: Crawler,
        *,
        http_codes: set[int],
        exceptions: tuple[type[BaseException], ...],
        max_times: int,
        priority_adjust: int,
        base_delay: float,
        max_delay: float,
        retry_after_max: float,
        jitter: bool,
        soft_failures: bool,
    ) -> None:
        self.crawler = crawler
        self.http_codes = http_codes
        self.exceptions = exceptions
        self.max_times = max_times
        self.priority_adjust = priority_adjust
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retry_after_max = retry_after_max
        self.jitter = jitter
        self.soft_failures = soft_failures
        self._waiting: dict[int, tuple[Request, str, CallLaterResult]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED"):
            raise NotConfigured("RETRY_ENABLED is off")
        mw = cls(
            crawler,
            http_codes={int(c) for c in s.getlist("RETRY_HTTP_CODES")},
            exceptions=tuple(
                load_object(e) if isinstance(e, str) else e for e in s.getlist("RETRY_EXCEPTIONS")
            ),
            max_times=s.getint("RETRY_TIMES"),
            priority_adjust=s.getint("RETRY_PRIORITY_ADJUST"),
            base_delay=s.getfloat("RETRY_BASE_DELAY"),
            max_delay=s.getfloat("RETRY_MAX_DELAY"),
            retry_after_max=s.getfloat("RETRY_AFTER_MAX"),
            jitter=s.getbool("RETRY_JITTER"),
            soft_failures=s.getbool("RETRY_SOFT_FAILURES"),
        )
        crawler.signals.connect(mw.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    # --- downloader middleware ----------------------------------------------------------------
    async def process_response(self, request: Request, response: Response) -> Request | Response:
        # a retry copies the meta of the attempt before: every answer is judged afresh
        request.meta.pop("soft_failure", None)
        if request.meta.get("dont_retry"):
            return response
        if response.status in self.http_codes:
            reason = http_reason(response.status)
        elif (
            self.soft_failures
            and 200 <= response.status < 300
            and isinstance(response, HtmlResponse)
            and request.meta.get("kind") != REQUISITE  # not a page: nothing to judge
        ):
            soft = await self._judge(request, response)
            if soft is None:
                return response
            reason = request.meta["soft_failure"] = soft
            if "not_modified" in response.flags:
                return response  # a stored copy (a 304): asking again gives the same answer
        else:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return self._retry(request, reason, retry_after) or response

    async def _judge(self, request: Request, response: HtmlResponse) -> str | None:
        """The page's soft failure, if any, by the rules of :func:`judge`: the spider has the
        page read by a page worker (``judged``), with its outlet's not-found fingerprint."""
        spider = self.crawler.spider
        if not hasattr(spider, "judged"):
            return None  # not a spider of this project: its pages are its own business
        verdict = await cast(PageJudge, spider).judged(request, response)
        stats = self.crawler.stats
        assert stats is not None
        if verdict.kept:
            stats.inc_value(f"soft_failures/kept_article/{verdict.kept}")
        if verdict.fingerprint:
            stats.inc_value("soft_failures/fingerprint_match")
        return verdict.reason

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if isinstance(exception, IgnoreRequest):
            return None
        # Every attempt is evidence, the failed ones too: the WARC capture records it.
        self.crawler.signals.send_catch_log(
            na_signals.download_failed, request=request, exception=exception
        )
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        return self._retry(request, exception_reason(exception), None)

    def _retry(self, request: Request, reason: str, retry_after: float | None) -> Request | None:
        stats = self.crawler.stats
        assert stats is not None
        if retry_after is not None and retry_after > self.retry_after_max:
            stats.inc_value("retry/retry_after_too_long")
            request.meta["retry_after"] = retry_after  # the failure record's next_retry_at
            return None
        assert self.crawler.spider is not None
        new = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if new is None:
            request.meta["retry_after"] = retry_after
            return None
        if "outlet" not in request.meta:
            return new  # robots.txt and other engine downloads: their caller waits on them
        attempt = new.meta["retry_times"]
        if retry_after is not None:
            stats.inc_value("retry/retry_after_honoured")
            delay = retry_after
        else:
            delay = backoff_delay(attempt, self.base_delay, self.max_delay, self.jitter)
        self._schedule(new, reason, delay)
        raise RetryLater(f"{reason}: retry {attempt} of {request.url} in {delay:.1f} s")

    # --- delayed retries ----------------------------------------------------------------------
    def _schedule(self, request: Request, reason: str, delay: float) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("retry/delayed")
        key = id(request)
        call = call_later(delay, self._send, key)
        self._waiting[key] = (request, reason, call)
        logger.info("retrying %s in %.1f s (%s)", request.url, delay, reason)

    def _send(self, key: int) -> None:
        request, _, _ = self._waiting.pop(key)
        assert self.crawler.engine is not None
        self.crawler.engine.crawl(request)

    def spider_idle(self, spider: Spider) -> None:
        if self._waiting:
            raise DontCloseSpider  # retries are waiting for their time

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """A crawl stopped early (SIGTERM, an error) must not lose the retries it was waiting
        for: each is recorded as a failure, due at once in the next run."""
        waiting, self._waiting = self._waiting, {}
        for request, why, call in waiting.values():
            call.cancel()  # safe on a call that has run
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("retry/abandoned_at_close")
            # the retry never went out: its attempts are the requests made before it
            failed = page_failure.from_request(
                request,
                why,
                attempts=request.meta.get("retry_times", 1),
                detail=f"crawl closed ({reason}) while the retry waited",
                due_now=True,
            )
            self.crawler.signals.send_catch_log(na_signals.page_failed, **failed)
