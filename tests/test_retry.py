"""The retry middleware's decisions on hand-made responses, and its helpers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response

from crawler.middlewares.retry import (
    BackoffRetryMiddleware,
    RetryLater,
    backoff_delay,
    parse_retry_after,
)
from pipelines.error_pages import soft_failure
from tests.helpers import finished, judging_spider, project_crawler

ARTICLE = (
    "<p>" + "The ferry ran again on Monday after three days tied up at the quay. " * 30 + "</p>"
)


def middleware(**settings: object) -> BackoffRetryMiddleware:
    crawler = project_crawler(**settings)
    judging_spider(crawler)
    return BackoffRetryMiddleware.from_crawler(crawler)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after(b"120") == 120.0
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(90)
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now=now.timestamp()) == 0
    assert parse_retry_after(b"soon") is None and parse_retry_after(None) is None


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert [backoff_delay(n, 2, 60, jitter=False) for n in (1, 2, 3, 6, 9)] == [2, 4, 8, 60, 60]
    samples = [backoff_delay(3, 2, 60) for _ in range(200)]
    assert all(4 <= s <= 8 for s in samples) and len(set(samples)) > 100


def test_retryable_status_schedules_a_delayed_retry_not_an_immediate_one() -> None:
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    mw = middleware()
    request = Request("https://a.example/news/1", meta={"outlet": "a", "kind": "page"})
    with pytest.raises(RetryLater, match="http_403: retry 1"):
        finished(mw.process_response(request, Response(request.url, status=403, request=request)))
    ((retry, reason, call),) = mw._waiting.values()
    call.cancel()
    assert (retry.meta["retry_times"], reason, retry.dont_filter) == (1, "http_403", True)
    stats = mw.crawler.stats
    assert stats.get_value("retry/reason_count/http_403") == 1
    assert stats.get_value("retry/delayed") == 1


def test_dont_retry_and_max_retry_times_meta_keys_keep_working() -> None:
    mw = middleware()
    request = Request("https://a.example/1", meta={"outlet": "a", "dont_retry": True})
    response = Response(request.url, status=503, request=request)
    assert finished(mw.process_response(request, response)) is response
    request = Request("https://a.example/2", meta={"outlet": "a", "max_retry_times": 0})
    response = Response(request.url, status=503, request=request)
    assert finished(mw.process_response(request, response)) is response  # gives up at once
    assert mw.crawler.stats.get_value("retry/max_reached") == 1


def test_retry_after_longer_than_the_cap_is_left_to_a_later_run() -> None:
    mw = middleware(RETRY_AFTER_MAX=60)
    request = Request("https://a.example/1", meta={"outlet": "a"})
    response = Response(request.url, status=429, headers={"Retry-After": "3600"}, request=request)
    assert finished(mw.process_response(request, response)) is response
    assert request.meta["retry_after"] == 3600.0  # becomes the failure's next_retry_at
    assert not mw._waiting


def test_requests_that_are_not_the_spiders_retry_at_once() -> None:
    mw = middleware()
    request = Request("https://a.example/robots.txt")  # robots.txt: no outlet in meta
    response = Response(request.url, status=503, request=request)
    retry = finished(mw.process_response(request, response))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1


def html(title: str, body: str) -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (html("Just a moment...", "<p>Checking your browser before accessing.</p>"), "blocked"),
        (
            html("Attention Required! | Cloudflare", "<p>Sorry, you have been blocked</p>"),
            "blocked",
        ),
        (html("Daily", "<h1>Access denied</h1><p>You don't have permission.</p>"), "blocked"),
        (
            html("Daily", "<div class=paywall><p>Subscribe to continue reading.</p></div>"),
            "blocked",
        ),
        (
            html("Page not found | Daily", "<nav>" + "<a>Section</a>" * 200 + "</nav><p>Gone.</p>"),
            "soft_404",
        ),
        (
            html("Daily", "<h1>Oops! That page can\u2019t be found.</h1><p>Try the search.</p>"),
            "soft_404",
        ),
        # real articles: a hidden banner, a headline quoting an error, links to an error page
        (
            html(
                "Bus route saved",
                "<div hidden>404 Sorry!! Error! page doesn't exist</div>" + ARTICLE,
            ),
            None,
        ),
        (
            html("Council says 404 error pages confuse residents", "<h1>404 errors</h1>" + ARTICLE),
            None,
        ),
        (html("Home", "<ul><li><a href='/e/404'>Why you saw a 404</a></li></ul>"), None),
        (html("Flood warning", ARTICLE), None),
    ],
)
def test_soft_failure_pages(page: bytes, expected: str | None) -> None:
    # the tree Scrapy parses for the spider, as the retry middleware reads it
    response = HtmlResponse("https://a.example/p", body=page, encoding="utf-8")
    assert soft_failure(response.selector.root) == expected


def test_soft_failure_page_is_retried_like_a_403_and_marked() -> None:
    mw = middleware()
    request = Request("https://a.example/1", meta={"outlet": "a", "max_retry_times": 0})
    body = html("Just a moment...", "<p>Checking your browser</p>")
    response = HtmlResponse(request.url, status=200, body=body, request=request)
    assert finished(mw.process_response(request, response)) is response
    assert request.meta["soft_failure"] == "blocked"  # the spider records it, writes no text
