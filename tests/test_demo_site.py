"""Tests of the bundled demo site itself, over plain urllib (no Scrapy involved)."""

from __future__ import annotations

import gzip
import html
import re
import time
import urllib.error
import urllib.request
import urllib.robotparser
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from crawler.demo import DemoArticle, DemoSite
from crawler.demo.content import OUTLETS

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # let the 301 surface as an HTTPError we can inspect


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """(status, response headers, raw body bytes as sent on the wire)."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def visible(markup: str) -> str:
    return " ".join(html.unescape(markup).split())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def links(base: str, markup: str) -> set[str]:
    parser = _Links()
    parser.feed(markup)
    return {urljoin(base, h).split("#")[0] for h in parser.hrefs}


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as demo:
        yield demo


def page_text(article: DemoArticle) -> str:
    status, headers, body = fetch(article.url, {"Accept-Encoding": "gzip"})
    assert status == 200, article.url
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    charset = "cp1251" if "windows-1251" in article.features else "utf-8"
    return body.decode(charset)


def crawl_html(site: DemoSite, outlet: str) -> tuple[set[str], dict[str, str]]:
    """Every URL an <a href> points to, following same-outlet HTML pages (robots ignored)."""
    base = site.outlets[outlet]
    seen: set[str] = set()
    pages: dict[str, str] = {}
    todo = [base + "/"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        status, headers, body = fetch(url, {"Accept-Encoding": "gzip"})
        if status != 200 or not headers["Content-Type"].startswith("text/html"):
            continue
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        markup = body.decode("cp1251" if "charset=" not in headers["Content-Type"] else "utf-8")
        pages[url] = markup
        todo += [u for u in links(url, markup) if u.startswith(base) and u not in seen]
    linked = set().union(*(links(u, m) for u, m in pages.items()))
    return linked, pages


def sitemap_urls(site: DemoSite, outlet: str) -> set[str]:
    base = site.outlets[outlet]
    _, _, index = fetch(base + "/sitemap_index.xml")
    urls: set[str] = set()
    for loc in ET.fromstring(index).iter(f"{SM}loc"):
        _, _, body = fetch(loc.text or "")
        if (loc.text or "").endswith(".gz"):
            body = gzip.decompress(body)
        urls |= {u.text or "" for u in ET.fromstring(body).iter(f"{SM}loc")}
    return urls


def feed_urls(site: DemoSite, outlet: str) -> set[str]:
    base = site.outlets[outlet]
    status, _, body = fetch(base + "/rss.xml")
    if status == 200:
        return {e.text or "" for e in ET.fromstring(body).iter("link")} - {base + "/"}
    _, _, body = fetch(base + "/atom.xml")
    return {e.get("href", "") for e in ET.fromstring(body).iter(f"{ATOM}link")} - {
        base + "/",
        base + "/atom.xml",
    }


# --------------------------------------------------------------------------- shape and content
def test_outlets_have_own_ports_and_templates(site: DemoSite) -> None:
    assert len(site.outlets) >= 4
    assert all(re.fullmatch(r"[a-z0-9_-]+", name) for name in site.outlets)
    ports = {urlsplit(url).port for url in site.outlets.values()}
    assert len(ports) == len(site.outlets)
    assert len({o.template for o in OUTLETS}) == len(OUTLETS)


def test_articles_follow_the_content_rules(site: DemoSite) -> None:
    arts = site.articles
    assert 15 <= len(arts) <= 20
    for outlet in site.outlets:
        mine = [a for a in arts if a.outlet == outlet]
        assert 3 <= len(mine) <= 5
        assert any("sitemap_only" in a.features for a in mine), outlet
        assert any("feed_only" in a.features for a in mine), outlet
    for a in arts:
        assert 4 <= len(a.paragraphs) <= 8, a.url
        for p in a.paragraphs:
            assert 30 <= len(p.split()) <= 90, (a.url, p)
            assert p == " ".join(p.split())
        assert a.archivable == ("robots_disallowed" not in a.features)
    every = {f for a in arts for f in a.features}
    assert every == {
        "gzip",
        "windows-1251",
        "redirect",
        "robots_disallowed",
        "sitemap_only",
        "feed_only",
    }
    assert any(not a.text.isascii() for a in arts if "windows-1251" not in a.features)


def test_syndicated_groups_are_identical_on_two_outlets(site: DemoSite) -> None:
    groups: dict[str, list[DemoArticle]] = {}
    for a in site.articles:
        if a.syndicated_group:
            groups.setdefault(a.syndicated_group, []).append(a)
    assert groups
    for members in groups.values():
        assert len({a.outlet for a in members}) >= 2
        assert len({a.url for a in members}) == len(members)
        assert len({(a.title, a.paragraphs) for a in members}) == 1


def test_boilerplate_is_on_the_pages_but_never_in_the_expected_text(site: DemoSite) -> None:
    pages = visible(" ".join(page_text(a) for a in site.articles))
    for snippet in site.boilerplate:
        assert snippet in pages, snippet
        for a in site.articles:
            assert snippet not in a.title and snippet not in a.text, (snippet, a.url)


def test_every_article_page_carries_its_text_and_metadata(site: DemoSite) -> None:
    allow = {o.name: [re.compile(p) for p in o.allow] for o in OUTLETS}
    for a in site.articles:
        markup = page_text(a)
        text = visible(markup)
        for p in a.paragraphs:
            assert p in text, (a.url, p)
        assert f'<link rel="canonical" href="{a.url}">' in markup
        assert visible(f'<meta property="og:title" content="{html.escape(a.title)}">') in text
        assert "<title>" in markup and a.title in text
        assert a.author in text and a.published in markup
        signals = 'content="article"' in markup or '"@type": "NewsArticle"' in markup
        assert signals, a.url
        if allow[a.outlet]:
            assert any(p.search(a.url) for p in allow[a.outlet])


def test_hub_pages_carry_no_article_signals(site: DemoSite) -> None:
    allow = {o.name: [re.compile(p) for p in o.allow] for o in OUTLETS}
    article_urls = {a.url for a in site.articles}
    for outlet in site.outlets:
        _, pages = crawl_html(site, outlet)
        hubs = {u: m for u, m in pages.items() if u not in article_urls}
        assert len(hubs) >= 2, outlet  # home and at least one section page
        for url, markup in hubs.items():
            assert 'content="article"' not in markup and "NewsArticle" not in markup, url
            assert not any(p.search(url) for p in allow[outlet]), url


# --------------------------------------------------------------------------- discovery
def test_home_robots_sitemaps_and_feeds_parse(site: DemoSite) -> None:
    for outlet, base in site.outlets.items():
        status, headers, body = fetch(base + "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert 'property="og:type" content="website"' in body.decode()

        status, headers, body = fetch(base + "/robots.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert body.decode().startswith("# robots.txt")

        status, _, index = fetch(base + "/sitemap_index.xml")
        locs = [e.text or "" for e in ET.fromstring(index).iter(f"{SM}loc")]
        assert status == 200 and any(u.endswith(".xml.gz") for u in locs), outlet
        assert any(u.endswith(".xml") for u in locs), outlet
        for loc in locs:
            status, headers, body = fetch(loc, {"Accept-Encoding": "gzip"})
            assert status == 200
            if loc.endswith(".gz"):
                assert headers["Content-Type"] in ("application/gzip", "application/x-gzip")
                assert "Content-Encoding" not in headers and body[:2] == b"\x1f\x8b"
                root = ET.fromstring(gzip.decompress(body))
                assert list(root.iter(f"{NEWS}news")), "the gzipped sitemap is a news sitemap"
            else:
                root = ET.fromstring(body)
            assert root.tag == f"{SM}urlset" and list(root.iter(f"{SM}loc"))

        feed_urls_ = feed_urls(site, outlet)
        assert feed_urls_, outlet
    _, _, rss = fetch(site.outlets["iconnews"] + "/rss.xml")
    assert ET.fromstring(rss).attrib["version"] == "2.0"
    _, headers, atom = fetch(site.outlets["wirehub"] + "/atom.xml")
    assert headers["Content-Type"].startswith("application/atom+xml")
    assert ET.fromstring(atom).tag == f"{ATOM}feed"


def test_each_discovery_path_is_needed(site: DemoSite) -> None:
    for outlet in site.outlets:
        linked, _ = crawl_html(site, outlet)
        in_sitemap, in_feed = sitemap_urls(site, outlet), feed_urls(site, outlet)
        for a in (a for a in site.articles if a.outlet == outlet):
            if "sitemap_only" in a.features:
                assert a.url in in_sitemap and a.url not in in_feed | linked, a.url
            elif "feed_only" in a.features:
                assert a.url in in_feed and a.url not in in_sitemap | linked, a.url
            elif "redirect" in a.features:
                assert a.old_url in linked
                assert a.url not in linked | in_sitemap | in_feed, "only the 301 leads there"
            elif "robots_disallowed" in a.features:
                assert a.url in linked and a.url not in in_sitemap | in_feed
            else:
                assert a.url in linked & in_sitemap & in_feed, a.url


def test_robots_disallows_a_page_the_home_page_links_to(site: DemoSite) -> None:
    drafts = [a for a in site.articles if not a.archivable]
    assert len(drafts) == 1
    draft = drafts[0]
    base = site.outlets[draft.outlet]
    _, _, home = fetch(base + "/")
    assert draft.url in links(base + "/", home.decode())
    robots = urllib.robotparser.RobotFileParser(base + "/robots.txt")
    robots.read()
    assert not robots.can_fetch("newsarchiver-demo/0.1", draft.url)
    for a in site.articles:
        if a.archivable and a.outlet == draft.outlet:
            assert robots.can_fetch("newsarchiver-demo/0.1", a.url)
    assert fetch(draft.url)[0] == 200  # the server itself does not enforce robots.txt


# --------------------------------------------------------------------------- special pages
def test_gzip_page_is_compressed_on_the_wire(site: DemoSite) -> None:
    (article,) = [a for a in site.articles if "gzip" in a.features]
    status, headers, raw = fetch(article.url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert raw[:2] == b"\x1f\x8b" and int(headers["Content-Length"]) == len(raw)
    text = visible(gzip.decompress(raw).decode("utf-8"))
    assert text.startswith("<!DOCTYPE html>")
    assert all(p in text for p in article.paragraphs)
    for refused in ({}, {"Accept-Encoding": "gzip;q=0, identity"}):
        status, headers, raw = fetch(article.url, refused)
        assert "Content-Encoding" not in headers and raw.startswith(b"<!DOCTYPE html>")


def test_windows_1251_page_declares_its_charset_only_in_meta(site: DemoSite) -> None:
    (article,) = [a for a in site.articles if "windows-1251" in a.features]
    status, headers, raw = fetch(article.url)
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    markup = raw.decode("cp1251")
    assert '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">' in markup
    assert "charset=utf-8" not in markup.lower()
    assert all(p in visible(markup) for p in article.paragraphs)
    assert re.search("[\u0400-\u04ff]", article.text)  # Cyrillic


def test_redirect_answers_301_to_the_current_url(site: DemoSite) -> None:
    (article,) = [a for a in site.articles if "redirect" in a.features]
    assert article.old_url and article.old_url != article.url
    status, headers, _ = fetch(article.old_url)
    assert status == 301 and headers["Location"] == article.url
    assert fetch(article.url)[0] == 200


def test_unknown_path_is_a_real_404(site: DemoSite) -> None:
    for base in site.outlets.values():
        status, headers, body = fetch(base + "/no/such/page.html")
        assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert int(headers["Content-Length"]) == len(body) and b"Page not found" in body


def test_headers_etag_and_head(site: DemoSite) -> None:
    article = next(a for a in site.articles if not a.features)
    status, headers, body = fetch(article.url)
    assert int(headers["Content-Length"]) == len(body)
    assert headers["ETag"] and headers["Last-Modified"].endswith("GMT")
    assert fetch(article.url, {"If-None-Match": headers["ETag"]})[0] == 304
    status, head_headers, head_body = fetch(article.url, method="HEAD")
    assert status == 200 and head_body == b"" and head_headers["Content-Length"] == str(len(body))


# --------------------------------------------------------------------------- API
def test_requests_are_logged(site: DemoSite) -> None:
    base = site.outlets["nordpress"]
    fetch(base + "/?probe=log-test", {"User-Agent": "probe/1.0"})
    fetch(base + "/missing-probe")
    log = [r for r in site.requests if "probe" in r.path]
    assert [(r.outlet, r.method, r.path, r.status) for r in log] == [
        ("nordpress", "GET", "/?probe=log-test", 200),
        ("nordpress", "GET", "/missing-probe", 404),
    ]
    assert log[0].headers["User-Agent"] == "probe/1.0"


def test_delay_is_honoured() -> None:
    with DemoSite(delay=0.3) as slow:
        url = slow.outlets["wirehub"] + "/robots.txt"
        started = time.monotonic()
        assert fetch(url)[0] == 200
        elapsed = time.monotonic() - started
    assert elapsed >= 0.3


def test_config_yaml_matches_the_running_site(site: DemoSite, tmp_path: Path) -> None:
    data = yaml.safe_load(site.config_yaml(user_agent="ua-test/1"))
    assert set(data) == {"user_agent", "outlets"} and data["user_agent"] == "ua-test/1"
    assert [o["name"] for o in data["outlets"]] == list(site.outlets)
    allowed_keys = {"name", "start_urls", "sitemaps", "feeds", "allow", "deny", "depth"}
    for entry in data["outlets"]:
        assert set(entry) <= allowed_keys
        base = site.outlets[entry["name"]]
        assert entry["start_urls"] == [base + "/"]
        for url in entry["sitemaps"] + entry["feeds"]:
            assert fetch(url)[0] == 200
    users = [o for o in data["outlets"] if o.get("allow")]
    assert users and users[0]["allow"] == [r"/story/\d+-"]
    path = site.write_config(tmp_path / "outlets.yaml")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["outlets"] == data["outlets"]
