"""``newsarchiver articles`` on the archive of a real crawl of the demo outlets.

What a user checks: one row per stored text and outlet URL, every field there, the syndicated
wire copy's other URLs, the filters, each format opening as it is (Parquet typed, in pyarrow and
DuckDB), bad input one line and exit 2, and an archive of the previous release (schema 3)
listed complete after its migration.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from storage.listing import FIELDS
from storage.stories import story_ids
from tests.conftest import Crawl, cli


def listing(archive: Path, *args: str) -> list[dict[str, Any]]:
    result = cli("articles", "--archive", str(archive), "--format", "jsonl", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def manifest_rows(archive: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        sql = (
            "SELECT a.url, t.stem FROM articles a JOIN texts t ON t.id = a.text_id"
            " WHERE t.state = 'stored'"
        )
        return sorted(db.execute(sql).fetchall())
    finally:
        db.close()


def test_one_row_per_stored_copy_with_every_field(demo_crawl: Crawl) -> None:
    rows = listing(demo_crawl.archive)
    assert [tuple(r) for r in rows] == [FIELDS] * len(rows)  # the documented shape, in order
    assert sorted((r["url"], r["text_file"][5:-4]) for r in rows) == manifest_rows(
        demo_crawl.archive
    )
    summary = demo_crawl.summary["totals"]
    assert len(rows) == summary["archived"] + summary["duplicates"]
    for row in rows:
        text = (demo_crawl.archive / row["text_file"]).read_text(encoding="utf-8")
        assert row["title"] == text.split("\n", 1)[0]
        assert row["words"] == len(text.partition("\n\n")[2].split()) > 100
        assert row["published"] and row["fetched_at"] and row["language"] and row["author"]
        assert row["outlet"] in demo_crawl.summary["outlets"]
        assert len(row["sha256"]) == 64
    # the crawl put every text in a story: the listing names it as the stories index does
    stories = story_ids(demo_crawl.archive / "stories.sqlite")
    db = sqlite3.connect(demo_crawl.archive / "manifest.sqlite")
    text_ids = dict(db.execute("SELECT stem, id FROM texts"))
    db.close()
    assert {r["story"] for r in rows} == set(stories.values()) and None not in stories.values()
    for row in rows:
        assert row["story"] == stories[text_ids[row["text_file"][5:-4]]]
    # the wire story several outlets ran: one text, each copy naming the others
    by_text: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_text.setdefault(row["sha256"], []).append(row)
    shared = [copies for copies in by_text.values() if len(copies) > 1]
    assert shared
    for copies in shared:
        urls = {r["url"] for r in copies}
        for r in copies:
            assert set(r["other_urls"]) == urls - {r["url"]}
        assert len({r["outlet"] for r in copies}) > 1


def test_outlet_and_date_filters(demo_crawl: Crawl) -> None:
    rows = listing(demo_crawl.archive)
    nord = listing(demo_crawl.archive, "--outlet", "nordpress")
    assert nord == [r for r in rows if r["outlet"] == "nordpress"]  # other_urls still whole
    assert any(r["other_urls"] for r in nord)
    days = sorted({r["published"][:10] for r in rows})
    middle = days[len(days) // 2]
    since = listing(demo_crawl.archive, "--since", middle)
    until = listing(demo_crawl.archive, "--until", middle)  # a date: all of that day
    assert {r["url"] for r in since} == {r["url"] for r in rows if r["published"][:10] >= middle}
    assert {r["url"] for r in until} == {r["url"] for r in rows if r["published"][:10] <= middle}
    both = listing(demo_crawl.archive, "--since", middle, "--until", f"{middle}T23:59:59Z")
    assert {r["url"] for r in both} == {r["url"] for r in rows if r["published"][:10] == middle}


def test_csv_and_table(demo_crawl: Crawl, tmp_path: Path) -> None:
    rows = listing(demo_crawl.archive)
    out = tmp_path / "articles.csv"
    result = cli("articles", "--archive", str(demo_crawl.archive), "--format", "csv",
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0 and result.stdout == f"wrote {out}: {len(rows)} article row(s)\n"
    read = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["url"] for r in read] == [r["url"] for r in rows]
    assert [r["other_urls"].split() for r in read] == [r["other_urls"] for r in rows]
    assert [int(r["words"]) for r in read] == [r["words"] for r in rows]
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed
    table = cli("articles", "--archive", str(demo_crawl.archive)).stdout.splitlines()
    assert table[0].split() == ["published", "outlet", "words", "story", "title", "url"]
    assert table[-1] == f"{len(rows)} article row(s), {len({r['sha256'] for r in rows})} text(s)"
    assert len(table) == len(rows) + 2
    assert all(line.index("http") == table[1].index("http") for line in table[1:-1])  # aligned


def test_parquet_is_typed_and_opens_as_it_is(demo_crawl: Crawl, tmp_path: Path) -> None:
    rows = listing(demo_crawl.archive)
    out = tmp_path / "articles.parquet"
    result = cli("articles", "--archive", str(demo_crawl.archive), "--format", "parquet",
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.num_rows == len(rows)
    assert table.schema.field("published").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("fetched_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("other_urls").type == pa.list_(pa.string())
    assert table.schema.field("words").type == pa.int64()
    data = table.to_pylist()
    assert [r["url"] for r in data] == [r["url"] for r in rows]
    assert [r["other_urls"] for r in data] == [r["other_urls"] for r in rows]
    assert [r["published_text"] for r in data] == [r["published"] for r in rows]
    assert [r["published"].date().isoformat() for r in data] == [r["published"] for r in rows]
    import duckdb  # a dev dependency (pyproject.toml): the listing must open in it as it is

    ((count, longest),) = duckdb.sql(
        f"SELECT count(*), max(len(other_urls)) FROM '{out}' WHERE published >= '2025-03-01'"
    ).fetchall()
    assert count == len(rows) and longest >= 1


def test_bad_input_is_one_line_exit_2(demo_crawl: Crawl, tmp_path: Path) -> None:
    archive = str(demo_crawl.archive)
    cases = {
        ("--since", "2025-13-01"): "newsarchiver: --since: '2025-13-01' is not an ISO 8601",
        ("--until", "last week"): "newsarchiver: --until: 'last week' is not an ISO 8601",
        ("--outlet", "nosuch"): "newsarchiver: --outlet: the archive has no outlet nosuch",
        ("--format", "parquet"): "newsarchiver: --format parquet: --out FILE is required",
        ("--out", str(tmp_path / "no" / "x.csv")): "newsarchiver: --out: no directory",
    }
    for args, message in cases.items():
        result = cli("articles", "--archive", archive, *args)
        assert result.returncode == 2 and result.stdout == "", args
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    result = cli("articles", "--archive", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert result.stderr.startswith("newsarchiver: --archive: no archive")


def test_story_column_from_stories_sqlite(demo_crawl: Crawl, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    (archive / "stories.sqlite").unlink()  # no stories index: no story
    assert {r["story"] for r in listing(archive)} == {None}
    db = sqlite3.connect(archive / "stories.sqlite")  # one by the contract, hand-made
    db.execute("CREATE TABLE story_texts (text_id INTEGER PRIMARY KEY, story_id TEXT NOT NULL,"
               " near_duplicate_of INTEGER, similarity REAL, joined_at TEXT)")  # fmt: skip
    db.execute("INSERT INTO story_texts VALUES (1, 'story-a', NULL, NULL, NULL),"
               " (2, 'story-a', 1, 0.9, NULL)")  # fmt: skip
    db.commit()
    db.close()
    rows = listing(archive)
    assert {r["text_file"][5:8]: r["story"] for r in rows if r["story"]} == {
        "000": "story-a", "001": "story-a",
    }  # fmt: skip
    assert sum(1 for r in rows if r["story"] is None) == len(rows) - 2


def test_an_archive_of_schema_3_is_listed_complete(demo_crawl: Crawl, tmp_path: Path) -> None:
    """The previous release's manifest (no texts.words, schema_version 3): the listing migrates
    it, the word counts filled from the text files, every row as before."""
    expected = listing(demo_crawl.archive)
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    db = sqlite3.connect(archive / "manifest.sqlite")
    db.execute("ALTER TABLE texts DROP COLUMN words")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    assert listing(archive) == expected
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        words = db.execute("SELECT COUNT(*) FROM texts WHERE words IS NULL").fetchone()
    finally:
        db.close()
    assert version == ("4",) and words == (0,)
