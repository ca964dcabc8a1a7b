"""A story syndicated by several outlets: stored once, credited to every outlet, the same
canonical copy whichever was fetched first.

The text store (storage.texts.TextStore, as a crawl's text pipeline opens it) is fed hand-made
items in both orders, in the test's thread, as tests/test_store_text.py does; the
crash repair, the migration of an old manifest and the merge of two workers (on a real Redis,
pushed to a file:// store) run on real files. tests/test_crawl_demo.py checks a real crawl of
the demo outlets, two of whose stories are syndicated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from crawler.cluster.state import ClusterState
from crawler.cluster.text_numbers import ClusterTextNumbers
from pipelines.article import ArticleText
from pipelines.items import ArticleItem
from storage.evidence import reconcile
from storage.layout import OPEN_SUFFIX, ArchiveLayout, text_stem
from storage.manifest import Manifest
from storage.object_store import FSStore
from storage.push import Pusher
from storage.sidecar import build_sidecar, canonical_key, published_key
from storage.texts import TextStore
from storage.warc import WarcRef
from storage.warc_repair import repair_open_warcs
from testkit.redis_server import RedisServer
from tests.helpers import closed_warc, project_retry_policy, project_settings, store, text_store

NUMBERS_AHEAD = project_settings()["CLUSTER_TEXT_NUMBERS_AHEAD"]
PUSH_WORKERS = project_settings()["PUSH_WORKERS"]

STORY = ArticleText(
    title="Ferry crossings doubled while the bridge is shut",
    paragraphs=(
        "Two ferry operators will double their crossings from Monday while the town bridge is "
        "closed for repairs, the county said.",
        "Fares stay at two pounds for a single journey.",
    ),
    language="en",
)
OTHER = ArticleText(title="Library opens on Sundays", paragraphs=("From April, noon to four.",))
SHA = hashlib.sha256(STORY.render().encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Copy:
    """One outlet's page of the story: what the crawl would hand the pipeline."""

    url: str
    outlet: str
    published: str | None
    author: str
    fetched_at: str
    ref: WarcRef

    def item(self) -> ArticleItem:
        article = dataclasses.replace(STORY, published=self.published, author=self.author)
        return ArticleItem(
            url=self.url, final_url=self.url, outlet=self.outlet, http_status=200,
            body=b"<html>", content_type="text/html", fetched_at=self.fetched_at,
            article=article,
        )  # fmt: skip


# The wire published first; the harbour's URL sorts first: the wire's copy is canonical.
WIRE = Copy(
    "https://wire.example/2026/03/02/ferry", "wire", "2026-03-02", "Wire Staff",
    "2026-03-04T10:00:00Z",
    WarcRef("w-20260304100000-00000-h.warc.gz", 100, 900, "<urn:uuid:w>", None),
)  # fmt: skip
HARBOUR = Copy(
    "https://harbour.example/news/ferry", "harbour", "2026-03-03", "A. Writer",
    "2026-03-04T09:00:00Z",
    WarcRef("w-20260304090000-00000-h.warc.gz", 200, 900, "<urn:uuid:h>", None),
)  # fmt: skip


def store_all(archive: Path, copies: list[Copy]) -> tuple[TextStore, list[str]]:
    p = text_store(archive)
    outcomes = [store(p, c.item(), c.ref)[0] for c in copies]
    p.close()
    return p, outcomes


def only_sidecar(archive: Path) -> tuple[bytes, dict[str, Any]]:
    (path,) = (archive / "text").glob("*.json")
    return path.read_bytes(), json.loads(path.read_text(encoding="utf-8"))


def canonical_row(archive: Path) -> tuple[Any, ...]:
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        return tuple(db.execute("SELECT stem, url, outlet FROM texts").fetchone())
    finally:
        db.close()


def entry(copy: Copy) -> dict[str, Any]:
    return {
        "url": copy.url, "final_url": copy.url, "canonical_url": copy.url,
        "fetched_at": copy.fetched_at,
        "published": copy.published, "author": copy.author, "http_status": 200,
        "warc_file": copy.ref.warc_file, "warc_record_offset": copy.ref.offset,
        "warc_record_id": copy.ref.record_id,
    }  # fmt: skip


