"""Page requisites: what a page names (crawler.requisite_links), what the crawl asks for
(crawler.requisites), and what a crawl of the demo site leaves in its WARC."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.demo import DemoSite
from crawler.demo.assets import LOOPING_CSS, MISSING_ICON
from crawler.page_work import ALL, ARTICLES, PageJob, analyse_page
from crawler.requisite_links import (
    FONT,
    ICON,
    IMAGE,
    SCRIPT,
    STYLESHEET,
    Requisite,
    css_requisites,
    page_requisites,
    srcset_urls,
)
from crawler.requisites import MAX_IMPORT_DEPTH, Requisites
from storage.manifest import Manifest
from tests.conftest import Crawl, cli
from tests.helpers import InlinePool, finished, project_crawler
from tests.test_crawl_demo import archivable, warc_records

PAGE = "https://news.example/2026/03/bridge/"


def test_a_page_names_its_stylesheets_scripts_icons_and_images() -> None:
    html = b"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/css/site.css">
<link rel="alternate stylesheet" href="/css/contrast.css" title="High contrast">
<link rel="icon" href="/favicon.ico"><link rel="apple-touch-icon" href="/touch.png">
<link rel="preload" as="font" href="/fonts/serif.woff2" crossorigin>
<link rel="preload" as="fetch" href="/api/comments.json">
<link rel="alternate" type="application/rss+xml" href="/rss.xml">
<script src="https://cdn.example.net/lib.js"></script><script>var inline = 1;</script>
<meta property="og:image" content="https://img.example.net/lead.jpg">
<style>.hero { background: url(/img/hero.png) } </style>
</head><body>
<a href="/other-story/">Other story</a><iframe src="https://video.example/embed/1"></iframe>
<img src="/img/a.jpg" srcset="/img/c_fill,w_300/a.jpg 300w, /img/a-2x.jpg 2x" alt="">
<img src="data:image/gif;base64,R0lGOD" data-src="/img/lazy.jpg">
<picture><source srcset="/img/a.webp" type="image/webp"><img src="/img/a.jpg"></picture>
<video poster="/img/poster.jpg"><source src="/video/clip.mp4"></video>
<div style="background-image: url('/img/box.png')"></div>
</body></html>"""
    assert page_requisites(html, PAGE) == [
        Requisite("https://news.example/css/site.css", STYLESHEET),
        Requisite("https://news.example/favicon.ico", ICON),
        Requisite("https://news.example/touch.png", ICON),
        Requisite("https://news.example/fonts/serif.woff2", FONT),
        Requisite("https://cdn.example.net/lib.js", SCRIPT),
        Requisite("https://img.example.net/lead.jpg", IMAGE),
        Requisite("https://news.example/img/hero.png", IMAGE),
        Requisite("https://news.example/img/a.jpg", IMAGE),
        Requisite("https://news.example/img/c_fill,w_300/a.jpg", IMAGE),
        Requisite("https://news.example/img/a-2x.jpg", IMAGE),
        Requisite("https://news.example/img/lazy.jpg", IMAGE),
        Requisite("https://news.example/img/a.webp", IMAGE),
        Requisite("https://news.example/img/poster.jpg", IMAGE),
        Requisite("https://news.example/img/box.png", IMAGE),
    ]


def test_urls_resolve_against_base_href_and_lose_their_fragment() -> None:
    html = b"""<html><head><base href="https://static.example/v2/">
<link rel="stylesheet" href="site.css#print"><script src="app.js"></script></head>
<body><img src="../logo.svg#icon"></body></html>"""
    assert [r.url for r in page_requisites(html, PAGE)] == [
        "https://static.example/v2/site.css",
        "https://static.example/v2/app.js",
        "https://static.example/logo.svg",
    ]


@pytest.mark.parametrize("codec", ["euc_jp", "utf-16-le", "mac-roman", "utf-8-sig"])
def test_a_page_in_a_charset_libxml2_does_not_name_keeps_its_requisites(codec: str) -> None:
    # the crawl's charset is a Python codec name (crawler.middlewares.charset)
    html = (
        '<html><head><link rel="stylesheet" href="/a.css"></head><body><p>ニュース</p>'
        '<img src="/b.png"></body></html>'
    )
    body = html.encode(codec, "replace")
    assert [r.url for r in page_requisites(body, PAGE, codec)] == [
        "https://news.example/a.css", "https://news.example/b.png",
    ]  # fmt: skip


def test_a_malformed_url_is_no_requisite_and_loses_no_other() -> None:
    html = b"""<html><head><base href="http://[broken/"><link rel="stylesheet" href="/a.css">
<style>@import url(http://[x/b.css); .c { background: url(/c.png) }</style></head>
<body><img src="http://[::1/x.png"><img src="/d.png"></body></html>"""
    assert [r.url for r in page_requisites(html, PAGE)] == [
        "https://news.example/a.css", "https://news.example/c.png", "https://news.example/d.png",
    ]  # fmt: skip


