"""The spider's callbacks and errbacks on hand-made responses: OutletsSpider made by its
``from_crawler`` with the project's settings, its pages read in this process by the page
worker's own function (:class:`~tests.helpers.InlinePool`). What each callback yields, the
failures it reports (``page_failed``, heard by the failure recorder in a crawl) and the stats
counters a user reads after a crawl."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.python.failure import Failure

from crawler import link_following
from crawler.middlewares.retry import RetryLater
from crawler.outlets import CrawlConfig, parse_config
from crawler.spiders.outlets import OutletsSpider
from pipelines import signals as na_signals
from pipelines.items import ArticleItem
from tests.helpers import InlinePool, finished, project_crawler

CONFIG = CrawlConfig(parse_config({"outlets": [
    {"name": "courier", "start_urls": ["https://courier.example/"], "allow": [r"/news/"],
     "deny": [r"/login"], "depth": 2},
]}).outlets)  # fmt: skip
PROSE = "".join(
    f"<p>Paragraph {n} of the story: the council met on Tuesday night and voted on the "
    f"bridge repairs after a long debate about the budget and the river crossing.</p>"
    for n in range(6)
)
NAV = ('<nav><a href="/news/a">A</a><a href="/news/b?utm_source=x">B</a>'
       '<a href="/login">Log in</a><a href="https://elsewhere.example/">Out</a></nav>')  # fmt: skip
ARTICLE = (f'<html><head><title>Bridge</title><link rel="stylesheet" href="/s.css"></head>'
           f"<body>{NAV}<article><h1>Bridge to close</h1>{PROSE}</article>"
           f"</body></html>")  # fmt: skip
HUB = f"<html><head><title>Courier</title></head><body>{NAV}</body></html>"


class Heard:
    """The project's signals the spider sends, by name."""

    def __init__(self, crawler: Crawler) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for name in ("page_failed", "page_ok", "request_done"):
            crawler.signals.connect(self._listener(name), signal=getattr(na_signals, name),
                                    weak=False)  # fmt: skip

    def _listener(self, name: str) -> Any:
        def listener(signal: object, sender: object, **kwargs: Any) -> None:
            self.calls.append((name, kwargs))

        return listener

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]


def spider(pool: InlinePool | None = None, **settings: Any) -> tuple[OutletsSpider, Heard]:
    crawler = project_crawler(OutletsSpider, spider_args={"crawl_config": CONFIG}, **settings)
    made = crawler.spider
    assert isinstance(made, OutletsSpider) and made.pages is not None
    made.pages.pool = pool or InlinePool()  # type: ignore[assignment]
    return made, Heard(crawler)