def test_both_outlets_credited_and_the_same_canonical_copy_in_either_order(tmp_path: Path) -> None:
    wire_first, outcomes_a = store_all(tmp_path / "a", [WIRE, HARBOUR])
    harbour_first, outcomes_b = store_all(tmp_path / "b", [HARBOUR, WIRE])
    assert outcomes_a == outcomes_b == ["written", "duplicate"]  # stored once either way

    data_a, sidecar = only_sidecar(tmp_path / "a")
    data_b, _ = only_sidecar(tmp_path / "b")
    assert data_a == data_b  # the same bytes, whichever copy came first
    assert list(sidecar["outlets"]) == ["wire", "harbour"]  # the canonical outlet first
    assert sidecar["outlets"] == {"wire": [entry(WIRE)], "harbour": [entry(HARBOUR)]}
    assert (sidecar["url"], sidecar["outlet"], sidecar["published"], sidecar["author"]) == (
        WIRE.url, "wire", "2026-03-02", "Wire Staff",
    )  # fmt: skip
    assert (sidecar["warc_file"], sidecar["warc_record_offset"], sidecar["warc_record_id"]) == (
        WIRE.ref.warc_file, 100, "<urn:uuid:w>",
    )  # fmt: skip
    assert sidecar["other_urls"] == [HARBOUR.url]
    stem = text_stem(0, SHA)
    assert sidecar["text_file"] == f"{stem}.txt"
    for archive in (tmp_path / "a", tmp_path / "b"):
        assert canonical_row(archive) == (stem, WIRE.url, "wire")
        assert sorted(p.name for p in (archive / "text").iterdir()) == [f"{stem}.json",
                                                                        f"{stem}.txt"]  # fmt: skip
    # each outlet's page counts as syndicated, in both orders; the sidecar moved only when the
    # harbour's copy had come first
    for p in (wire_first, harbour_first):
        assert p.count.get("outlet/wire/syndicated") == 1
        assert p.count.get("outlet/harbour/syndicated") == 1
    assert wire_first.count.get("text/canonical_moved") is None
    assert harbour_first.count.get("text/canonical_moved") == 1


def test_a_copy_of_a_text_one_outlet_alone_published_is_not_syndicated(tmp_path: Path) -> None:
    again = dataclasses.replace(HARBOUR, url="https://harbour.example/news/ferry?ref=home")
    p, outcomes = store_all(tmp_path, [HARBOUR, again])
    assert outcomes == ["written", "duplicate"]
    assert p.count.get("outlet/harbour/syndicated") is None
    _, sidecar = only_sidecar(tmp_path)
    assert sidecar["outlets"] == {"harbour": [entry(HARBOUR), entry(again)]}
    assert sidecar["url"] == HARBOUR.url  # same date: the first URL in sort order


def test_a_copy_stored_in_an_earlier_run_is_credited_and_this_run_counts_its_own(
    tmp_path: Path,
) -> None:
    first, _ = store_all(tmp_path, [HARBOUR])
    assert first.count.get("outlet/harbour/syndicated") is None
    second, outcomes = store_all(tmp_path, [WIRE])  # the next crawl, another run id
    assert outcomes == ["duplicate"]
    assert second.count.get("outlet/wire/syndicated") == 1
    assert second.count.get("outlet/harbour/syndicated") is None  # not fetched this run
    assert second.count.get("text/canonical_moved") == 1
    _, sidecar = only_sidecar(tmp_path)
    assert (sidecar["url"], list(sidecar["outlets"])) == (WIRE.url, ["wire", "harbour"])