def test_a_page_without_markup_names_nothing() -> None:
    assert page_requisites(b"", PAGE) == []
    assert page_requisites(b"<p>plain text, no requisites</p>", PAGE) == []


def test_a_stylesheet_names_imports_fonts_and_images() -> None:
    css = b"""@charset "utf-8";
@import "base.css";
@import url(print.css) print;
@import url("https://cdn.example.net/grid.css") screen and (min-width: 40em);
/* url(commented-out.png) is not a requisite */
@font-face { font-family: Serif; src: url(/fonts/serif.woff2) format("woff2"),
             url("/fonts/serif.ttf") format("truetype"); }
@media (min-width: 60em) { .wide { background: url('wide.png') no-repeat; } }
.hero { background-image: image-set("hero.avif" type("image/avif"), url(hero.jpg) 1x); }
.icon { mask: url(#shape); background: url(data:image/png;base64,iVBOR); }
.esc { background: url(sp\\61 ce.png); }
"""
    found = css_requisites(css, "https://news.example/css/site.css")
    assert found == [
        Requisite("https://news.example/css/base.css", STYLESHEET),
        Requisite("https://news.example/css/print.css", STYLESHEET),
        Requisite("https://cdn.example.net/grid.css", STYLESHEET),
        Requisite("https://news.example/fonts/serif.woff2", FONT),
        Requisite("https://news.example/fonts/serif.ttf", FONT),
        Requisite("https://news.example/css/wide.png", IMAGE),
        Requisite("https://news.example/css/hero.avif", IMAGE),
        Requisite("https://news.example/css/hero.jpg", IMAGE),
        Requisite("https://news.example/css/space.png", IMAGE),
    ]


def test_a_stylesheet_is_decoded_by_its_http_charset() -> None:
    css = "/* é */ .a { background: url(café.png) }".encode("latin-1")
    (found,) = css_requisites(css, "https://news.example/css/a.css", encoding="iso-8859-1")
    assert found.url == "https://news.example/css/caf%C3%A9.png"


@pytest.mark.parametrize(
    ("srcset", "urls"),
    [
        ("a.jpg", ["a.jpg"]),
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        ("a.jpg, b.jpg 2x,", ["a.jpg", "b.jpg"]),
        ("a.jpg,b.jpg 2x", ["a.jpg,b.jpg"]),  # one URL, as a browser reads it: no space
        ("/c_fill,w_300/a.jpg 300w, /c_fill,w_600/a.jpg 600w", ["/c_fill,w_300/a.jpg",
                                                               "/c_fill,w_600/a.jpg"]),
        ("  a.jpg  640w ,  b.jpg  1280w  ", ["a.jpg", "b.jpg"]),
        ("", []),
    ],
)  # fmt: skip
def test_srcset_candidates_by_the_html_rules(srcset: str, urls: list[str]) -> None:
    assert srcset_urls(srcset) == urls


# --- what the crawl asks for -------------------------------------------------------------------
def requisites(**settings: Any) -> tuple[Requisites, Any]:
    crawler = project_crawler(**settings)

    def callback(response: Response) -> None:
        raise AssertionError("not called in these tests")

    return Requisites.from_crawler(crawler, callback, callback), crawler.stats


def found(*names: str, kind: str = IMAGE) -> list[Requisite]:
    return [Requisite(f"https://cdn.example.net/{name}", kind) for name in names]


def test_each_url_is_asked_for_once_a_run() -> None:
    req, stats = requisites()
    first = req.requests_for(found("site.css", kind=STYLESHEET) + found("a.jpg"), PAGE, "news")
    second = req.requests_for(found("site.css", kind=STYLESHEET) + found("b.jpg"), PAGE, "news")
    assert [r.url for r in first] == ["https://cdn.example.net/site.css",
                                      "https://cdn.example.net/a.jpg"]  # fmt: skip
    assert [r.url for r in second] == ["https://cdn.example.net/b.jpg"]
    assert stats.get_value("requisites/skipped/seen") == 1
    assert stats.get_value("requisites/requested/stylesheet") == 1
    assert stats.get_value("requisites/requested/image") == 2
    meta = first[0].meta
    assert (meta["kind"], meta["requisite"], meta["requisite_of"], meta["outlet"]) == (
        "requisite", STYLESHEET, PAGE, "news"
    )  # fmt: skip
    assert meta["download_maxsize"] == 10 * 1024 * 1024  # ARCHIVE_REQUISITES_MAX_SIZE
    assert first[0].priority > Request(PAGE).priority  # right after the page that named it


