"""PageAnalysis, built by ``from_crawler`` with the project's settings: one worker call per
page whoever asks first, the job it sends for a hand-made response, and what a worker that dies,
hangs or fails costs (that page, counted).

The pool is :class:`~tests.helpers.InlinePool`: the page is read in this process by the very
function a worker runs (:func:`crawler.page_work.analyse_page`)."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse

from crawler.outlets import parse_config
from crawler.page_analysis import PageAnalysis
from crawler.page_work import ARTICLES, PageJob, analyse_page, probe_fingerprint
from pipelines.error_pages import NotFoundFingerprint
from pipelines.worker_pool import WorkTimeout
from tests.helpers import InlinePool, finished, project_crawler

OUTLET = parse_config({"outlets": [
    {"name": "courier", "start_urls": ["https://courier.example/"], "allow": [r"/news/"],
     "drop": [".promo"]},
]}).outlets[0]  # fmt: skip
PROSE = "".join(
    f"<p>Paragraph {n} of the story: the council met on Tuesday night and voted on the "
    f"bridge repairs after a long debate about the budget and the river crossing.</p>"
    for n in range(6)
)
ARTICLE = (f'<html><head><title>Bridge</title><link rel="stylesheet" href="/s.css"></head><body>'
           f'<nav><a href="/news/other">Other</a></nav><article><h1>Bridge to close</h1>{PROSE}'
           f'</article></body></html>').encode()  # fmt: skip


def analysis(pool: InlinePool, **settings: Any) -> tuple[PageAnalysis, Crawler]:
    crawler = project_crawler(**settings)
    pages = PageAnalysis.from_crawler(crawler)
    pages.pool = pool  # type: ignore[assignment]
    return pages, crawler


def response(url: str = "https://courier.example/news/bridge", body: bytes = ARTICLE,
             **meta: Any) -> HtmlResponse:  # fmt: skip
    request = Request(url, meta={"outlet": "courier", "kind": "page", **meta})
    return HtmlResponse(url, body=body, encoding="utf-8", request=request,
                        headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip


def counted(crawler: Crawler) -> dict[str, Any]:
    assert crawler.stats is not None
    return crawler.stats.get_stats()


def test_one_worker_call_per_page_whoever_asks() -> None:
    pool = InlinePool()
    pages, crawler = analysis(pool)
    page = response()
    assert page.request is not None
    first = finished(pages.analyse(page.request, page, OUTLET, judge=True, follow=True,
                                   requisites=ARTICLES))  # fmt: skip
    again = finished(pages.analyse(page.request, page, OUTLET))  # the spider, after the retry mw
    assert again is first and len(pool.calls) == 1
    assert first.article == "allow" and first.text is not None
    assert first.text.title == "Bridge to close"
    assert first.links == ("https://courier.example/news/other",)
    assert [r.url for r in first.requisites or ()] == ["https://courier.example/s.css"]
    assert counted(crawler) == {"pages/analysed": 1}
    # a response of its own (a retry's) is read afresh
    finished(pages.analyse(page.request, response(), OUTLET))
    assert len(pool.calls) == 2 and counted(crawler) == {"pages/analysed": 2}


def test_the_job_carries_the_pages_place_and_the_outlets_rules() -> None:
    pool = InlinePool()
    pages, _ = analysis(pool, EXTRACT_MIN_CHARS=150)
    fingerprint = NotFoundFingerprint(404, "https://courier.example/x1", frozenset({"not found"}),
                                      2, frozenset())  # fmt: skip
    page = response("https://courier.example/", kind="hub",
                    redirect_urls=["http://courier.example/"])  # fmt: skip
    assert page.request is not None
    finished(pages.analyse(page.request, page, OUTLET, judge=True, fingerprint=fingerprint))
    listed = response("https://courier.example/x", kind="feed_entry")
    assert listed.request is not None
    finished(pages.analyse(listed.request, listed, OUTLET, fingerprint=fingerprint))
    ((fn, (hub,), _), (_, (entry,), _)) = pool.calls
    assert fn is analyse_page and isinstance(hub, PageJob)
    assert hub.urls == ("http://courier.example/", "https://courier.example/")
    assert (hub.hub, hub.judge, hub.fingerprint, hub.scope) == (True, True, fingerprint, None)
    assert (hub.drop, hub.min_chars, hub.article_by_url) == ((".promo",), 150, False)
    # not judged: no fingerprint to compare; listed in a feed
    assert (entry.judge, entry.fingerprint, entry.feed_entry) == (False, None, True)


def test_extract_enabled_off_reads_no_text() -> None:
    pool = InlinePool()
    pages, _ = analysis(pool, EXTRACT_ENABLED=False)
    page = response()
    assert page.request is not None
    result = finished(pages.analyse(page.request, page, OUTLET))
    assert result.article == "allow" and result.text is None
    ((_, (job,), _),) = pool.calls
    assert job.extract is False


@pytest.mark.parametrize(
    ("error", "reason", "counter"),
    [
        (BrokenProcessPool("worker process died"), "extraction_crashed", "extract/worker_died"),
        (WorkTimeout("no result after 60 s"), "extraction_timeout", "extract/timeout"),
        (KeyError("a bug"), "extraction_error", None),
    ],
)
def test_a_worker_that_dies_hangs_or_fails_costs_that_page_only(
    error: BaseException, reason: str, counter: str | None
) -> None:
    pages, crawler = analysis(InlinePool(error))
    page = response()
    assert page.request is not None
    result = finished(pages.analyse(page.request, page, OUTLET, follow=True))
    assert result.failed is not None and result.failed[0] == reason
    assert result.links == () and result.text is None
    expected = {"pages/analysed": 1, f"pages/failed/{reason}": 1}
    if counter:
        expected[counter] = 1
    assert counted(crawler) == expected


def test_a_probes_answer_is_read_as_its_outlets_fingerprint() -> None:
    pool = InlinePool()
    pages, _ = analysis(pool)
    body = b"<html><head><title>Page not found</title></head><body><p>Gone.</p></body></html>"
    probe = response("https://courier.example/no-such-page-x1", body, kind="probe")
    assert probe.request is not None
    fingerprint = finished(pages.fingerprint(probe.request, probe))
    ((fn, args, _),) = pool.calls
    assert fn is probe_fingerprint and args[3] == 200
    assert isinstance(fingerprint, NotFoundFingerprint)
    assert (fingerprint.status, fingerprint.url) == (200, probe.url)
    assert fingerprint.words > 0 and not fingerprint.signals