def test_the_canonical_rule_earliest_in_utc_then_dated_before_undated_then_url() -> None:
    assert published_key("2026-03-02T23:30:00-02:00") == "2026-03-03T01:30:00Z"
    assert published_key("2026-03-03T00:30:00Z") == "2026-03-03T00:30:00Z"
    assert published_key("2026-03-03") == "2026-03-03"
    assert published_key("") is None and published_key("last Tuesday") is None
    late_local = {"url": "https://a.example/1", "published": "2026-03-02T23:30:00-02:00"}
    early_utc = {"url": "https://z.example/1", "published": "2026-03-03T00:30:00+00:00"}
    undated = {"url": "https://0.example/1", "published": None}
    same_day = {"url": "https://b.example/1", "published": "2026-03-03T00:30:00Z"}
    order = sorted([undated, late_local, same_day, early_utc], key=canonical_key)
    assert order == [same_day, early_utc, late_local, undated]


def test_build_sidecar_keeps_what_an_older_sidecar_knew_of_a_copy() -> None:
    rows = [
        {"url": "https://a.example/1", "outlet": "a", "fetched_at": "t1", "warc_offset": 5},
        {"url": "https://b.example/1", "outlet": "b", "fetched_at": "t2", "warc_offset": 6,
         "published": "2026-03-04", "author": "B"},
    ]  # fmt: skip
    # the sidecar of version 1: the first copy at the top level, no `outlets`
    previous = {"url": "https://a.example/1", "published": "2026-03-01", "author": "A",
                "language": "en", "warc_record_id": "<urn:uuid:a>", "title": "T"}  # fmt: skip
    sidecar = build_sidecar("000_x.txt", "x" * 64, None, rows, previous)
    assert (sidecar["url"], sidecar["published"], sidecar["author"]) == (
        "https://a.example/1", "2026-03-01", "A",
    )  # fmt: skip
    assert sidecar["warc_record_id"] == "<urn:uuid:a>" and sidecar["language"] == "en"
    assert sidecar["title"] == "T"
    assert sidecar["outlets"]["b"][0]["published"] == "2026-03-04"
    assert build_sidecar("000_x.txt", "x" * 64, "T", rows, sidecar) == sidecar  # stable
    with pytest.raises(ValueError):
        build_sidecar("000_x.txt", "x" * 64, "T", [])


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE captures (
    id INTEGER PRIMARY KEY, run_id TEXT, url TEXT NOT NULL, method TEXT NOT NULL,
    status INTEGER, fetched_at TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,
    warc_length INTEGER NOT NULL, record_id TEXT NOT NULL, record_type TEXT NOT NULL,
    warc_date TEXT NOT NULL, payload_digest TEXT, content_type TEXT, etag TEXT, last_modified TEXT
);
CREATE TABLE texts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL UNIQUE, stem TEXT NOT NULL,
    state TEXT NOT NULL, title TEXT, created_at TEXT NOT NULL, run_id TEXT
);
CREATE TABLE articles (
    url TEXT NOT NULL, text_id INTEGER NOT NULL REFERENCES texts (id), final_url TEXT,
    outlet TEXT, http_status INTEGER, fetched_at TEXT, warc_file TEXT, warc_offset INTEGER,
    run_id TEXT, PRIMARY KEY (url, text_id)
);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_an_archive_of_schema_1_is_migrated_and_its_old_copies_keep_their_dates(
    tmp_path: Path,
) -> None:
    """An archive written before per-copy metadata: HARBOUR stored first, a second harbour URL
    as its duplicate; its manifest is migrated when the crawl opens it, and a wire copy that
    came out earlier moves the canonical copy, the old copies keeping their dates."""
    layout = ArchiveLayout(tmp_path).ensure()
    stem = text_stem(0, SHA)
    again = "https://harbour.example/ferry-story"
    db = sqlite3.connect(layout.manifest_path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO texts VALUES (1, ?, ?, 'stored', ?, 'now', 'run-1')",
               (SHA, stem, STORY.title))  # fmt: skip
    for url, fetched, offset in ((HARBOUR.url, "2026-03-04T09:00:00Z", 200),
                                 (again, "2026-03-04T09:05:00Z", 300)):  # fmt: skip
        db.execute("INSERT INTO articles VALUES (?, 1, ?, 'harbour', 200, ?, ?, ?, 'run-1')",
                   (url, url, fetched, HARBOUR.ref.warc_file, offset))  # fmt: skip
        db.execute(
            "INSERT INTO captures (run_id, url, method, status, fetched_at, warc_file,"
            " warc_offset, warc_length, record_id, record_type, warc_date) VALUES ('run-1', ?,"
            " 'GET', 200, ?, ?, ?, 900, ?, 'response', ?)",
            (url, fetched, HARBOUR.ref.warc_file, offset, f"<urn:uuid:{offset}>", fetched),
        )
    db.commit()
    db.close()
    layout.text_path(stem).write_text(STORY.render(), encoding="utf-8")
    old = {
        "text_file": f"{stem}.txt", "url": HARBOUR.url, "final_url": HARBOUR.url,
        "outlet": "harbour", "title": STORY.title, "author": "A. Writer",
        "published": "2026-03-03", "language": "en", "fetched_at": "2026-03-04T09:00:00Z",
        "sha256": SHA, "warc_file": HARBOUR.ref.warc_file, "warc_record_offset": 200,
        "warc_record_id": "<urn:uuid:200>", "http_status": 200, "other_urls": [again],
    }  # fmt: skip
    layout.sidecar_path(stem).write_text(json.dumps(old), encoding="utf-8")

    manifest = Manifest(layout.manifest_path)  # migrated here
    assert manifest.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0] == "4"
    assert tuple(manifest.query("SELECT url, outlet FROM texts")[0]) == (HARBOUR.url, "harbour")
    ids = manifest.query("SELECT url, warc_record_id, published FROM articles ORDER BY url")
    assert [tuple(r) for r in ids] == [(again, "<urn:uuid:300>", None),
                                       (HARBOUR.url, "<urn:uuid:200>", None)]  # fmt: skip
    manifest.close()
    assert json.loads(layout.sidecar_path(stem).read_text()) == old  # untouched until a copy

    p, outcomes = store_all(tmp_path, [WIRE])
    assert outcomes == ["duplicate"]
    sidecar = json.loads(layout.sidecar_path(stem).read_text())
    assert (sidecar["url"], sidecar["outlet"]) == (WIRE.url, "wire")
    harbour = {c["url"]: c for c in sidecar["outlets"]["harbour"]}
    assert harbour[HARBOUR.url]["published"] == "2026-03-03"  # from the old sidecar
    assert harbour[HARBOUR.url]["author"] == "A. Writer"
    assert harbour[again]["warc_record_id"] == "<urn:uuid:300>"  # from its capture
    assert sidecar["other_urls"] == sorted([HARBOUR.url, again])
    assert canonical_row(tmp_path) == (stem, WIRE.url, "wire")
    assert p.count.get("text/canonical_moved") == 1