def stat(spider: OutletsSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(key)


def page(url: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
         status: int = 200, **meta: Any) -> Response:  # fmt: skip
    request = Request(url, meta={"outlet": "courier", "kind": "page", **meta})
    data = body.encode() if isinstance(body, str) else body
    cls = HtmlResponse if "html" in content_type else Response
    return cls(url, status=status, body=data, headers={"Content-Type": content_type},
               request=request)  # fmt: skip


def run(agen: AsyncIterator[Any]) -> list[Any]:
    """What an async callback yields, when it awaits nothing that waits."""
    out: list[Any] = []
    while True:
        try:
            out.append(finished(agen.__anext__()))  # type: ignore[arg-type]
        except StopAsyncIteration:
            return out


# --- parse_page -----------------------------------------------------------------------------


def test_an_article_page_gives_its_item_its_links_and_its_requisites() -> None:
    made, heard = spider()
    response = page("https://courier.example/news/bridge", ARTICLE,
                    redirect_urls=["https://courier.example/n/bridge"])  # fmt: skip
    out = run(made.parse_page(response))
    (item,) = [o for o in out if isinstance(o, ArticleItem)]
    assert (item.url, item.final_url, item.outlet) == (
        "https://courier.example/n/bridge",
        "https://courier.example/news/bridge",
        "courier",
    )
    assert item.article is not None and item.article.title == "Bridge to close"
    assert (item.analysed, item.encoding, item.http_status) == (True, "utf-8", 200)
    requests = [o for o in out if isinstance(o, Request)]
    pages = [r for r in requests if r.meta["kind"] == "page"]
    # inside the outlet, outside its deny rules; tracking parameters removed
    assert [r.url for r in pages] == ["https://courier.example/news/a",
                                      "https://courier.example/news/b"]  # fmt: skip
    assert all(r.meta["outlet"] == "courier" and r.errback == made.on_error for r in pages)
    (css,) = [r for r in requests if r.meta["kind"] == "requisite"]
    assert css.url == "https://courier.example/s.css"
    assert stat(made, "spider/pages/article") == 1
    assert stat(made, "spider/article_signal/allow") == 1
    assert stat(made, "outlet/courier/articles") == 1
    assert stat(made, "spider/links/tracking_removed") == 1
    assert heard.of("page_failed") == [] and heard.of("page_ok") == []  # the text store's


def test_a_hub_is_counted_healed_and_its_repeated_links_not_asked_for_twice() -> None:
    made, heard = spider()
    first = run(made.parse_page(page("https://courier.example/", HUB, kind="hub",
                                     redirect_urls=["http://courier.example/"])))  # fmt: skip
    assert [r.url for r in first] == ["https://courier.example/news/a",
                                      "https://courier.example/news/b"]  # fmt: skip
    again = run(made.parse_page(page("https://courier.example/section", HUB, kind="hub")))
    assert again == []  # the same menu: linked already, as shallow
    assert stat(made, "spider/pages/hub") == 2
    assert stat(made, "spider/links/repeated") == 2
    assert {c["url"] for c in heard.of("page_ok")} == {
        "http://courier.example/",
        "https://courier.example/",
        "https://courier.example/section",
    }


def test_an_error_page_past_its_retries_is_a_failure_never_a_text() -> None:
    made, heard = spider()
    response = page("https://courier.example/news/gone", ARTICLE, soft_failure="soft_404",
                    retry_times=2, redirect_urls=["https://courier.example/n/gone"])  # fmt: skip
    assert run(made.parse_page(response)) == []
    (failed,) = heard.of("page_failed")
    assert (failed["url"], failed["reason"], failed["status"], failed["attempts"]) == (
        "https://courier.example/n/gone", "soft_404", 200, 3)  # fmt: skip
    assert stat(made, "spider/failed/soft_404") == 1


def test_an_article_that_is_not_html_is_a_failure_a_hubs_link_only_counted() -> None:
    made, heard = spider()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4
    assert run(made.parse_page(page("https://courier.example/news/report.pdf", pdf,
                                    "application/pdf"))) == []  # fmt: skip
    assert run(made.parse_page(page("https://courier.example/brochure.pdf", pdf,
                                    "application/pdf"))) == []  # fmt: skip
    (failed,) = heard.of("page_failed")
    assert (failed["url"], failed["reason"]) == ("https://courier.example/news/report.pdf",
                                                 "not_html")  # fmt: skip
    assert [c["url"] for c in heard.of("page_ok")] == ["https://courier.example/brochure.pdf"]
    assert stat(made, "spider/not_html") == 2
    assert stat(made, "spider/failed/not_html") == 1


def test_an_article_whose_bytes_fit_no_charset_is_a_charset_mismatch() -> None:
    made, heard = spider()
    detail = "the bytes fit neither the declared charset utf-8 nor UTF-8"
    response = page("https://courier.example/news/bridge", ARTICLE, charset_unfit=detail)
    out = run(made.parse_page(response))
    assert not any(isinstance(o, ArticleItem) for o in out)
    (failed,) = heard.of("page_failed")
    assert (failed["reason"], failed["detail"]) == ("charset_mismatch", detail)
    assert stat(made, "spider/failed/charset_mismatch") == 1


def test_a_page_its_worker_died_on_is_recorded_with_nothing_followed() -> None:
    made, heard = spider(InlinePool(BrokenProcessPool("worker process died")))
    assert run(made.parse_page(page("https://courier.example/news/bridge", ARTICLE))) == []
    (failed,) = heard.of("page_failed")
    assert failed["reason"] == "extraction_crashed"
    assert stat(made, "spider/failed/extraction_crashed") == 1
    assert stat(made, "pages/failed/extraction_crashed") == 1


def test_a_304_without_a_stored_copy_is_only_counted() -> None:
    made, heard = spider()
    assert run(made.parse_page(page("https://courier.example/", b"", status=304,
                                    kind="hub"))) == []  # fmt: skip
    assert stat(made, "spider/not_modified") == 1
    assert [c["url"] for c in heard.of("page_ok")] == ["https://courier.example/"]


# --- errbacks and dropped requests ----------------------------------------------------------


def test_an_http_error_is_recorded_and_its_request_done() -> None:
    made, heard = spider()
    request = Request("https://courier.example/news/x", meta={"outlet": "courier",
                                                              "kind": "page"})  # fmt: skip
    error = HttpError(Response(request.url, status=410, request=request), "Ignoring 410")
    failure = Failure(error)
    failure.request = request  # type: ignore[attr-defined]  # as Scrapy's errbacks get it
    made.on_error(failure)
    (failed,) = heard.of("page_failed")
    assert (failed["url"], failed["reason"], failed["status"]) == (request.url, "http_410", 410)
    assert [c["request"] for c in heard.of("request_done")] == [request]
    assert stat(made, "spider/failed/http_410") == 1


def test_a_retry_waiting_is_neither_a_failure_nor_done() -> None:
    made, heard = spider()
    request = Request("https://courier.example/news/x", meta={"outlet": "courier"})
    failure = Failure(RetryLater("http_503: retry 1"))
    failure.request = request  # type: ignore[attr-defined]
    made.on_error(failure)
    assert heard.calls == []


def test_a_redirect_back_into_its_own_chain_is_a_redirect_loop() -> None:
    made, heard = spider()
    chain = ["https://courier.example/news/a", "https://courier.example/news/b"]
    looped = Request(chain[0], meta={"outlet": "courier", "kind": "page",
                                     "redirect_urls": chain,
                                     "redirect_reasons": [301, 302]})  # fmt: skip
    made.request_dropped(looped, made)
    (failed,) = heard.of("page_failed")
    assert (failed["url"], failed["reason"], failed["status"]) == (chain[0], "redirect_loop", 302)
    assert failed["detail"] == "redirect loop: " + " -> ".join([*chain, chain[0]])
    made.request_dropped(Request("https://courier.example/news/c"), made)  # a plain duplicate
    assert len(heard.of("page_failed")) == 1


# --- feeds and sitemaps ---------------------------------------------------------------------


@pytest.fixture
def in_this_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feeds and sitemaps are read in a thread in a crawl: here, at once (no reactor runs)."""
    monkeypatch.setattr(link_following, "deferToThread",
                        lambda fn, *a, **kw: defer.maybeDeferred(fn, *a, **kw))  # fmt: skip
    monkeypatch.setattr(link_following, "maybe_deferred_to_future", lambda d: d)


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Courier</title>
<item><title>A</title><link>https://courier.example/news/a?utm_medium=rss</link></item>
<item><title>B</title><link>https://courier.example/login/b</link></item>
<item><title>C</title><link>https://elsewhere.example/news/c</link></item>
</channel></rss>"""


@pytest.mark.usefixtures("in_this_thread")
def test_a_feeds_entries_inside_the_outlet_are_requested_as_feed_entries() -> None:
    made, heard = spider()
    feed = TextResponse("https://courier.example/feed.xml", body=RSS, encoding="utf-8",
                        request=Request("https://courier.example/feed.xml",
                                        meta={"outlet": "courier", "kind": "feed"}))  # fmt: skip
    (entry,) = run(made.parse_feed(feed))
    assert (entry.url, entry.meta["kind"]) == ("https://courier.example/news/a", "feed_entry")
    assert entry.callback == made.parse_page
    assert stat(made, "spider/feed/entries") == 1
    assert stat(made, "spider/links/tracking_removed") == 1
    assert [c["url"] for c in heard.of("page_ok")] == ["https://courier.example/feed.xml"]


def sitemap(url: str, body: bytes) -> Response:
    return Response(url, body=gzip.compress(body), request=Request(
        url, meta={"outlet": "courier", "kind": "sitemap"}))  # fmt: skip


@pytest.mark.usefixtures("in_this_thread")
def test_a_sitemap_index_gives_sitemaps_a_urlset_gives_pages() -> None:
    made, _ = spider()
    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
             b'sitemap/0.9"><sitemap><loc>https://courier.example/sm-1.xml</loc></sitemap>'
             b"</sitemapindex>")  # fmt: skip
    (child,) = run(made.parse_sitemap(sitemap("https://courier.example/sitemap.xml.gz", index)))
    assert (child.url, child.meta["kind"], child.callback) == (
        "https://courier.example/sm-1.xml", "sitemap", made.parse_sitemap)  # fmt: skip
    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc>https://courier.example/news/a</loc></url>"
              b"<url><loc>https://courier.example/about</loc></url>"  # not an article: allow
              b"<url><loc>https://elsewhere.example/news/x</loc></url></urlset>")  # fmt: skip
    (article,) = run(made.parse_sitemap(sitemap("https://courier.example/sm-1.xml", urlset)))
    assert (article.url, article.meta["kind"]) == ("https://courier.example/news/a", "page")
    assert stat(made, "spider/sitemap/index") == 1 and stat(made, "spider/sitemap/urlset") == 1


@pytest.mark.usefixtures("in_this_thread")
def test_a_sitemap_past_the_size_limit_is_a_failure() -> None:
    made, heard = spider(DOWNLOAD_MAXSIZE=2000)
    urls = b"".join(b"<url><loc>https://courier.example/news/%d</loc></url>" % n
                    for n in range(200))  # fmt: skip
    big = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           + urls + b"</urlset>")  # fmt: skip
    assert run(made.parse_sitemap(sitemap("https://courier.example/sitemap.xml.gz", big))) == []
    (failed,) = heard.of("page_failed")
    assert failed["reason"] == "too_large"
    assert stat(made, "spider/sitemap/too_large") == 1
