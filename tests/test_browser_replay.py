"""Archived pages replayed in Chromium look as they did live: ReplayWeb.page (from a WACZ) and
pywb (from the WARC) show the article's text, apply its stylesheet and load its image, and
ReplayWeb.page lists the archive's pages and searches their text (testkit/chromium.py,
testkit/replaywebpage.py).

The archive is made here with warcio: an article whose CSS sets a colour and a size no browser
default has, a PNG written byte by byte, and a second article captured twice; `wacz create`
packs it with our pages.jsonl. A control archive holds the same pages without the CSS and the
image: there the same assertions must fail (browser defaults, no image), so they are not
satisfied by anything but the archived records. Likewise a WACZ whose pages.jsonl has no text
shows the search reads that text, and the same page served live gives the reference values.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from testkit.chromium import REPO, ArchivedPage, Chromium, PywbBrowser
from testkit.mockserver import MockServer
from testkit.replaywebpage import RWP_INTEGRITY, ReplayWebPage, ensure_replaywebpage, npm_integrity

if TYPE_CHECKING:
    from testkit.replay_tools import ReplayTools

SITE = "http://news.example.test"
ARTICLE = f"{SITE}/article"
SECOND = f"{SITE}/second"
CSS_URL = f"{SITE}/static/site.css"
PNG_URL = f"{SITE}/img/heron.png"
TITLE = "Heron returns to the estuary"
SECOND_TITLE = "Tide tables revised"
LEDE = "A grey heron was seen wading at dawn near the old lighthouse."
SECOND_TEXT = "The harbour office published new tide tables for the autumn."
# set only by the archived CSS: Chromium's defaults for an h1 are rgb(0, 0, 0) and 32px (2em)
CSS = b"h1 { color: rgb(1, 2, 3); font-size: 47px; }\n.lede { font-style: italic; }\n"
STYLED = {"color": "rgb(1, 2, 3)", "font-size": "47px"}
DEFAULT = {"color": "rgb(0, 0, 0)", "font-size": "32px"}
PNG_SIZE = (40, 30)
ARTICLE_HTML = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{TITLE}</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><h1>{TITLE}</h1>
<p class="lede">{LEDE}</p>
<img id="photo" src="/img/heron.png" alt="A heron">
<p><a href="/second">{SECOND_TITLE}</a></p>
</body></html>
""".encode()


def second_html(title: str) -> bytes:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{SECOND_TEXT}</p></body></html>
""".encode()


SECOND_HTML = second_html(SECOND_TITLE)
# the second article captured again two months on, its headline changed
LATER_TITLE = "Tide tables revised again"
LATER_HTML = second_html(LATER_TITLE)
CAPTURED = "2024-01-02T03:04:05Z"
CAPTURED_TS = "20240102030405"
SECOND_CAPTURED = "2024-01-02T03:04:07Z"
SECOND_TS = "20240102030407"
LATER = "2024-03-04T05:06:07Z"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain RGB PNG of one colour: signature, IHDR, one zlib IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PNG = png(*PNG_SIZE, (200, 30, 30))


def _response(writer: WARCWriter, url: str, body: bytes, content_type: str, date: str) -> None:
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        protocol="HTTP/1.1",
    )
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": date},
    )  # fmt: skip
    writer.write_record(record)


def write_warc(path: Path, requisites: bool) -> Path:
    """The two articles (the second captured twice); with `requisites`, the first one's CSS and
    image too."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        _response(writer, ARTICLE, ARTICLE_HTML, "text/html; charset=utf-8", CAPTURED)
        if requisites:
            _response(writer, CSS_URL, CSS, "text/css", "2024-01-02T03:04:06Z")
            _response(writer, PNG_URL, PNG, "image/png", "2024-01-02T03:04:06Z")
        _response(writer, SECOND, SECOND_HTML, "text/html; charset=utf-8", SECOND_CAPTURED)
        _response(writer, SECOND, LATER_HTML, "text/html; charset=utf-8", LATER)
    return path


