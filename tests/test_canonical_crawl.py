"""URL identity in a real crawl: a small site on loopback whose feed and pages link the same
articles with and without tracking parameters (and fragments, and their query in another
order). Each article is downloaded once, at the URL without trackers; the WARC keeps that URL,
the manifest and the sidecar the canonical one; the next run finds them archived, and so does a
run on an archive whose manifest predates canonical URLs. The outlet's ``keep_params`` keeps a
parameter its pages need."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from testkit.mockserver import MockServer, Page, PageSite
from testkit.redis_server import RedisServer
from tests.conftest import FAST, cli

WORDS = [
    "harbour", "ferry", "council", "storm", "bridge", "market", "school", "river", "budget",
    "train", "station", "mayor", "festival", "library", "hospital", "weather",
]  # fmt: skip


def article(title: str, seed: int) -> bytes:
    words = [WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(120)]
    paragraphs = "".join(f"<p>{' '.join(words[i : i + 30])}.</p>" for i in range(0, 120, 30))
    return (f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article></body></html>").encode()  # fmt: skip


def hub(*links: str) -> bytes:
    items = "".join(f"<li><a href='{link}'>{link}</a></li>" for link in links)
    return f"<html><body><h1>News</h1><ul>{items}</ul></body></html>".encode()


def pages(b: str) -> dict[str, Page]:
    """The site's pages for its base URL `b`, by path as asked (query string included)."""
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>N</title>"
            f"<item><title>S</title><link>{b}/story/?utm_source=rss&amp;utm_medium=feed</link>"
            "</item></channel></rss>").encode()  # fmt: skip
    home = hub("/story/", "/section/", "/q?b=2&a=1", "/kept?icid=7")
    section = hub("/story/?utm_campaign=x#comments", "/q?a=1&b=2&utm_source=z&fbclid=1",
                  "/kept?utm_medium=m&icid=7")  # fmt: skip
    return {
        "/": Page("text/html", home),
        "/section/": Page("text/html", section),
        "/feed.xml": Page("application/rss+xml", feed),
        "/story/": Page("text/html", article("Ferry story", 1)),
        "/q?b=2&a=1": Page("text/html", article("Query story", 2)),
        "/q?a=1&b=2": Page("text/html", article("Query story", 2)),
        # answers only with the parameter the outlet keeps
        "/kept?icid=7": Page("text/html", article("Kept story", 3)),
    }


@pytest.fixture(scope="module")
def site(mockserver: MockServer) -> PageSite:
    return mockserver.pages("canonical", pages)


def config(site: PageSite, path: Path) -> Path:
    path.write_text(
        f"outlets:\n  - name: tracked\n    start_urls: ['{site.base}/']\n"
        f"    feeds: ['{site.base}/feed.xml']\n    allow: ['/story/', '/q\\\\?', '/kept']\n"
        "    keep_params: [icid]\n",
        encoding="utf-8",
    )
    return path