def test_the_page_limit_keeps_the_layout_before_the_photos() -> None:
    req, stats = requisites(ARCHIVE_REQUISITES_MAX_PER_PAGE=3)
    names = found("1.jpg", "2.jpg") + found("app.js", kind=SCRIPT) + found("s.css", kind=STYLESHEET)
    asked = req.requests_for(names, PAGE, "news")
    assert [r.url.rsplit("/", 1)[1] for r in asked] == ["s.css", "app.js", "1.jpg"]
    assert stats.get_value("requisites/skipped/page_limit") == 1


def test_the_run_limit_and_the_url_length_limit_are_counted() -> None:
    req, stats = requisites(ARCHIVE_REQUISITES_MAX_PER_RUN=2, URLLENGTH_LIMIT=60)
    long_name = "x" * 60 + ".jpg"
    assert len(req.requests_for(found("1.jpg", long_name, "2.jpg"), PAGE, "news")) == 2
    assert req.requests_for(found("3.jpg"), PAGE, "news") == []
    assert stats.get_value("requisites/skipped/url_too_long") == 1
    assert stats.get_value("requisites/skipped/run_limit") == 1


def test_imports_stop_some_stylesheets_below_the_page() -> None:
    req, stats = requisites()
    css_url = "https://cdn.example.net/level.css"
    names = found("deeper.css", kind=STYLESHEET) + found("bg.png")

    def fetched(level: int) -> Response:
        meta = {"outlet": "news", "requisite": STYLESHEET, "requisite_level": level}
        return Response(css_url, request=Request(css_url, meta=meta))

    (imported, image) = req.stylesheet_requests(names, fetched(0))
    assert imported.meta["requisite_level"] == 1 and image.meta["requisite"] == IMAGE
    req, stats = requisites()
    (image,) = req.stylesheet_requests(names, fetched(MAX_IMPORT_DEPTH))
    assert image.url.endswith("bg.png")  # the images of the deepest still come
    assert stats.get_value("requisites/skipped/import_depth") == 1


def test_which_pages_have_their_requisites_fetched() -> None:
    req, _ = requisites()
    assert req.wanted({}, 200) == ARTICLES  # a hub's are not: ARCHIVE_REQUISITES_HUBS is off
    assert req.wanted({"dont_archive_requisites": True}, 200) is None
    assert req.wanted({"dont_archive": True}, 200) is None
    # read back from its capture after a 304: its requisites came with that capture
    assert req.wanted({"not_modified": True}, 200) is None
    assert req.wanted({}, 203) is None
    hubs, _ = requisites(ARCHIVE_REQUISITES_HUBS=True)
    assert hubs.wanted({}, 200) == ALL


def test_the_page_worker_reads_requisites_of_the_pages_asked_for() -> None:
    body = b'<html><head><link rel="stylesheet" href="/s.css"></head><body><p>x</p></body></html>'

    def job(**kwargs: Any) -> PageJob:
        return PageJob(url=PAGE, body=body, content_type="text/html", encoding="utf-8", **kwargs)

    css = (Requisite("https://news.example/s.css", "stylesheet"),)
    assert (
        analyse_page(job(requisites=ARTICLES, article_by_url=True, extract=False)).requisites == css
    )
    assert analyse_page(job(requisites=ARTICLES, article_by_url=False)).requisites is None  # a hub
    assert analyse_page(job(requisites=ALL, article_by_url=False)).requisites == css
    assert analyse_page(job(article_by_url=True, extract=False)).requisites is None


def test_off_means_no_requisites() -> None:
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        requisites(ARCHIVE_REQUISITES=False)