def test_a_kill_between_a_copys_row_and_its_sidecar_is_repaired_at_the_next_start(
    tmp_path: Path,
) -> None:
    layout = ArchiveLayout(tmp_path).ensure()
    manifest = Manifest(layout.manifest_path)
    warc, refs = closed_warc(layout, [HARBOUR.url, WIRE.url], manifest)
    copies = [dataclasses.replace(c, ref=refs[c.url]) for c in (HARBOUR, WIRE)]
    p = text_store(tmp_path)
    store(p, copies[0].item(), copies[0].ref)
    before = layout.sidecar_path(text_stem(0, SHA)).read_bytes()
    # the wire's copy: its manifest row committed, then the crawl killed (its sidecar rewrite
    # never happened, the WARC left open)
    p.manifest.add_article({  # type: ignore[union-attr]
        "url": WIRE.url, "final_url": WIRE.url, "outlet": "wire", "http_status": 200,
        "fetched_at": WIRE.fetched_at, "warc_file": refs[WIRE.url].warc_file,
        "warc_offset": refs[WIRE.url].offset, "warc_record_id": refs[WIRE.url].record_id,
        "published": WIRE.published, "author": WIRE.author, "language": "en", "run_id": "run-1",
        "text_id": 1,
    })  # fmt: skip
    p.close()
    os.replace(warc, warc.with_name(warc.name + OPEN_SUFFIX))  # as the kill left it: open
    assert layout.sidecar_path(text_stem(0, SHA)).read_bytes() == before

    done: list[Any] = []
    repair_open_warcs(
        layout,
        lambda r: done.append(reconcile(layout, manifest, r, project_retry_policy(), "run-2")),
    )
    manifest.close()
    assert done[0].sidecars_rebuilt == 1 and done[0].articles_dropped == 0
    _, sidecar = only_sidecar(tmp_path)
    assert (sidecar["url"], list(sidecar["outlets"])) == (WIRE.url, ["wire", "harbour"])
    assert sidecar["warc_record_id"] == refs[WIRE.url].record_id
    assert canonical_row(tmp_path)[1:] == (WIRE.url, "wire")
    assert layout.closed_warcs() == [warc] and not layout.open_warcs()


