"""Text files: NNN_HASH names that verify, identical text stored once, atomic and recoverable.

The text store (storage.texts.TextStore) is driven directly, in the test's thread; the crawl
tests cover the item pipeline over it (pipelines.store_text) on the reactor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipelines.article import ArticleText
from pipelines.items import ArticleItem
from storage.layout import text_stem
from storage.manifest import Manifest
from storage.warc import WarcRef
from tests.helpers import store, text_store

ARTICLE = ArticleText(
    title="Ferry service resumes after the storm",
    paragraphs=(
        "The harbour ferry ran again on Monday morning after three days tied up at the quay.",
        "Passengers queued from six o'clock, the operator said.",
    ),
    author="A. Writer",
    published="2026-03-02T08:00:00+00:00",
    language="en",
)
OTHER = ArticleText(title="Library opens late", paragraphs=("The library stays open until ten.",))


def item(url: str, article: ArticleText | None = ARTICLE, outlet: str = "harbour") -> ArticleItem:
    return ArticleItem(
        url=url, final_url=url, outlet=outlet, http_status=200, body=b"<html>",
        content_type="text/html", fetched_at="2026-03-02T09:00:00Z", article=article,
    )  # fmt: skip


REF = WarcRef("x-20260302090000-00000-h.warc.gz", 1234, 900, "<urn:uuid:1>", "sha1:AAAA")


def test_text_file_is_named_by_its_sha256_with_a_complete_sidecar(tmp_path: Path) -> None:
    p = text_store(tmp_path)
    outcome = store(p, item("https://harbour.example/news/1"), REF)
    p.close()
    (txt,) = (tmp_path / "text").glob("*.txt")
    data = txt.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert outcome == ("written", _stem(0, ARTICLE), digest)
    assert txt.name == f"000_{digest[:16]}.txt"
    assert data.decode("utf-8") == (
        "Ferry service resumes after the storm\n\n"
        "The harbour ferry ran again on Monday morning after three days tied up at the quay.\n\n"
        "Passengers queued from six o'clock, the operator said.\n"
    )
    sidecar = json.loads(txt.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar == {
        "text_file": txt.name, "url": "https://harbour.example/news/1",
        "final_url": "https://harbour.example/news/1",
        "canonical_url": "https://harbour.example/news/1", "outlet": "harbour",
        "title": ARTICLE.title, "author": "A. Writer", "published": "2026-03-02T08:00:00+00:00",
        "language": "en", "fetched_at": "2026-03-02T09:00:00Z", "sha256": digest,
        "warc_file": REF.warc_file, "warc_record_offset": 1234, "warc_record_id": "<urn:uuid:1>",
        "http_status": 200, "other_urls": [],
        "outlets": {"harbour": [{
            "url": "https://harbour.example/news/1", "final_url": "https://harbour.example/news/1",
            "canonical_url": "https://harbour.example/news/1",
            "fetched_at": "2026-03-02T09:00:00Z", "published": "2026-03-02T08:00:00+00:00",
            "author": "A. Writer", "http_status": 200, "warc_file": REF.warc_file,
            "warc_record_offset": 1234, "warc_record_id": "<urn:uuid:1>",
        }]},
    }  # fmt: skip
    assert list((tmp_path / "tmp").iterdir()) == []


def test_identical_text_is_stored_once_with_every_url_recorded(tmp_path: Path) -> None:
    p = text_store(tmp_path)
    store(p, item("https://harbour.example/news/1"), REF)
    assert store(p, item("https://wire.example/s/9", outlet="wire"), REF)[0] == "duplicate"
    assert store(p, item("https://wire.example/s/9", outlet="wire"), REF)[0] == "duplicate"
    assert store(p, item("https://harbour.example/news/2", OTHER), REF)[:2] == (
        "written", _stem(1, OTHER),
    )  # fmt: skip
    p.close()
    assert sorted(f.name for f in (tmp_path / "text").iterdir()) == sorted(
        [f"{_stem(0, ARTICLE)}.txt", f"{_stem(0, ARTICLE)}.json",
         f"{_stem(1, OTHER)}.txt", f"{_stem(1, OTHER)}.json"]
    )  # fmt: skip
    sidecar = json.loads((tmp_path / "text" / f"{_stem(0, ARTICLE)}.json").read_text())
    assert sidecar["url"] == "https://harbour.example/news/1"
    assert sidecar["other_urls"] == ["https://wire.example/s/9"]
    rows = Manifest(tmp_path / "manifest.sqlite").query(
        "SELECT a.url, a.outlet FROM articles a JOIN texts t ON t.id = a.text_id"
        " WHERE t.stem = ? ORDER BY a.url", (_stem(0, ARTICLE),)
    )  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("https://harbour.example/news/1", "harbour"), ("https://wire.example/s/9", "wire"),
    ]  # fmt: skip


def test_unfinished_text_of_a_killed_crawl_is_dropped_and_its_number_not_reused(
    tmp_path: Path,
) -> None:
    p = text_store(tmp_path)
    store(p, item("https://harbour.example/news/1"), REF)
    # a crawl killed between reserving number 001 and renaming its text into place
    sha = hashlib.sha256(OTHER.render().encode()).hexdigest()
    row = p.manifest.reserve_text(sha, lambda s: text_stem(s, sha), OTHER.title, "t", "run")
    (tmp_path / "text" / f"{row.stem}.json").write_text("{}")
    (tmp_path / "tmp" / f".{row.stem}.txt.abc.tmp").write_text("half a te")
    p.close()

    p = text_store(tmp_path)  # the next crawl
    assert not (tmp_path / "text" / f"{row.stem}.json").exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert p.count.get("text/recovered") == 1
    assert store(p, item("https://harbour.example/news/2", OTHER), REF)[:2] == (
        "written", _stem(2, OTHER),
    )  # fmt: skip
    p.close()
    names = sorted(f.name for f in (tmp_path / "text").glob("*.txt"))
    assert names == [f"{_stem(0, ARTICLE)}.txt", f"{_stem(2, OTHER)}.txt"]


def _stem(seq: int, article: ArticleText) -> str:
    return text_stem(seq, hashlib.sha256(article.render().encode()).hexdigest())


def test_many_components_opening_a_new_manifest_at_once_all_succeed(tmp_path: Path) -> None:
    """A crawl's components open the manifest from several threads as it starts; on a new
    file the switch to WAL must not fail for any of them ("database is locked")."""
    import threading

    for round_ in range(10):
        path = tmp_path / f"m{round_}.sqlite"
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def open_it(path: Path = path, errors: list[BaseException] = errors,
                    start: threading.Barrier = start) -> None:  # fmt: skip
            start.wait()
            try:
                Manifest(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
