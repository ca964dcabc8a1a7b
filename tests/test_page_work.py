"""The page worker: every per-page decision on one parse, and a crawl process that parses none."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, cast

from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.demo import DemoSite
from crawler.outlets import parse_config
from crawler.page_work import ARTICLES, PageJob, PageResult, analyse_page
from crawler.spiders.outlets import OutletsSpider
from pipelines.error_pages import NotFoundFingerprint
from tests.conftest import FAST
from tests.helpers import finished, project_crawler

URL = "https://courier.example/news/bridge"
OUTLET = parse_config(
    {"outlets": [{"name": "courier", "start_urls": ["https://courier.example/"],
                  "deny": [r"/login"]}]}
).outlets[0]  # fmt: skip
PROSE = "".join(
    f"<p>Paragraph {n} of the story: the council met on Tuesday night and voted on the "
    f"bridge repairs after a long debate about the budget and the river crossing.</p>"
    for n in range(6)
)


def page(body: str, head: str = "") -> bytes:
    return f"<html><head><title>Bridge</title>{head}</head><body>{body}</body></html>".encode()


def job(body: bytes, **kwargs: object) -> PageJob:
    return PageJob(URL, body, "text/html; charset=utf-8", "utf-8", **kwargs)  # type: ignore[arg-type]


def test_one_parse_gives_the_article_its_links_and_its_text() -> None:
    body = page(
        f'<nav><a href="/news/other">Other</a><a href="https://elsewhere.example/x">Out</a>'
        f'<a href="/login">Log in</a></nav><article><h1>Bridge to close</h1>{PROSE}</article>',
        head='<meta property="og:type" content="article"><link rel="stylesheet" href="/s.css">',
    )
    result = analyse_page(job(body, scope=OUTLET, requisites=ARTICLES, judge=True))
    assert result.article == "og:type"
    # inside the outlet's hosts, outside its deny rules
    assert result.links == ("https://courier.example/news/other",)
    assert [r.url for r in result.requisites or ()] == ["https://courier.example/s.css"]
    assert result.text is not None and result.text.title == "Bridge to close"
    assert len(result.text.paragraphs) == 6
    assert pickle.loads(pickle.dumps(result)) == result  # it crosses back from the worker


def test_a_hub_gets_links_and_no_text() -> None:
    body = page('<ul><li><a href="/news/a">A</a></li><li><a href="/news/b">B</a></li></ul>')
    result = analyse_page(job(body, scope=OUTLET, requisites=ARTICLES))
    assert result.article is None and result.text is None and result.requisites is None
    assert result.links == ("https://courier.example/news/a", "https://courier.example/news/b")
    # no scope: links are not wanted (the page is at the outlet's depth)
    assert analyse_page(job(body)).links == ()


def test_the_allow_rules_and_feeds_decide_before_the_page_does() -> None:
    body = page(f"<article><h1>Bridge to close</h1>{PROSE}</article>",
                head='<meta property="og:type" content="article">')  # fmt: skip
    assert analyse_page(job(body, article_by_url=False)).article is None
    assert analyse_page(job(body, article_by_url=True, extract=False)).article == "allow"
    plain = page(f"<h1>Bridge to close</h1>{PROSE}")
    assert analyse_page(job(plain, feed_entry=True, extract=False)).article == "feed"
    assert analyse_page(job(plain, extract=False)).article is None


def test_a_soft_failure_ends_the_reading() -> None:
    wall = page("<h1>Access denied</h1><p>Please verify you are human.</p>"
                '<a href="/news/a">A</a>')  # fmt: skip
    result = analyse_page(job(wall, judge=True, scope=OUTLET, article_by_url=True))
    assert result.verdict.reason == "blocked"
    assert result.links == () and result.text is None and result.no_text is None
    # the same page, not judged (RETRY_SOFT_FAILURES off): read as any other
    assert analyse_page(job(wall, scope=OUTLET)).links == ("https://courier.example/news/a",)


def test_the_outlets_not_found_answer_is_compared() -> None:
    missing = page("<h1>Sorry</h1><p>We looked everywhere for this story, but it has gone.</p>")
    fingerprint = analyse_fingerprint(missing)
    result = analyse_page(job(missing, judge=True, fingerprint=fingerprint, urls=(URL,)))
    assert result.verdict.reason == "soft_404" and result.verdict.fingerprint


def analyse_fingerprint(body: bytes) -> NotFoundFingerprint:
    from crawler.page_work import probe_fingerprint

    probe = "https://courier.example/newsarchiver-probe-1"
    fingerprint = probe_fingerprint(body, "text/html", "utf-8", 200, [probe])
    assert fingerprint.usable
    return fingerprint


def test_a_garbled_article_keeps_its_links_and_is_no_text() -> None:
    body = page('<a href="/news/a">A</a><p>' + "\ufffd" * 400 + "</p>")
    result = analyse_page(job(body, scope=OUTLET, article_by_url=True))
    assert result.no_text is not None and result.no_text[0] == "decode_error"
    assert result.links == ("https://courier.example/news/a",)


def test_an_extractor_that_raises_is_that_page_only() -> None:
    body = page(f"<h1>Bridge</h1>{PROSE}")
    result = analyse_page(job(body, article_by_url=True, extract_fn=_raises))
    assert result.error and result.no_text is not None
    assert result.no_text[0] == "extraction_error" and "KeyError" in result.no_text[1]


def _raises(body: bytes, url: str, content_type: str | None = None, **_: object) -> None:
    raise KeyError("a bug in a user's extractor")


def crawl_counting_parses(
    site: DemoSite, root: Path, archive: Path, name: str
) -> dict[str, object]:
    out = root / f"{name}.json"
    config = site.write_config(root / "outlets.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "tests.parse_counter", str(out), "crawl", "--config", str(config),
         "--archive", str(archive), *FAST],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    counted: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return counted


def test_the_crawl_process_parses_no_html(demo_site: DemoSite, tmp_path: Path) -> None:
    """Every page is parsed once, in a page worker: the crawl process (reactor and threads)
    parses none, on a first crawl and on a second one of 304s read back from the WARC."""
    archive = tmp_path / "archive"
    for name in ("first", "second"):
        counted = crawl_counting_parses(demo_site, tmp_path, archive, name)
        assert counted["counted"] >= 2  # the counter sees a Scrapy selector's parse, lxml's
        assert counted["html"] == [], counted["html"][:5]  # type: ignore[index]
    runs = sorted((archive / "runs").glob("*.json"))
    first, second = (json.loads(p.read_text(encoding="utf-8"))["stats"] for p in runs)
    # the pages were read: by the workers
    assert first["pages/analysed"] >= first["spider/pages/article"] + first["spider/pages/hub"]
    assert first["spider/pages/article"] == 17 and first["text/written"] >= 15
    assert second.get("not_modified/replayed", 0) > 0 and second["pages/analysed"] > 0


TRICKY = page(
    '<base href="/news/2026/">'
    '<a href=" story.html ">spaces</a><a href="../older.html">up</a><a href="?page=2">query</a>'
    '<a href="#top">fragment</a><a href="story.html#comments">fragment too</a>'
    '<a href="/news/caf\u00e9 cr\u00e8me?q=a b">non-ASCII</a><a href="//courier.example/p">'
    'protocol-relative</a><a href="https://courier.example:443/x">port</a>'
    '<a href="HTTPS://COURIER.EXAMPLE/Upper">case</a><a href="/files/report.pdf">pdf</a>'
    '<a href="/img/photo.JPG">image</a><a href="mailto:desk@courier.example">mail</a>'
    '<a href="javascript:void(0)">js</a><a href="tel:+100">tel</a><a href="">empty</a>'
    '<a href="http://[::1">bogus</a><a>no href</a><area href="/map/area">area</area>'
    '<a href="/login?next=/x">denied</a><a href="https://elsewhere.example/">elsewhere</a>'
    '<a href="/news/a">A</a><a href="/news/a">A again</a><a href="/news/a#x">A, #x</a>'
)


def scrapy_links(url: str, body: bytes, encoding: str = "utf-8") -> list[str]:
    from scrapy.http import HtmlResponse
    from scrapy.linkextractors import LinkExtractor

    response = HtmlResponse(url, body=body, encoding=encoding)
    found = [link.url for link in LinkExtractor(unique=True).extract_links(response)]
    # in their fetch forms, one link an identity (storage.url_identity)
    by_identity: dict[str, str] = {}
    for u in found:
        if OUTLET.owns(u) and not OUTLET.denied(u):
            forms = OUTLET.url_forms(u)
            by_identity.setdefault(forms.identity, forms.fetch)
    return list(by_identity.values())


def test_links_are_what_scrapys_link_extractor_gives(demo_site: DemoSite) -> None:
    """Read twice from two pages of the outlet (the second time from the worker's cache of
    menu links), the links of tricky, demo and benchmark pages are Scrapy's own."""
    from bench.synthetic_site import Site

    site = Site(pages=30, seed=3)
    pages = [TRICKY, site.hub(1), site.article(1), site.article(2)]
    base = demo_site.outlets["iconnews"]
    for path in ("/", "/section/politics", "/news/2025/03/14/wendle-bridge-to-close.html"):
        with urllib.request.urlopen(base + path) as answer:  # the demo outlet, as served
            pages.append(answer.read().replace(base.encode(), b"https://courier.example"))
    for number, body in enumerate(pages):
        for url in (f"https://courier.example/news/{number}/p.html", "https://courier.example/"):
            links = analyse_page(job(body, scope=OUTLET)).links
            ours = analyse_page(PageJob(url, body, "text/html", "utf-8", scope=OUTLET)).links
            assert list(ours) == scrapy_links(url, body), (number, url)
            assert links  # every page has links to compare