@pytest.mark.parametrize("first", ["harbour", "wire"])
def test_two_workers_each_with_one_copy_the_merged_archive_credits_both(
    first: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Worker wa stores the text from the copy it fetched; wb finds the other outlet's copy and
    records it as 'elsewhere'. After both pushed (each push merges), the bucket's sidecar and
    manifest credit both outlets and name the wire's copy first, whoever stored the text."""
    name = f"s{uuid.uuid4().hex[:8]}"
    order = [HARBOUR, WIRE] if first == "harbour" else [WIRE, HARBOUR]
    bucket = tmp_path / "bucket"
    workers = {}
    for worker, copy in zip(("wa", "wb"), order, strict=True):
        # as a distributed crawl's worker numbers its texts (crawler.cluster.text_numbers)
        state = ClusterState(redis_server.url, name, worker, numbers_ahead=NUMBERS_AHEAD)
        state.join(f"run-{worker}", 30, "2026-03-04T09:00:00Z")  # as the worker's extension
        p = text_store(tmp_path / worker, numbers=ClusterTextNumbers(state))
        workers[worker] = store(p, copy.item(), copy.ref)[0]
        p.close()
        state.return_numbers()  # as the text pipeline's close
        state.close()
    assert workers == {"wa": "written", "wb": "elsewhere"}
    stem = text_stem(0, SHA)
    assert not (tmp_path / "wb" / "text" / f"{stem}.json").exists()  # not on wb's disk
    for worker in ("wa", "wb"):
        report = Pusher(ArchiveLayout(tmp_path / worker), FSStore(bucket), part=worker,
                        create=True, delete_local=False, workers=PUSH_WORKERS).run()  # fmt: skip
        assert "merged" in report.merged
    assert "1 sidecar(s) rewritten" in report.merged  # wb's push: the first to see both parts

    sidecar = json.loads((bucket / "text" / f"{stem}.json").read_text())
    assert sidecar["outlets"] == {"wire": [entry(WIRE)], "harbour": [entry(HARBOUR)]}
    assert (sidecar["url"], sidecar["outlet"], sidecar["other_urls"]) == (
        WIRE.url, "wire", [HARBOUR.url],
    )  # fmt: skip
    merged = sqlite3.connect(bucket / "manifest.sqlite")
    try:
        assert merged.execute("SELECT stem, state, url, outlet FROM texts").fetchall() == [
            (stem, "stored", WIRE.url, "wire")
        ]
        per_outlet = merged.execute(
            "SELECT outlet, COUNT(DISTINCT text_id) FROM articles GROUP BY outlet ORDER BY outlet"
        ).fetchall()
        assert per_outlet == [("harbour", 1), ("wire", 1)]
    finally:
        merged.close()
    # the worker's own files are untouched: the bucket's sidecar is the merge's
    assert (tmp_path / "wa" / "text" / f"{stem}.txt").read_bytes() == (
        bucket / "text" / f"{stem}.txt"
    ).read_bytes()