def write_pages(path: Path, with_text: bool) -> Path:
    """pages.jsonl as the project's exporter writes it (storage/wacz.py): a header, then url,
    title, ts and the page's text, which ReplayWeb.page's search reads."""
    lines: list[dict[str, object]] = [
        {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": with_text}
    ]
    for n, (url, title, text, ts) in enumerate(
        [(ARTICLE, TITLE, LEDE, CAPTURED), (SECOND, SECOND_TITLE, SECOND_TEXT, SECOND_CAPTURED)]
    ):
        line: dict[str, object] = {"id": f"page-{n}", "url": url, "title": title, "ts": ts}
        if with_text:
            line["text"] = text
        lines.append(line)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Archive:
    warc: Path
    wacz: Path


@dataclass(frozen=True)
class Archives:
    full: Archive  # the articles, the CSS and the image; pages with text
    bare: Archive  # the articles only: the control
    untexted: Path  # the full WARC in a WACZ whose pages.jsonl has no text


def _wacz(tools: ReplayTools, warc: Path, pages: Path, out: Path) -> Path:
    # -p with -c: our pages.jsonl goes in as it is (without -c, `wacz create` rewrites it and
    # drops the header's hasText)
    made = tools.run("wacz", "create", "-o", str(out), "-p", str(pages), "-c", str(warc))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def archives(replay_tools: ReplayTools, tmp_path_factory: pytest.TempPathFactory) -> Archives:
    root = tmp_path_factory.mktemp("browser-archives")
    full_warc = write_warc(root / "full-00000.warc.gz", requisites=True)
    bare_warc = write_warc(root / "bare-00000.warc.gz", requisites=False)
    pages = write_pages(root / "pages.jsonl", with_text=True)
    untexted_pages = write_pages(root / "untexted-pages.jsonl", with_text=False)
    return Archives(
        full=Archive(full_warc, _wacz(replay_tools, full_warc, pages, root / "full.wacz")),
        bare=Archive(bare_warc, _wacz(replay_tools, bare_warc, pages, root / "bare.wacz")),
        untexted=_wacz(replay_tools, full_warc, untexted_pages, root / "untexted.wacz"),
    )


def assert_reader_view(shown: ArchivedPage) -> None:
    """What a reader of the article sees: the text, the archived stylesheet applied, the image."""
    expect(shown.frame.locator("h1")).to_have_text(TITLE)
    expect(shown.frame.locator("p.lede")).to_be_visible()
    assert LEDE in shown.text()
    for prop, value in STYLED.items():
        assert shown.style("h1", prop) == value, prop
    assert shown.style("p.lede", "font-style") == "italic"
    assert shown.image_size("img#photo") == PNG_SIZE
    assert shown.foreign_requests() == []


def assert_control_view(shown: ArchivedPage) -> None:
    """The same page without its CSS and image records: the text is there, the rest is not."""
    expect(shown.frame.locator("h1")).to_have_text(TITLE)
    assert LEDE in shown.text()
    for prop, value in DEFAULT.items():
        assert shown.style("h1", prop) == value, prop
        assert shown.style("h1", prop) != STYLED[prop], prop
    assert shown.style("p.lede", "font-style") == "normal"
    assert shown.image_size("img#photo") == (0, 0)
    assert shown.foreign_requests() == []


# ---------------------------------------------------------------------------------------------
# the archive and the browser


def test_the_archive_holds_what_the_tests_expect(
    archives: Archives, replay_tools: ReplayTools
) -> None:
    def responses(warc: Path) -> list[tuple[str, bytes]]:
        with warc.open("rb") as fh:
            return [
                (r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                for r in ArchiveIterator(fh)
                if r.rec_type == "response"
            ]

    articles = [(ARTICLE, ARTICLE_HTML), (SECOND, SECOND_HTML), (SECOND, LATER_HTML)]
    assert responses(archives.full.warc) == [
        articles[0], (CSS_URL, CSS), (PNG_URL, PNG), *articles[1:]
    ]  # fmt: skip
    assert responses(archives.bare.warc) == articles
    # a PNG a decoder takes: signature, then IHDR with the size
    assert PNG.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">4sII", PNG[12:24]) == (b"IHDR", *PNG_SIZE)
    # the control is a valid WACZ too (the untexted one differs from full.wacz only in its
    # pages.jsonl; a `wacz validate` costs seconds)
    for wacz in (archives.full.wacz, archives.bare.wacz):
        result = replay_tools.wacz_validate(wacz)
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_the_live_page_looks_as_the_replays_must(
    mockserver: MockServer, chromium: Chromium, tmp_path: Path
) -> None:
    # the reference: the same bytes served as a site on loopback, opened in the same Chromium,
    # give the values the replays are held to
    site = mockserver.files("live-article")
    site.add_bytes("/article", ARTICLE_HTML, "text/html; charset=utf-8")
    site.add_bytes("/static/site.css", CSS, "text/css")
    site.add_bytes("/img/heron.png", PNG, "image/png")
    with chromium.context("live article") as (page, log):
        page.goto(site.base + "/article", wait_until="load")
        assert_reader_view(ArchivedPage(page, page.main_frame, site.base, log))
    assert chromium.version.split(".")[0].isdigit()


def test_a_page_that_reaches_past_the_replay_is_caught(
    mockserver: MockServer, chromium: Chromium
) -> None:
    # the control for foreign_requests() == []: an image from another host is listed, and no
    # live site answers it (only loopback resolves in the harness's Chromium)
    elsewhere = "http://elsewhere.example.test/heron.png"
    html = f'<!doctype html><img id="photo" src="/img/heron.png"><img id="far" src="{elsewhere}">'
    site = mockserver.files("reaching-out")
    site.add_bytes("/page", html.encode(), "text/html; charset=utf-8")
    site.add_bytes("/img/heron.png", PNG, "image/png")
    with chromium.context("reaching out") as (page, log):
        page.goto(site.base + "/page", wait_until="load")
        shown = ArchivedPage(page, page.main_frame, site.base, log)
        assert shown.image_size("img#photo") == PNG_SIZE
        assert shown.image_size("img#far") == (0, 0)
        assert shown.foreign_requests() == [elsewhere]


# ---------------------------------------------------------------------------------------------
# ReplayWeb.page


def test_replaywebpage_is_the_pinned_npm_package(replaywebpage: ReplayWebPage) -> None:
    assert replaywebpage.package == REPO / ".replaywebpage" / "package"
    meta = json.loads((replaywebpage.package / "package.json").read_text(encoding="utf-8"))
    assert (meta["name"], meta["version"]) == ("replaywebpage", "2.5.3")
    (tarball,) = (REPO / ".replaywebpage" / "download").glob("*.tgz")
    assert npm_integrity(tarball) == RWP_INTEGRITY
    started = time.monotonic()
    assert ensure_replaywebpage(REPO) == replaywebpage.package  # reused: no npm this time
    assert time.monotonic() - started < 1


def test_replaywebpage_shows_the_article_as_archived(
    replaywebpage: ReplayWebPage, archives: Archives
) -> None:
    started = time.monotonic()
    with replaywebpage.replay(archives.full.wacz, ARTICLE) as shown:
        print(f"ReplayWeb.page showed the article after {time.monotonic() - started:.1f} s")
        assert f"{CAPTURED_TS}mp_/{ARTICLE}" in shown.frame.url
        assert shown.frame.url.startswith(replaywebpage.server.base + "/replay/w/")
        assert_reader_view(shown)
    # the WACZ was read in byte ranges (never whole), answered 206 by the harness's server
    hits = replaywebpage.server.hits_for(replaywebpage.source(archives.full.wacz))
    assert hits
    assert all(h.range is not None and h.status == 206 for h in hits), hits


def test_replaywebpage_without_the_css_and_image_shows_browser_defaults(
    replaywebpage: ReplayWebPage, archives: Archives
) -> None:
    with replaywebpage.replay(archives.bare.wacz, ARTICLE) as shown:
        assert_control_view(shown)


def test_replaywebpage_opens_a_capture_by_timestamp(
    replaywebpage: ReplayWebPage, archives: Archives
) -> None:
    with replaywebpage.replay(archives.full.wacz, SECOND, ts=SECOND_TS) as shown:
        expect(shown.frame.locator("h1")).to_have_text(SECOND_TITLE)
        assert f"/{SECOND_TS}mp_/{SECOND}" in shown.frame.url
    with replaywebpage.replay(archives.full.wacz, SECOND) as shown:
        expect(shown.frame.locator("h1")).to_have_text(LATER_TITLE)
        assert "/20240304050607mp_/" in shown.frame.url


def test_replaywebpage_lists_the_pages_and_searches_their_text(
    replaywebpage: ReplayWebPage, archives: Archives
) -> None:
    with replaywebpage.collection(archives.full.wacz) as coll:
        # newest first, as ReplayWeb.page sorts by date
        assert coll.titles() == [SECOND_TITLE, TITLE]
        expect(coll.entries).to_have_count(2)
        # "lighthouse" and "harbour" are in the pages' text only, not in a title or URL
        assert coll.search("lighthouse") == [TITLE]
        assert coll.snippets() == [LEDE]
        assert coll.search("harbour") == [SECOND_TITLE]
        assert coll.search("zebra") == []
        assert coll.search("") == [SECOND_TITLE, TITLE]
        # and a reader who clicks the hit gets the article, styled
        coll.search("lighthouse")
        assert_reader_view(coll.open(TITLE, ARTICLE))


def test_replaywebpage_searches_the_text_pages_jsonl_gives(
    replaywebpage: ReplayWebPage, archives: Archives
) -> None:
    # the control for the search above: the same WARC, pages without text; the words of the
    # articles are not found, their titles still are. So the search reads pages.jsonl's text
    # (what the exporter writes), not the archived HTML.
    with replaywebpage.collection(archives.untexted) as coll:
        assert coll.titles() == [SECOND_TITLE, TITLE]
        assert coll.search("lighthouse") == []
        assert coll.search("heron") == [TITLE]


# ---------------------------------------------------------------------------------------------
# pywb


@pytest.fixture(scope="module")
def pywb_full(replay_tools: ReplayTools, archives: Archives) -> Iterator[str]:
    with replay_tools.pywb([archives.full.warc]) as base:
        yield base


def test_pywb_shows_the_article_as_archived(pywb_browser: PywbBrowser, pywb_full: str) -> None:
    with pywb_browser.open(pywb_full, ARTICLE) as shown:
        # pywb's top frame (its banner) around the page, rewritten (mp_); no timestamp asked,
        # none in the URLs: the latest capture
        assert shown.page.url == f"{pywb_full}{ARTICLE}"
        assert shown.frame.url == f"{pywb_full}mp_/{ARTICLE}"
        assert_reader_view(shown)
        # the requisites came through pywb, rewritten: CSS as cs_, the image as im_
        assert f"{pywb_full}cs_/{CSS_URL}" in shown.log.requests
        assert f"{pywb_full}im_/{PNG_URL}" in shown.log.requests


def test_pywb_mp_at_the_top_turns_into_the_top_frame(chromium: Chromium, pywb_full: str) -> None:
    # why PywbBrowser.open() goes to the top frame: the mp_ page, opened as the window itself,
    # sends the window to the top frame (pywb's client side, wombat), which frames it again
    with chromium.context("pywb mp_ at the top") as (page, _):
        page.goto(f"{pywb_full}mp_/{ARTICLE}")
        page.wait_for_url(f"{pywb_full}{ARTICLE}")
        expect(page.frame_locator("iframe#replay_iframe").locator("h1")).to_have_text(TITLE)


def test_pywb_opens_a_capture_by_timestamp(pywb_browser: PywbBrowser, pywb_full: str) -> None:
    with pywb_browser.open(pywb_full, SECOND, ts=SECOND_TS) as shown:
        expect(shown.frame.locator("h1")).to_have_text(SECOND_TITLE)
        assert shown.frame.url == f"{pywb_full}{SECOND_TS}mp_/{SECOND}"
    with pywb_browser.open(pywb_full, SECOND) as shown:
        expect(shown.frame.locator("h1")).to_have_text(LATER_TITLE)


def test_pywb_without_the_css_and_image_shows_browser_defaults(
    pywb_browser: PywbBrowser, archives: Archives
) -> None:
    with pywb_browser.replay([archives.bare.warc], ARTICLE) as shown:
        assert_control_view(shown)