def test_a_bogus_base_or_scheme_relative_href_is_read_as_scrapy_reads_it() -> None:
    # (Scrapy's LinkExtractor raises on this one: here the page's URL is the base)
    bogus = page('<base href="http://[x"><a href="/news/a">A</a>')
    assert analyse_page(job(bogus, scope=OUTLET)).links == ("https://courier.example/news/a",)
    # "https:story" is relative to an https page: never taken from another page's cache
    relative = page('<a href="https:story-1">story</a>')
    for url in ("https://courier.example/news/x/p", "https://courier.example/other/q"):
        ours = analyse_page(PageJob(url, relative, "text/html", "utf-8", scope=OUTLET)).links
        assert list(ours) == scrapy_links(url, relative)


class Pages:
    """What a page worker answers, by URL: the links of each page (when they are wanted)."""

    def __init__(self, links: dict[str, tuple[str, ...]]) -> None:
        self.links = links
        self.asked: list[tuple[str, bool]] = []

    async def analyse(self, request: object, response: HtmlResponse, outlet: object,
                      **kwargs: object) -> PageResult:  # fmt: skip
        self.asked.append((response.url, bool(kwargs["follow"])))
        return PageResult(links=self.links[response.url] if kwargs["follow"] else ())


def racing_spider(links: dict[str, tuple[str, ...]]) -> tuple[OutletsSpider, Pages]:
    from crawler.outlets import CrawlConfig

    outlet = parse_config(
        {"outlets": [{"name": "courier", "start_urls": [HOME], "depth": 2}]}
    ).outlets[0]
    crawler = project_crawler(OutletsSpider, spider_args={"crawl_config": CrawlConfig((outlet,))},
                              ARCHIVE_REQUISITES=False)  # fmt: skip
    crawler.stats.open_spider()  # type: ignore[union-attr]
    pages = Pages(links)
    spider = cast(OutletsSpider, crawler.spider)
    spider.pages = pages  # type: ignore[assignment]
    return spider, pages