def test_a_failed_requisite_is_counted_not_listed() -> None:
    req, stats = requisites()
    request = Request("https://cdn.example.net/gone.png", meta={"kind": "requisite"})
    response = Response(request.url, status=404, request=request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # type: ignore[attr-defined]
    req.failed(failure)
    assert stats.get_value("requisites/failed/http_404") == 1


def stylesheet(body: bytes, level: int = 0) -> Response:
    url = "https://cdn.example.net/site.css"
    meta = {"outlet": "news", "kind": "requisite", "requisite": STYLESHEET,
            "requisite_level": level}  # fmt: skip
    return Response(url, body=body, headers={"Content-Type": "text/css; charset=utf-8"},
                    request=Request(url, meta=meta))  # fmt: skip


def test_a_fetched_stylesheet_is_counted_once_and_read_for_its_own() -> None:
    req, stats = requisites()
    pool = InlinePool()
    req._run = pool.run  # read here, by the function a page worker runs
    css = stylesheet(b'@import "more.css"; body { background: url(bg.png) }')
    asked = finished(req.for_stylesheet(css))
    assert [(r.url, r.meta["requisite_level"]) for r in asked] == [
        ("https://cdn.example.net/more.css", 1),
        ("https://cdn.example.net/bg.png", 1),
    ]
    ((fn, args, _),) = pool.calls
    assert fn is css_requisites and args[2] == "utf-8"  # decoded by its HTTP charset
    req.fetched(css)  # the same response again: counted once
    assert stats.get_value("requisites/fetched/stylesheet") == 1
    assert stats.get_value("requisites/bytes") == len(css.body)


def test_a_stylesheet_its_worker_died_on_is_unread_and_counted() -> None:
    req, stats = requisites()
    req._run = InlinePool(BrokenProcessPool("worker process died")).run
    assert finished(req.for_stylesheet(stylesheet(b'@import "more.css";'))) == []
    assert stats.get_value("requisites/failed/unread") == 1


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bad_limit_names_the_setting_and_exits_2(value: str, tmp_path: Any) -> None:
    config = tmp_path / "outlets.yaml"
    config.write_text("outlets:\n  - name: a\n    start_urls: ['http://127.0.0.1:9/']\n")
    result = cli("crawl", "--config", str(config), "--archive", str(tmp_path / "archive"),
                 "-s", f"ARCHIVE_REQUISITES_MAX_PER_PAGE={value}")  # fmt: skip
    assert result.returncode == 2
    assert "ARCHIVE_REQUISITES_MAX_PER_PAGE" in result.stderr
    assert "Traceback" not in result.stderr


# --- a crawl of the demo site ----------------------------------------------------------------
def test_every_requisite_of_every_article_is_in_the_warc_once(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    captured = Counter(
        rec.rec_headers.get_header("WARC-Target-URI")
        for rec, _, _ in warc_records(demo_crawl)
        if rec.rec_type in ("response", "revisit") and rec.http_headers.get_statuscode() == "200"
    )
    wanted = {url for a in archivable(demo_site) for url in demo_site.requisites(a)}
    assert any(url.startswith(demo_site.cdn) for url in wanted)  # the off-host ones too
    hosts = {urlsplit(base).hostname for base in demo_site.outlets.values()}
    assert urlsplit(demo_site.cdn).hostname not in hosts
    assert {url: captured[url] for url in wanted} == dict.fromkeys(wanted, 1)
    # one shared stylesheet, one request, however many pages of four outlets name it
    served = Counter((r.outlet, r.path) for r in demo_crawl.requests)
    assert served[("cdn", "/lib/common.css")] == 1
    assert served[("cdn", "/robots.txt")] == 1  # robots.txt applies on every host


def test_requisites_are_neither_texts_nor_failures(demo_crawl: Crawl, demo_site: DemoSite) -> None:
    stats = demo_crawl.summary["stats"]
    assert stats["requisites/failed/http_404"] == 1  # the wire outlet's missing touch icon
    assert stats["requisites/failed/redirect_loop"] == 1  # the Beacon's print stylesheet
    assert not [k for k in stats if k.startswith(("spider/failed/", "failures/"))
                and k.endswith("redirect_loop")]  # fmt: skip
    manifest = Manifest(demo_crawl.archive / "manifest.sqlite")
    try:
        listed = [r["url"] for r in manifest.query("SELECT url FROM failures")]
        stored = [r["url"] for r in manifest.query("SELECT url FROM articles")]
    finally:
        manifest.close()
    assert not [u for u in listed if MISSING_ICON in u or "/static/" in u or "/media/" in u]
    assert not [u for u in listed if u.endswith(LOOPING_CSS)]
    assert not [u for u in stored if u.startswith(demo_site.cdn) or "/static/" in u]
    totals = demo_crawl.summary["totals"]
    assert totals["articles"] == len({a.url for a in archivable(demo_site)})
    requested = sum(v for k, v in stats.items() if k.startswith("requisites/requested/"))
    fetched = sum(v for k, v in stats.items() if k.startswith("requisites/fetched/"))
    assert requested == fetched + 2  # all came but the missing icon and the looping stylesheet


def test_requisites_off_fetches_none(demo_crawl: Crawl, demo_site: DemoSite, tmp_path: Any) -> None:
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    demo_site.clear_requests()
    result = cli("crawl", "--config", str(config), "--archive", str(tmp_path / "archive"),
                 "-s", "ARCHIVE_REQUISITES=False", "-s", "DOWNLOAD_DELAY=0",
                 "-s", "AUTOTHROTTLE_ENABLED=False")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    paths = [r.path for r in demo_site.requests]
    assert not [p for p in paths if p.startswith(("/static/", "/media/", "/lib/"))]
    assert any(p.endswith("/") for p in paths)  # it did crawl
    # an outlet's figures are its pages', requisites fetched or not
    (summary,) = (tmp_path / "archive" / "runs").glob("*.json")
    without = json.loads(summary.read_text())
    for key in ("discovered", "fetched", "articles", "archived", "failed"):
        assert without["totals"][key] == demo_crawl.summary["totals"][key], key
