"""The demo crawl replayed in a real browser, as a reader would open it: ReplayWeb.page from the
exported WACZ and pywb from the WARCs with the archive's index, in Debian's Chromium
(testkit/chromium.py). Each outlet's article shows its text, its own stylesheet's headline
colour, its photo, and the border the CDN's stylesheet (another host) gives the photo; nothing
is fetched from anywhere but the replay. ReplayWeb.page lists the archived articles and finds
them by a word of their text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.demo import DemoArticle, DemoSite
from crawler.demo.assets import LOOPING_CSS, MISSING_ICON, PHOTO_BORDER_RGB, headline_rgb
from testkit.chromium import ArchivedPage, PywbBrowser
from testkit.replaywebpage import ReplayWebPage
from tests.conftest import Crawl, exported
from tests.helpers import normalised


def rgb(value: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*value)


@pytest.fixture(scope="module")
def demo_wacz(demo_crawl: Crawl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(demo_crawl.archive, tmp_path_factory.mktemp("demo-wacz") / "demo.wacz")


def one_per_outlet(site: DemoSite) -> list[DemoArticle]:
    """An article of each outlet that the crawl stored under its own URL (not a redirect)."""
    picked: dict[str, DemoArticle] = {}
    for article in site.articles:
        if article.archivable and not article.old_url and not article.syndicated_group:
            picked.setdefault(article.outlet, article)
    return list(picked.values())


def assert_as_published(shown: ArchivedPage, article: DemoArticle) -> None:
    text = normalised(shown.text())
    assert normalised(article.title) in text
    for paragraph in article.paragraphs:
        assert normalised(paragraph) in text
    # the outlet's own stylesheet: set nowhere else, the browser's default h1 is rgb(0, 0, 0)
    assert shown.style("h1", "color") == rgb(headline_rgb(article.outlet))
    assert shown.style("h1", "font-size") == "34px"
    assert shown.image_size("img.lead-photo")[0] in (120, 240)  # the 1x or the 2x photo
    # the CDN's stylesheet, fetched from another host than the outlet's
    assert shown.style("img.lead-photo", "border-top-color") == rgb(PHOTO_BORDER_RGB)
    assert shown.foreign_requests() == []  # all of it from the archive, not the live site
    # every requisite replayed: the only ones missing are those the live site never served (a
    # 404 icon, a stylesheet redirecting to itself); other answers >= 400 are the replay tools'
    missing = [url for _, url in shown.log.failed if "_/http" in url]
    assert all(url.endswith((MISSING_ICON, LOOPING_CSS)) for url in missing), missing


def test_replaywebpage_shows_each_outlets_article_as_published(
    demo_wacz: Path, demo_site: DemoSite, replaywebpage: ReplayWebPage
) -> None:
    for article in one_per_outlet(demo_site):
        with replaywebpage.replay(demo_wacz, article.url) as shown:
            assert_as_published(shown, article)


def test_pywb_shows_each_outlets_article_as_published(
    demo_crawl: Crawl, demo_site: DemoSite, pywb_browser: PywbBrowser, replay_tools: Any
) -> None:
    archive = demo_crawl.archive
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    with replay_tools.pywb(warcs, index=archive / "indexes" / "index.cdxj") as base:
        for article in one_per_outlet(demo_site):
            with pywb_browser.open(base, article.url) as shown:
                assert_as_published(shown, article)


def test_replaywebpage_lists_and_searches_the_archived_articles(
    demo_wacz: Path, demo_site: DemoSite, replaywebpage: ReplayWebPage
) -> None:
    articles = one_per_outlet(demo_site)
    with replaywebpage.collection(demo_wacz) as coll:
        titles = {normalised(t) for t in coll.titles()}
        assert {normalised(a.title) for a in articles} <= titles
        # a word of one article's body, in no other article's title or text
        target = articles[0]
        others = " ".join(f"{a.title} {a.text}" for a in demo_site.articles if a.url != target.url)
        word = next(w for w in target.text.split() if len(w) > 6 and w.isalpha()
                    and w.lower() not in others.lower())  # fmt: skip
        hits = [normalised(t) for t in coll.search(word)]
        assert hits == [normalised(target.title)]
        shown = coll.open(target.title, target.url)
        assert normalised(target.paragraphs[0]) in normalised(shown.text())