def parsed(spider: OutletsSpider, url: str, depth: int) -> list[Request]:
    request = Request(url, meta={"outlet": "courier", "kind": "page", "depth": depth})
    response = HtmlResponse(url, body=b"<html><body><p>page</p></body></html>",
                            encoding="utf-8", request=request)  # fmt: skip
    return [r for r in finished_all(spider.parse_page(response)) if isinstance(r, Request)]


def finished_all(agen: Any) -> list[Any]:
    out = []
    while True:
        try:
            out.append(finished(agen.__anext__()))
        except StopAsyncIteration:
            return out


HOME, ARTICLE, SECTION = (f"https://courier.example{p}" for p in ("/", "/news/a", "/section/x"))
DEEP = "https://courier.example/news/b"


def test_a_section_found_first_through_an_article_is_read_at_its_lesser_depth() -> None:
    """Pages come concurrently: the home page's article may be read before the home page's
    own link to a section is made a request, and the section first found one hop deeper,
    through the article's menu. It is read at the depth of its least link, and its links
    followed, as if the pages had come in order."""
    spider, pages = racing_spider({HOME: (), ARTICLE: (SECTION,), SECTION: (DEEP,)})
    assert [r.url for r in parsed(spider, ARTICLE, 1)] == [SECTION]  # made at depth 2
    spider._linked[ARTICLE] = 1
    pages.links[HOME] = (ARTICLE, SECTION)
    assert parsed(spider, HOME, 0) == []  # the section's request is queued already
    # the queued request (depth 2) is read at depth 1: its links are followed
    assert [r.url for r in parsed(spider, SECTION, 2)] == [DEEP]
    assert (SECTION, True) in pages.asked
    stats = spider.crawler.stats
    assert stats is not None and stats.get_value("spider/depth/lessened") == 1


def test_a_section_read_at_the_depth_limit_is_fetched_again_when_found_nearer() -> None:
    spider, pages = racing_spider({HOME: (), ARTICLE: (SECTION,), SECTION: (DEEP,)})
    parsed(spider, ARTICLE, 1)
    assert parsed(spider, SECTION, 2) == []  # read before the nearer link came: not followed
    pages.links[HOME] = (ARTICLE, SECTION)
    (again,) = [r for r in parsed(spider, HOME, 0) if r.url == SECTION]
    assert again.dont_filter  # past the duplicate filter, once
    assert parsed(spider, HOME, 0) == []
    stats = spider.crawler.stats
    assert stats is not None and stats.get_value("spider/depth/refetched") == 1
