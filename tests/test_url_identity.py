"""URL identity (storage.url_identity): the fetch form and the canonical URL of a link, the
outlet's keep_params, and an archive of the schema before canonical URLs still answering
"archived already?" by them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crawler.outlets import parse_config
from storage.known_pages import KnownPages
from storage.manifest import Manifest
from storage.url_identity import canonical_url, keep_set, url_forms

STORY = "https://news.example/story/"


@pytest.mark.parametrize(
    "param",
    ["utm_source=rss", "utm_medium=feed", "UTM_Campaign=x", "utm_whatever=1", "fbclid=IwAR0",
     "gclid=Cj0", "dclid=1", "msclkid=abc", "mc_cid=1", "mc_eid=2", "yclid=3", "_ga=2.1.3",
     "igshid=xyz", "_gl=1*abc", "xtor=RSS-3208", "ns_mchannel=social", "mtm_campaign=x",
     "pk_kwd=y"],
)  # fmt: skip
def test_tracking_params_are_dropped(param: str) -> None:
    forms = url_forms(f"{STORY}?{param}")
    assert forms.fetch == forms.identity == STORY
    assert forms.tracking_removed and not forms.fragment_removed and not forms.params_kept


def test_other_params_are_kept_in_the_order_written_and_sorted_in_the_identity() -> None:
    url = "https://News.Example/s?page=2&utm_source=x&gallery=3&ref=home&id=9&source=a#top"
    forms = url_forms(url)
    assert forms.fetch == "https://News.Example/s?page=2&gallery=3&ref=home&id=9&source=a"
    assert forms.identity == "https://news.example/s?gallery=3&id=9&page=2&ref=home&source=a"
    assert forms.tracking_removed and forms.fragment_removed


def test_host_lower_cased_and_fragment_stripped_in_the_identity() -> None:
    forms = url_forms("HTTPS://NEWS.Example/Story/#comments")
    assert forms.fetch == "HTTPS://NEWS.Example/Story/"  # only the fragment goes from what is sent
    assert forms.identity == "https://news.example/Story/"  # the path keeps its case
    assert forms.fragment_removed and not forms.tracking_removed
    assert canonical_url("https://news.example/s?b=2&a=1") == "https://news.example/s?a=1&b=2"


def test_keep_params_keeps_a_tracking_param_in_both_forms() -> None:
    keep = keep_set(["ICID"])  # names compared without regard to case
    forms = url_forms("https://news.example/k?icid=7&utm_source=x", keep)
    assert forms.fetch == "https://news.example/k?icid=7"
    assert forms.identity == "https://news.example/k?icid=7"
    assert forms.params_kept and forms.tracking_removed
    assert url_forms("https://news.example/k?icid=7").fetch == "https://news.example/k"


@pytest.mark.parametrize(
    "url",
    ["https://News.example/a/../s?b=2&a=1&utm_source=x#f", "https://news.example",
     "https://news.example/caf\u00e9?q=a b&fbclid=1", "https://news.example/s?a=&a=1&&b",
     "https://news.example/s?utm_source=only", "https://news.example/s?x=%2f&_ga=1"],
)  # fmt: skip
def test_idempotent(url: str) -> None:
    keep = keep_set(["_ga"])
    forms = url_forms(url, keep)
    again = url_forms(forms.fetch, keep)
    assert again.fetch == forms.fetch and again.identity == forms.identity
    ident = url_forms(forms.identity, keep)
    assert ident.fetch == ident.identity == forms.identity
    assert not again.tracking_removed and not again.fragment_removed


def test_an_outlets_forms_follow_its_keep_params() -> None:
    config = parse_config({"outlets": [
        {"name": "a", "start_urls": ["https://a.example/"], "keep_params": ["icid", "icid"]},
        {"name": "b", "start_urls": ["https://b.example/"]},
    ]})  # fmt: skip
    a, b = config.outlets
    assert a.keep_params == ("icid",) and a.as_dict()["keep_params"] == ["icid"]
    assert a.url_forms("https://a.example/k?icid=1").fetch == "https://a.example/k?icid=1"
    assert b.url_forms("https://b.example/k?icid=1").fetch == "https://b.example/k"
    assert "keep_params" not in b.as_dict()


def old_manifest(path: Path, rows: list[tuple[str, str]]) -> None:
    """A manifest of schema version 2 (no articles.canonical_url), one article per (url,
    final_url) row, as a crawl before canonical URLs stored it: by the URL as fetched."""
    Manifest(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE articles DROP COLUMN canonical_url")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.execute("INSERT INTO texts (id, sha256, stem, state, created_at) VALUES"
               " (1, 'x', '000_x', 'stored', 'now')")  # fmt: skip
    for url, final in rows:
        db.execute("INSERT INTO articles (url, text_id, final_url, outlet, fetched_at)"
                   " VALUES (?, 1, ?, 'a', '2026-05-01T00:00:00Z')", (url, final))  # fmt: skip
    db.commit()
    db.close()


def test_an_archive_of_schema_2_is_migrated_and_finds_its_articles_by_identity(
    tmp_path: Path,
) -> None:
    path = tmp_path / "manifest.sqlite"
    tracked = f"{STORY}?utm_source=rss&utm_medium=feed"
    moved = "https://news.example/old?b=2&a=1"
    old_manifest(path, [(tracked, tracked), ("https://news.example/s/1", moved)])
    manifest = Manifest(path)  # migrated here
    version = manifest.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0]
    assert version == "4"  # the current schema
    rows = manifest.query("SELECT url, canonical_url FROM articles ORDER BY url")
    assert [tuple(r) for r in rows] == [
        ("https://news.example/s/1", "https://news.example/s/1"), (tracked, STORY),
    ]  # fmt: skip
    known = KnownPages.load(manifest)
    assert known.archived_at(STORY) == "2026-05-01T00:00:00Z"  # the link's identity finds it
    assert known.archived_at(tracked) is not None  # and the URL as stored, as before
    # a redirect's target, by its identity
    assert known.archived_at("https://news.example/old?a=1&b=2") is not None
    assert known.archived_at("https://news.example/other") is None
    manifest.close()
    Manifest(path).close()  # opened again: nothing left to migrate


def test_rows_stored_now_keep_the_canonical_url_the_crawl_gave(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "manifest.sqlite")
    manifest.reserve_text("y", lambda n: f"{n:03d}_y", "T", "now", "run-1")
    kept = "https://news.example/k?icid=1&utm_source=x"
    for url, canonical in ((kept, "https://news.example/k?icid=1"), (f"{STORY}#c", None)):
        manifest.add_article(
            {
                "url": url,
                "final_url": url,
                "text_id": 1,
                "canonical_url": canonical,
                "fetched_at": "2026-05-01T00:00:00Z",
            }
        )
    known = KnownPages.load(manifest)
    assert known.archived_at("https://news.example/k?icid=1") is not None  # as the crawl gave
    assert known.archived_at(STORY) is not None  # none given: by the default rules
    manifest.close()


@pytest.mark.parametrize(
    "url",
    ["https://x.example/news/2026/05/slug", "https://x.example/a/./b", "https://x.example/a/../b",
     "https://x.example/a/..", "https://x.example/./", "https://x.example/a/b.", "http://x.example:80/a",
     "https://x.example/a;p=1/b;q", "https://x.example/a%7eb", "https://x.example/a b",
     "https://X.example/a", "https://x.example", "https://x.example/a//b/~c:d@e"],
)  # fmt: skip
def test_the_shortcut_for_canonical_urls_gives_what_w3lib_gives(url: str) -> None:
    from w3lib.url import canonicalize_url

    assert url_forms(url).identity == canonicalize_url(url)
