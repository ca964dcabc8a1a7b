"""The downloader and spider middlewares, each built by ``from_crawler`` with the project's
settings and fed hand-made requests and responses: what they return, and the stats counters a
user reads after a crawl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from twisted.internet import defer
from twisted.internet.error import TCPTimedOutError

from crawler.middlewares import not_modified
from crawler.middlewares.charset import CharsetMiddleware
from crawler.middlewares.not_modified import NotModifiedMiddleware
from crawler.middlewares.retry import BackoffRetryMiddleware, RetryLater
from crawler.middlewares.url_length import UrlLengthMiddleware
from pipelines import signals as na_signals
from pipelines.page_failure import SHOWN_CHARS
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from tests.helpers import closed_warc, finished, judging_spider, project_crawler

PAGE = "<html><head><title>Café</title></head><body><p>Über die Brücke, café</p></body></html>"


def stat(crawler: Crawler, key: str) -> Any:
    assert crawler.stats is not None
    return crawler.stats.get_value(key)


def heard(crawler: Crawler, signal: object) -> list[dict[str, Any]]:
    """The keyword arguments of every `signal` the crawler sends from now on."""
    calls: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        kwargs.pop("signal", None)
        kwargs.pop("sender", None)
        calls.append(kwargs)

    crawler.signals.connect(listener, signal=signal, weak=False)
    return calls


# --- CharsetMiddleware ----------------------------------------------------------------------


def charset_mw() -> tuple[CharsetMiddleware, Crawler]:
    crawler = project_crawler()
    return CharsetMiddleware.from_crawler(crawler), crawler


def html_response(url: str, body: bytes, content_type: str, **meta: Any) -> HtmlResponse:
    request = Request(url, meta=meta)
    return HtmlResponse(url, body=body, headers={"Content-Type": content_type}, request=request)


def test_a_page_whose_declared_charset_does_not_fit_is_read_in_the_one_that_does() -> None:
    mw, crawler = charset_mw()
    response = html_response("https://a.example/1", PAGE.encode(), "text/html; charset=utf-16",
                             kind="page")  # fmt: skip
    out = mw.process_response(response.request, response)  # type: ignore[arg-type]
    assert isinstance(out, TextResponse) and out.encoding == "utf-8"
    assert "Brücke" in out.text
    assert stat(crawler, "charset/from/sniffed") == 1
    assert stat(crawler, "charset/mismatch") == 1
    assert stat(crawler, "charset/mismatch/utf-16") == 1


def test_a_page_whose_declared_charset_fits_is_counted_by_where_it_came_from() -> None:
    mw, crawler = charset_mw()
    body = PAGE.encode("cp1252")
    response = html_response("https://a.example/1", body, "text/html; charset=windows-1252",
                             kind="hub")  # fmt: skip
    out = mw.process_response(response.request, response)  # type: ignore[arg-type]
    assert isinstance(out, TextResponse) and "Brücke" in out.text
    assert stat(crawler, "charset/from/header") == 1
    assert stat(crawler, "charset/mismatch") is None


def test_bytes_that_fit_no_charset_are_marked_for_the_spider() -> None:
    mw, crawler = charset_mw()
    body = b"<html><head><title>x</title></head><body>" + bytes(range(128, 256)) + b"</body>"
    response = html_response("https://a.example/2", body, "text/html; charset=utf-8",
                             kind="page")  # fmt: skip
    request = response.request
    assert request is not None
    assert mw.process_response(request, response) is response
    assert "fit neither the declared charset utf-8" in request.meta["charset_unfit"]
    assert stat(crawler, "charset/unfit") == 1
    # a retry copies the meta: the next answer is judged afresh
    fine = html_response(request.url, PAGE.encode(), "text/html; charset=utf-8")
    mw.process_response(request, fine)
    assert "charset_unfit" not in request.meta


def test_an_unknown_charset_label_is_counted() -> None:
    mw, crawler = charset_mw()
    response = html_response("https://a.example/3", PAGE.encode(), "text/html; charset=x-bogus",
                             kind="page")  # fmt: skip
    out = mw.process_response(response.request, response)  # type: ignore[arg-type]
    assert isinstance(out, TextResponse) and out.encoding == "utf-8"
    assert stat(crawler, "charset/unknown_label") == 1


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("sitemap", 200, "text/html; charset=utf-16"),  # not a page: its own declaration
        ("requisite", 200, "text/html; charset=utf-16"),
        ("page", 404, "text/html; charset=utf-16"),  # not a 2xx answer
        ("page", 200, "application/json"),  # not HTML: the spider counts it
    ],
)
def test_what_is_not_a_pages_html_answer_is_passed_on_untouched(
    kind: str, status: int, content_type: str
) -> None:
    mw, crawler = charset_mw()
    request = Request("https://a.example/4", meta={"kind": kind})
    body = b'{"a": 1}' if "json" in content_type else PAGE.encode()
    response = TextResponse(request.url, status=status, body=body,
                            headers={"Content-Type": content_type}, encoding="utf-8",
                            request=request)  # fmt: skip
    assert mw.process_response(request, response) is response
    assert crawler.stats is not None and not crawler.stats.get_stats()


# --- NotModifiedMiddleware ------------------------------------------------------------------


@pytest.fixture
def archived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Crawler, dict[str, Any]]:
    """A crawler on an archive holding one capture of https://a.example/news/1, and the
    ``original_capture`` meta the spider would give its conditional request. The WARC is
    read in this thread (no reactor runs here)."""
    layout = ArchiveLayout(tmp_path / "archive")
    layout.ensure()
    manifest = Manifest(layout.manifest_path)
    _, refs = closed_warc(layout, ["https://a.example/news/1"], manifest)
    manifest.close()
    ref = refs["https://a.example/news/1"]
    monkeypatch.setattr(not_modified, "deferToThread",
                        lambda fn, *a, **kw: defer.maybeDeferred(fn, *a, **kw))  # fmt: skip
    monkeypatch.setattr(not_modified, "maybe_deferred_to_future", lambda d: d)
    crawler = project_crawler(ARCHIVE_DIR=str(layout.root))
    original = {"url": "https://a.example/news/1", "warc_file": ref.warc_file,
                "warc_offset": ref.offset}  # fmt: skip
    return crawler, original


def conditional(original: dict[str, Any], url: str = "https://a.example/news/1") -> Request:
    return Request(url, headers={"If-None-Match": '"v1"', "If-Modified-Since": "Mon, 1 Jan 2026"},
                   meta={"outlet": "a", "kind": "page", "original_capture": original,
                         "handle_httpstatus_list": [304]})  # fmt: skip


def test_a_304_is_answered_with_the_stored_copy(archived: tuple[Crawler, dict[str, Any]]) -> None:
    crawler, original = archived
    mw = NotModifiedMiddleware.from_crawler(crawler)
    request = conditional(original)
    out = finished(mw.process_response(request, Response(request.url, status=304,
                                                         request=request)))  # fmt: skip
    assert isinstance(out, HtmlResponse)
    assert (out.status, out.body) == (200, b"<p>https://a.example/news/1</p>")
    assert "not_modified" in out.flags and request.meta["not_modified"] is True
    assert stat(crawler, "not_modified/replayed") == 1


def test_a_304_whose_capture_cannot_be_read_is_fetched_again_without_validators(
    archived: tuple[Crawler, dict[str, Any]],
) -> None:
    crawler, original = archived
    mw = NotModifiedMiddleware.from_crawler(crawler)
    request = conditional({**original, "warc_offset": original["warc_offset"] + 7})
    again = finished(mw.process_response(request, Response(request.url, status=304,
                                                           request=request)))  # fmt: skip
    assert isinstance(again, Request) and again.dont_filter
    assert b"If-None-Match" not in again.headers and b"If-Modified-Since" not in again.headers
    assert "original_capture" not in again.meta and "handle_httpstatus_list" not in again.meta
    assert again.meta["outlet"] == "a"
    assert stat(crawler, "not_modified/refetched/unreadable") == 1
    assert stat(crawler, "not_modified/replayed") is None


def test_a_304_after_a_redirect_to_another_url_is_fetched_again(
    archived: tuple[Crawler, dict[str, Any]],
) -> None:
    crawler, original = archived
    mw = NotModifiedMiddleware.from_crawler(crawler)
    request = conditional(original, "https://a.example/news/moved")
    again = finished(mw.process_response(request, Response(request.url, status=304,
                                                           request=request)))  # fmt: skip
    assert isinstance(again, Request) and b"If-None-Match" not in again.headers
    assert stat(crawler, "not_modified/refetched/redirected") == 1


def test_answers_other_than_a_conditional_304_pass_through(
    archived: tuple[Crawler, dict[str, Any]],
) -> None:
    crawler, original = archived
    mw = NotModifiedMiddleware.from_crawler(crawler)
    request = conditional(original)
    ok = Response(request.url, status=200, body=b"new", request=request)
    assert finished(mw.process_response(request, ok)) is ok
    plain = Request("https://a.example/news/1")  # no capture to read: the spider's business
    bare = Response(plain.url, status=304, request=plain)
    assert finished(mw.process_response(plain, bare)) is bare
    assert crawler.stats is not None and not crawler.stats.get_stats()


# --- UrlLengthMiddleware --------------------------------------------------------------------


def long_url(n: int = 3000) -> str:
    return "https://a.example/news/" + "x" * (n - len("https://a.example/news/"))


def test_a_long_link_of_the_spiders_is_dropped_and_recorded_once_per_run() -> None:
    crawler = project_crawler()
    failed = heard(crawler, na_signals.page_failed)
    mw = UrlLengthMiddleware.from_crawler(crawler)
    url = long_url()
    page = HtmlResponse("https://a.example/", body=b"<html></html>")
    for _ in range(3):
        request = Request(url, meta={"outlet": "a", "kind": "page"})
        assert mw.get_processed_request(request, page) is None
    short = Request("https://a.example/news/1", meta={"outlet": "a"})
    assert mw.get_processed_request(short, page) is short
    (row,) = failed
    assert row["url"] == url[:SHOWN_CHARS] + "…" and row["reason"] == "url_too_long"
    assert (row["outlet"], row["kind"], row["attempts"]) == ("a", "page", 0)
    assert "a URL of 3000 characters (URLLENGTH_LIMIT 2083) on https://a.example/" in row["detail"]
    assert stat(crawler, "urllength/request_ignored_count") == 3
    assert stat(crawler, "urllength/failed") == 1
    assert stat(crawler, "urllength/repeated") == 2


def test_a_long_url_that_is_not_the_spiders_is_only_counted() -> None:
    crawler = project_crawler()
    failed = heard(crawler, na_signals.page_failed)
    mw = UrlLengthMiddleware.from_crawler(crawler)
    assert mw.get_processed_request(Request(long_url()), None) is None
    assert failed == []
    assert stat(crawler, "urllength/request_ignored_count") == 1
    assert stat(crawler, "urllength/failed") is None


def test_the_limit_is_the_setting_and_zero_turns_the_middleware_off() -> None:
    crawler = project_crawler(URLLENGTH_LIMIT=100)
    mw = UrlLengthMiddleware.from_crawler(crawler)
    assert mw.get_processed_request(Request(long_url(101), meta={"outlet": "a"}), None) is None
    kept = Request(long_url(100), meta={"outlet": "a"})
    assert mw.get_processed_request(kept, None) is kept
    with pytest.raises(NotConfigured):
        UrlLengthMiddleware.from_crawler(project_crawler(URLLENGTH_LIMIT=0))


# --- BackoffRetryMiddleware: what test_retry.py leaves out ----------------------------------


def retry_mw(**settings: Any) -> BackoffRetryMiddleware:
    crawler = project_crawler(**settings)
    judging_spider(crawler)
    return BackoffRetryMiddleware.from_crawler(crawler)


def test_a_short_retry_after_is_waited_for_and_counted() -> None:
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    mw = retry_mw()
    request = Request("https://a.example/1", meta={"outlet": "a", "kind": "page"})
    response = Response(request.url, status=503, headers={"Retry-After": "7"}, request=request)
    with pytest.raises(RetryLater, match=r"http_5xx: retry 1 of https://a.example/1 in 7.0 s"):
        finished(mw.process_response(request, response))
    for _, _, call in mw._waiting.values():
        call.cancel()
    assert stat(mw.crawler, "retry/retry_after_honoured") == 1
    assert stat(mw.crawler, "retry/delayed") == 1


def test_a_timeout_is_retried_and_every_attempt_is_announced_for_the_warc() -> None:
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    mw = retry_mw()
    attempts = heard(mw.crawler, na_signals.download_failed)
    request = Request("https://a.example/1", meta={"outlet": "a", "kind": "page"})
    error = TCPTimedOutError()
    with pytest.raises(RetryLater, match="timeout: retry 1"):
        mw.process_exception(request, error)
    for _, _, call in mw._waiting.values():
        call.cancel()
    assert attempts == [{"request": request, "exception": error}]
    assert stat(mw.crawler, "retry/reason_count/timeout") == 1
    # an exception that is not RETRY_EXCEPTIONS' is left to the errback
    assert mw.process_exception(Request("https://a.example/2", meta={"outlet": "a"}),
                                ValueError("bug")) is None  # fmt: skip


def test_retries_still_waiting_at_close_are_recorded_as_due_now() -> None:
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    mw = retry_mw()
    failed = heard(mw.crawler, na_signals.page_failed)
    request = Request("https://a.example/1", meta={"outlet": "a", "kind": "page"})
    with pytest.raises(RetryLater):
        finished(mw.process_response(request, Response(request.url, status=429,
                                                        request=request)))  # fmt: skip
    assert mw.crawler.spider is not None
    mw.spider_closed(mw.crawler.spider, "shutdown")
    (row,) = failed
    assert (row["url"], row["reason"], row["due_now"], row["attempts"]) == (
        "https://a.example/1", "http_429", True, 1)  # fmt: skip
    assert row["detail"] == "crawl closed (shutdown) while the retry waited"
    assert stat(mw.crawler, "retry/abandoned_at_close") == 1
    assert not mw._waiting


def test_a_redirected_retry_still_waiting_at_close_names_the_url_found() -> None:
    """One URL rule (pipelines.page_failure): the failure row names the link the crawl found,
    not where it was redirected, so that the next run requests it and a success heals it."""
    from twisted.internet import reactor  # noqa: F401 - a reactor to schedule the retry on

    mw = retry_mw()
    failed = heard(mw.crawler, na_signals.page_failed)
    request = Request("https://a.example/moved", meta={
        "outlet": "a", "kind": "page", "redirect_urls": ["https://a.example/1"]})  # fmt: skip
    with pytest.raises(RetryLater):
        finished(mw.process_response(request, Response(request.url, status=503,
                                                        request=request)))  # fmt: skip
    assert mw.crawler.spider is not None
    mw.spider_closed(mw.crawler.spider, "shutdown")
    (row,) = failed
    assert (row["url"], row["reason"], row["due_now"]) == ("https://a.example/1", "http_5xx", True)


def test_retry_enabled_off_leaves_the_middleware_out() -> None:
    with pytest.raises(NotConfigured):
        BackoffRetryMiddleware.from_crawler(project_crawler(RETRY_ENABLED=False))
