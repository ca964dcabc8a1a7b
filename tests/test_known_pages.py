"""storage.known_pages: the archive's state in memory gives the answers the manifest's queries
gave, one link at a time, before."""

from __future__ import annotations

from pathlib import Path

from storage.known_pages import KnownPages
from storage.manifest import Manifest
from tests.conftest import Crawl


def test_the_same_answers_as_the_manifest_for_every_url(demo_crawl: Crawl) -> None:
    manifest = Manifest(demo_crawl.archive / "manifest.sqlite")
    try:
        known = KnownPages.load(manifest)
        urls = {r["url"] for r in manifest.query("SELECT url FROM captures")}
        urls |= {r["final_url"] for r in manifest.query("SELECT final_url FROM articles")}
        urls.add("http://127.0.0.1:9/never-seen")
        conditional = 0
        for url in urls:
            (row,) = manifest.query(  # the query the spider made per link before
                "SELECT MAX(fetched_at) AS at FROM articles WHERE url = ? OR final_url = ?",
                (url, url),
            )
            assert known.archived_at(url) == row["at"], url
            row = manifest.original_capture(url=url)
            got = known.validators(url)
            if row is None or not (row["etag"] or row["last_modified"]):
                assert got is None, url
                continue
            conditional += 1
            assert got is not None
            assert row["url"] == url  # the capture of that same URL: meta names it so
            assert (got.etag, got.last_modified, got.warc_file, got.warc_offset) == (
                row["etag"], row["last_modified"], row["warc_file"], row["warc_offset"],
            )  # fmt: skip
    finally:
        manifest.close()
    assert conditional > 20  # the demo pages carry ETags: most URLs would be asked conditionally
    assert sum(known.archived_at(u) is not None for u in urls) >= 17


def capture(manifest: Manifest, url: str, offset: int, etag: str | None) -> None:
    manifest.add_captures([{
        "run_id": "r", "url": url, "method": "GET", "status": 200,
        "fetched_at": "2026-03-01T00:00:00Z", "warc_file": "a.warc.gz", "warc_offset": offset,
        "warc_length": 10, "record_id": f"<urn:uuid:{offset}>", "record_type": "response",
        "warc_date": "2026-03-01T00:00:00Z", "payload_digest": f"sha1:{offset}",
        "content_type": "text/html", "etag": etag, "last_modified": None,
    }])  # fmt: skip


def test_the_latest_capture_decides_as_it_did(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "manifest.sqlite")
    try:
        capture(manifest, "https://a.example/", 0, '"v1"')
        capture(manifest, "https://a.example/", 100, None)  # the server dropped its ETag
        capture(manifest, "https://b.example/", 200, None)
        capture(manifest, "https://b.example/", 300, '"v2"')
        known = KnownPages.load(manifest)
    finally:
        manifest.close()
    assert known.validators("https://a.example/") is None
    b = known.validators("https://b.example/")
    assert b is not None and (b.etag, b.warc_offset) == ('"v2"', 300)
