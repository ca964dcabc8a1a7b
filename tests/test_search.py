"""Full-text search (``newsarchiver search``, ARCHIVE/search.sqlite) on archives made by crawls
of the demo site: the crawl fills the index, the queries a user types find what they should, a
rebuild gives the same answers, and a crawl killed with SIGKILL leaves an index the next crawl
or ``index --search`` completes."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crawler.demo import DemoSite
from crawler.demo.content import Story
from testkit.mockserver import MockServer
from tests.conftest import FAST, Crawl, cli

BRIDGE = "Wendle Bridge to close for six months after inspectors find cracked bearings"
RAIL = "Rail union calls off Eastmoor strike after improved pay offer"


def search(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("search", *args, "--archive", str(archive))


def found(archive: Path, *args: str) -> list[dict[str, Any]]:
    result = search(archive, *args, "--json")
    assert result.returncode == 0, result.stderr
    hits: list[dict[str, Any]] = json.loads(result.stdout)
    return hits


def titles(archive: Path, *args: str) -> list[str]:
    return [hit["title"] for hit in found(archive, *args)]


def stored_ids(archive: Path) -> set[int]:
    # closed here, not left to the garbage collector: the test copies the archive's files
    # (shutil.copytree), and a process that closes any descriptor of a database file drops the
    # POSIX locks its open connections hold on it; the next crawl (another process) would then
    # take itself for the only one and the stale connection's checkpoint could corrupt the file
    with contextlib.closing(sqlite3.connect(archive / "manifest.sqlite")) as db:
        return {r[0] for r in db.execute("SELECT id FROM texts WHERE state = 'stored'")}


def indexed_ids(archive: Path) -> set[int]:
    db = sqlite3.connect(f"{(archive / 'search.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in db.execute("SELECT text_id FROM docs")}
    finally:
        db.close()


def indexed_yet(archive: Path) -> bool:
    """The running crawl has committed a text to its index (its file may have no tables yet)."""
    try:
        return bool(indexed_ids(archive))
    except sqlite3.OperationalError:
        return False


def summary_stats(archive: Path) -> list[dict[str, int]]:
    runs = sorted((archive / "runs").glob("*.json"))
    return [json.loads(p.read_text(encoding="utf-8"))["stats"] for p in runs]


def test_the_crawl_fills_the_index(demo_crawl: Crawl) -> None:
    stats = demo_crawl.summary["stats"]
    assert stats["search/indexed"] == stats["text/written"] > 10
    assert stats["search/copies"] == stats.get("text/duplicate", 0) > 0  # syndicated copies
    assert "search/failed" not in stats
    assert indexed_ids(demo_crawl.archive) == stored_ids(demo_crawl.archive)


def test_a_word_of_the_body_and_a_word_without_its_accent(demo_crawl: Crawl) -> None:
    archive = demo_crawl.archive
    hits = found(archive, "bearings")
    assert hits[0]["title"] == BRIDGE
    assert "[bearings]" in hits[0]["snippet"]
    assert (archive / hits[0]["text_file"]).read_text(encoding="utf-8").startswith(BRIDGE)
    # the page says "Renée Fauvel": folded, "renee" and "RENEE" find it, highlighted as written
    for query in ("renee", "RENEE", "Renée"):
        (hit,) = found(archive, query)
        assert hit["title"] == BRIDGE and "[Renée] Fauvel" in hit["snippet"]
    assert found(archive, "zzyzx") == []


def test_phrase_prefix_and_boolean_queries(demo_crawl: Crawl) -> None:
    archive = demo_crawl.archive
    assert titles(archive, '"cracked bearings"') == [BRIDGE]
    assert titles(archive, '"bearings cracked"') == []
    harbour = set(titles(archive, "harb*"))
    assert "Port of Fennick Bay reports busiest winter in a decade" in harbour
    assert set(titles(archive, "harbour")) < harbour  # Harbourmaster too
    ferry = set(titles(archive, "ferry"))
    no_bridge = set(titles(archive, "ferry NOT bridge"))
    assert no_bridge < ferry and BRIDGE not in no_bridge
    assert set(titles(archive, "ferry AND NOT bridge")) == no_bridge  # written either way
    assert set(titles(archive, "ferry OR strike")) == ferry | set(titles(archive, "strike"))
    assert set(titles(archive, "ferry AND bridge")) == ferry - no_bridge
    # a word of a title ranks its text above one that only has it in the body
    assert titles(archive, "bridge")[0] in (BRIDGE, "Bridge closure detour sends lorries "
                                            "through Kellerby village")  # fmt: skip
    assert titles(archive, "title:strike") == [RAIL]


def test_a_syndicated_text_is_one_result_and_the_filters_pick_its_copy(demo_crawl: Crawl) -> None:
    archive = demo_crawl.archive
    (hit,) = found(archive, "strike")
    assert hit["title"] == RAIL
    assert hit["outlets"] == ["nordpress", "wirehub"] and len(hit["urls"]) == 2
    # unfiltered: the copy published first (nordpress, the 12th; wirehub ran it the 13th)
    assert (hit["outlet"], hit["published"][:10]) == ("nordpress", "2025-03-12")
    (wire,) = found(archive, "strike", "--outlet", "wirehub")
    assert wire["outlet"] == "wirehub" and wire["url"] in hit["urls"] and wire["url"] != hit["url"]
    assert found(archive, "strike", "--outlet", "iconnews") == []
    assert len(found(archive, "strike", "--outlet", "iconnews", "--outlet", "wirehub")) == 1
    (late,) = found(archive, "strike", "--since", "2025-03-13")
    assert late["outlet"] == "wirehub"
    (early,) = found(archive, "strike", "--until", "2025-03-12")
    assert early["outlet"] == "nordpress"
    assert found(archive, "strike", "--since", "2025-03-14") == []
    days = [
        h["published"][:10]
        for h in found(
            archive, "the", "--since", "2025-03-15", "--until", "2025-03-17", "--limit", "100"
        )
    ]
    assert days and all("2025-03-15" <= d <= "2025-03-17" for d in days)


def test_json_shape_ranked_best_first_and_the_terminal_output(demo_crawl: Crawl) -> None:
    hits = found(demo_crawl.archive, "bridge", "--limit", "3")
    assert len(hits) == 3
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    for h in hits:
        assert list(h) == ["rank", "score", "title", "url", "outlet", "published", "outlets",
                           "urls", "snippet", "text_file", "text_id"]  # fmt: skip
        assert h["url"].startswith("http://") and h["outlet"] in h["outlets"]
        assert "[" in h["snippet"] and "\x1b" not in h["snippet"]
    plain = search(demo_crawl.archive, "bearings")
    assert plain.returncode == 0
    lines = plain.stdout.splitlines()
    assert lines[0] == f" 1. {BRIDGE}"
    assert "iconnews  2025-03-14  text/" in lines[1]
    assert "[bearings]" in lines[2] and "\x1b" not in plain.stdout  # not a terminal: [ ]
    assert lines[-1] == "1 result(s)"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["Olsen-Reed"], "bad query 'Olsen-Reed'"),
        (['"unterminated'], "bad query"),
        (["ferry AND"], "bad query 'ferry AND'"),
        (["  "], "the query is empty"),
        (["ferry", "--since", "14/03/2025"], "--since must be a date YYYY-MM-DD"),
        (["ferry", "--until", "2025-02-30"], "--until must be a date YYYY-MM-DD"),
        (["ferry", "--outlet", "nosuch"], "no outlet 'nosuch'"),
        (["ferry", "--limit", "0"], "--limit must be 1 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo_crawl: Crawl, args: list[str], says: str) -> None:
    result = search(demo_crawl.archive, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("newsarchiver: search: ") and says in line


def test_index_search_rebuilds_the_same_results(demo_crawl: Crawl, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    queries = [["bridge"], ["strike", "--outlet", "wirehub"], ["harb*"], ["renee"],
               ["the", "--limit", "50"], ['"cracked bearings"']]  # fmt: skip
    before = [found(archive, *q) for q in queries]
    for name in ("search.sqlite", "search.sqlite-wal", "search.sqlite-shm"):
        (archive / name).unlink(missing_ok=True)
    missing = search(archive, "bridge")
    assert missing.returncode == 2
    assert f"build it with `newsarchiver index --search --archive {archive}`" in missing.stderr
    built = cli("index", "--archive", str(archive), "--search")
    assert built.returncode == 0, built.stderr
    assert f"{len(stored_ids(archive))} text(s) indexed" in built.stdout
    assert [found(archive, *q) for q in queries] == before
    (archive / "search.sqlite").write_bytes(b"not a database at all, " * 100)
    broken = search(archive, "bridge")
    assert broken.returncode == 2 and "is not a search index" in broken.stderr
    assert cli("index", "--archive", str(archive), "--search").returncode == 0  # made anew
    assert [found(archive, *q) for q in queries] == before


def test_a_crawl_with_the_index_off_is_caught_up_by_the_next(
    demo_site: DemoSite, demo_crawl: Crawl, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    (archive / "search.sqlite").unlink()
    result = cli("crawl", "--config", str(demo_crawl.config), "--archive", str(archive), *FAST)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = summary_stats(archive)[-1]
    assert stats["search/caught_up"] == len(stored_ids(archive))
    assert indexed_ids(archive) == stored_ids(archive)
    assert titles(archive, "bearings") == [BRIDGE]


CAFE = Story(
    outlet="valleydaily", path="/story/1077-quayside-cafe-reopens",
    title="Quayside café reopens with a view of the closed bridge",
    author="Test Writer", published="2025-03-20T08:00:00+00:00", section="/section/news",
    paragraphs=(
        "The Quayside café, shut since the flood of 2009, reopened on Thursday with a new "
        "terrace overlooking the Wendle, where the owners say customers can watch the bridge "
        "repairs over a crème brûlée and a pot of tea.",
        "Its owner, Zoë Marchetti, said the crowds of engineers and ferry passengers had made the "
        "reopening possible sooner than planned, and that the terrace would stay open until ten "
        "in the evening throughout the summer months.",
    ),
)  # fmt: skip


def test_a_killed_crawl_leaves_a_consistent_index_that_is_completed(
    mockserver: MockServer, tmp_path: Path
) -> None:
    # each response takes 0.3 s: the crawl is still running when its first texts are indexed
    site = mockserver.site("search-in-flight", delay=0.3)
    site.publish(CAFE)
    config = site.write_config(tmp_path / "outlets.yaml")
    archive = tmp_path / "archive"
    args = ["crawl", "--config", str(config), "--archive", str(archive), *FAST]
    index = archive / "search.sqlite"
    with (tmp_path / "killed.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", *args],
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 120
        while not (index.exists() and indexed_yet(archive)):
            assert proc.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "nothing indexed within 120 s"
            time.sleep(0.01)  # polling for the first commit, not waiting for luck
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    archivable = [a for a in site.articles if a.archivable]
    killed = indexed_ids(archive)  # opens (WAL recovered), integrity_check ok
    assert 0 < len(killed) < len(archivable)
    assert killed <= stored_ids(archive)  # nothing indexed that is not stored

    # `index --search` on a copy completes it as it stands ...
    copy = tmp_path / "copy"
    shutil.copytree(archive, copy)
    assert cli("index", "--archive", str(copy), "--search").returncode == 0
    assert indexed_ids(copy) == stored_ids(copy)
    # ... and so does the next crawl, which stores the rest and indexes every text
    result = cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert indexed_ids(archive) == stored_ids(archive)
    assert len(stored_ids(archive)) >= len(archivable) - 2  # syndicated copies: one text
    stats = summary_stats(archive)[-1]
    missed = len(stored_ids(copy)) - len(killed)  # stored by the killed crawl, not indexed
    assert stats.get("search/caught_up", 0) == missed
    for query in ("cafe", '"creme brulee"', "zoe"):  # the test story, by words without accents
        hit = found(archive, query)[0]
        assert hit["title"] == CAFE.title and hit["outlet"] == "valleydaily"