def crawl(
    site: PageSite, archive: Path, conf: Path, *extra: str
) -> tuple[dict[str, Any], list[str]]:
    site.requests.clear()
    result = cli("crawl", "--config", str(conf), "--archive", str(archive), *FAST, *extra)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    newest = max((archive / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    stats: dict[str, Any] = json.loads(newest.read_text(encoding="utf-8"))["stats"]
    return stats, list(site.requests)


def articles(archive: Path) -> dict[str, tuple[str, str]]:
    """canonical_url -> (url, final_url) of the manifest's articles."""
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        rows = db.execute("SELECT canonical_url, url, final_url FROM articles").fetchall()
    finally:
        db.close()
    return {row[0]: (row[1], row[2]) for row in rows}


@dataclass
class First:
    archive: Path
    conf: Path
    stats: dict[str, Any]
    served: list[str]


@pytest.fixture(scope="module")
def first(site: PageSite, tmp_path_factory: pytest.TempPathFactory) -> First:
    root = tmp_path_factory.mktemp("canonical")
    conf = config(site, root / "outlets.yaml")
    archive = root / "archive"
    return First(archive, conf, *crawl(site, archive, conf))


def test_each_article_is_downloaded_once_without_its_tracking_params(first: First) -> None:
    served = first.served
    assert served.count("/story/") == 1, served
    assert len([p for p in served if p.startswith("/q?")]) == 1, served  # either query order
    assert served.count("/kept?icid=7") == 1, served  # keep_params: the parameter stays
    assert not [p for p in served if "utm_" in p or "fbclid" in p], served
    stats = first.stats
    assert stats["spider/links/tracking_removed"] >= 4  # the feed's, the section page's 3
    assert stats["spider/links/fragment_removed"] >= 1
    assert stats["spider/links/params_kept"] >= 2
    assert stats["spider/pages/article"] == 3 and stats["text/written"] == 3


def test_the_warc_has_the_url_as_fetched_the_manifest_and_sidecar_the_canonical(
    first: First, site: PageSite
) -> None:
    targets = []
    for path in (first.archive / "warc").glob("*.warc.gz"):
        with path.open("rb") as fh:
            targets += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                        if r.rec_type == "response"]  # fmt: skip
    b = site.base
    assert targets.count(f"{b}/story/") == 1
    (query,) = [t for t in targets if t.startswith(f"{b}/q?")]
    assert query in (f"{b}/q?b=2&a=1", f"{b}/q?a=1&b=2")  # as linked, less its trackers
    stored = articles(first.archive)
    assert set(stored) == {f"{b}/story/", f"{b}/q?a=1&b=2", f"{b}/kept?icid=7"}
    assert stored[f"{b}/q?a=1&b=2"][0] == query  # url: as fetched; canonical_url: sorted
    sidecars = [json.loads(p.read_text(encoding="utf-8"))
                for p in (first.archive / "text").glob("*.json")]  # fmt: skip
    by_canonical = {s["canonical_url"]: s for s in sidecars}
    assert set(by_canonical) == set(stored)
    assert by_canonical[f"{b}/q?a=1&b=2"]["url"] == query
    copy = by_canonical[f"{b}/q?a=1&b=2"]["outlets"]["tracked"][0]
    assert copy["canonical_url"] == f"{b}/q?a=1&b=2" and copy["url"] == query


def test_the_next_run_finds_them_archived_by_identity(first: First, site: PageSite) -> None:
    stats, served = crawl(site, first.archive, first.conf)
    assert not [p for p in served if p.startswith(("/story/", "/q?", "/kept"))], served
    # the feed's tracked link and the home page's three, by their identity
    assert stats["spider/skipped/archived"] >= 4
    assert stats.get("text/written", 0) == 0


def test_an_archive_stored_by_tracked_urls_before_canonical_urls_still_finds_them(
    first: First, site: PageSite, tmp_path: Path
) -> None:
    """An archive of schema version 2, whose article rows have the URLs a crawl fetched then,
    trackers and all: its manifest is migrated when the crawl opens it, and the links of the
    same articles are found archived."""
    archive = tmp_path / "archive"
    shutil.copytree(first.archive, archive, ignore=shutil.ignore_patterns("*.lock"))
    b = site.base
    tracked = {f"{b}/story/": f"{b}/story/?utm_source=rss&utm_medium=feed",
               f"{b}/q?a=1&b=2": f"{b}/q?utm_source=z&b=2&a=1",
               f"{b}/kept?icid=7": f"{b}/kept?icid=7&utm_medium=m"}  # fmt: skip
    db = sqlite3.connect(archive / "manifest.sqlite")
    for canonical, url in tracked.items():
        db.execute("UPDATE articles SET url = ?, final_url = ? WHERE canonical_url = ?",
                   (url, url, canonical))  # fmt: skip
    db.execute("ALTER TABLE articles DROP COLUMN canonical_url")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    stats, served = crawl(site, archive, first.conf)
    assert not [p for p in served if p.startswith(("/story/", "/q?", "/kept"))], served
    assert stats.get("text/written", 0) == 0
    # filled by the default rules (the manifest does not know keep_params; the crawl asks by
    # the outlet's rules too)
    assert set(articles(archive)) == {f"{b}/story/", f"{b}/q?a=1&b=2", f"{b}/kept"}


def test_a_distributed_crawl_knows_each_url_by_the_same_identity(
    first: First, site: PageSite, tmp_path: Path, redis_server: RedisServer
) -> None:
    """Requests go through the shared queue, which is not trusted to say what a URL is: the
    worker that reads one makes its identity again. The home page links the query story with
    its query unsorted; its article is known by the sorted form, as on one machine, and the
    next run skips it."""
    archive = tmp_path / "archive"
    cluster = ("--redis", redis_server.url, "--cluster", f"canon{os.getpid()}")
    stats, served = crawl(site, archive, first.conf, *cluster)
    assert len([p for p in served if p.startswith("/q?")]) == 1, served
    assert set(articles(archive)) == set(articles(first.archive))
    assert stats.get("cluster/stripped/meta/other", 0) == 0  # nothing legit dropped on the way
    again, served = crawl(site, archive, first.conf, *cluster)
    assert not [p for p in served if p.startswith(("/story/", "/q?", "/kept"))], served
    assert again.get("text/written", 0) == 0
