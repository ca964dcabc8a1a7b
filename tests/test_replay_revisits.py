"""Revisits replay: after an incremental crawl a hub page's latest capture is a 304
(server-not-modified) revisit, and the index makes pywb replay the page it refers to."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoSite
from storage.index import lookup, parse_line, update_index
from storage.layout import ArchiveLayout
from testkit.chromium import ArchivedPage, PywbBrowser
from testkit.replaywebpage import ReplayWebPage
from tests.conftest import FAST, cli, exported
from tests.helpers import normalised


@dataclass
class Incremental:
    archive: Path
    home: str  # an outlet's home page: a 200 in the first run, a 304 in the second
    first_body: bytes  # the home page as the first run stored it


def payload_at(archive: Path, url: str, status: str) -> bytes | None:
    for warc in sorted((archive / "warc").glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if (rec.rec_type in ("response", "revisit")
                        and rec.rec_headers.get_header("WARC-Target-URI") == url
                        and rec.http_headers.get_statuscode() == status):  # fmt: skip
                    return bytes(rec.content_stream().read())
    return None


@pytest.fixture(scope="module")
def incremental(demo_site: DemoSite, tmp_path_factory: pytest.TempPathFactory) -> Incremental:
    root = tmp_path_factory.mktemp("incremental")
    config = demo_site.write_config(root / "outlets.yaml")
    archive = root / "archive"
    for _ in range(2):  # nothing changed in between: the hubs answer 304 the second time
        result = cli("crawl", "--config", str(config), "--archive", str(archive), *FAST)
        assert result.returncode == 0, result.stderr[-3000:]
    home = demo_site.outlets["iconnews"] + "/"
    body = payload_at(archive, home, "200")
    assert body is not None and payload_at(archive, home, "304") is not None
    return Incremental(archive, home, body)


def test_the_304_stays_in_the_warc_and_its_index_line_names_what_it_replays(
    incremental: Incremental,
) -> None:
    first, latest = lookup(ArchiveLayout(incremental.archive), incremental.home)
    assert first["status"] == "200" and "revisit" not in first
    # the revisit's line: its own time, the original record's place, the revisit named in it
    assert latest["timestamp"] > first["timestamp"]
    assert (latest["status"], latest["mime"]) == ("200", "text/html")
    assert (latest["filename"], latest["offset"]) == (first["filename"], first["offset"])
    revisit = latest["revisit"]
    assert revisit["profile"] == "server-not-modified" and revisit["status"] == "304"
    assert revisit["filename"] != first["filename"]  # the second run's WARC keeps the 304
    assert latest["refers_to"] == {k: first[k] for k in ("timestamp", "filename", "offset",
                                                         "length")}  # fmt: skip


def test_the_crawls_index_is_what_a_rebuild_from_the_warc_files_makes(
    incremental: Incremental, tmp_path: Path
) -> None:
    # each crawl's writer made its files' lines as it appended the records; no WARC was read
    # back for the index, and the lines are those cdxj-indexer makes of the files
    summaries = [
        json.loads(p.read_text()) for p in sorted((incremental.archive / "runs").glob("*.json"))
    ]
    assert len(summaries) == 2
    for summary in summaries:
        stats = summary["stats"]
        assert stats["index/warcs_indexed"] == stats["warc/files"]
        assert "index/warcs_read" not in stats
    copy = tmp_path / "archive"
    shutil.copytree(incremental.archive, copy, ignore=shutil.ignore_patterns("indexes"))
    rebuilt = update_index(ArchiveLayout(copy))
    assert len(rebuilt.read) == len(list((copy / "warc").glob("*.warc.gz")))
    crawled = (incremental.archive / "indexes" / "index.cdxj").read_text(encoding="utf-8")
    assert (copy / "indexes" / "index.cdxj").read_text(encoding="utf-8") == crawled
    entries = [parse_line(line) for line in crawled.splitlines()]
    kinds = {("revisit" in e, e["mime"] == "warc/revisit") for e in entries}
    assert kinds == {(False, False), (True, False), (False, True)}  # 304s and identical payloads


def test_lookup_shows_the_revisit_as_what_it_is(incremental: Incremental) -> None:
    result = cli("lookup", incremental.home, "--archive", str(incremental.archive))
    *rows, total = result.stdout.strip().splitlines()[1:]
    assert total.startswith("2 capture(s)")
    assert rows[1].split()[1:3] == ["304", "revisit"]
    assert "(replays" in rows[1]


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_pywb_replays_a_hub_after_a_304_run(incremental: Incremental, replay_tools: Any) -> None:
    archive = incremental.archive
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    (latest,) = lookup(ArchiveLayout(archive), incremental.home)[1:]
    with replay_tools.pywb(warcs, index=archive / "indexes" / "index.cdxj") as base:
        # the default replay (no timestamp) picks the latest capture: the 304's
        assert fetch(replay_tools.replay_url(base, incremental.home)) == (
            200, incremental.first_body
        )  # fmt: skip
        at_304 = replay_tools.replay_url(base, incremental.home, latest["timestamp"])
        assert fetch(at_304) == (200, incremental.first_body)


def test_pywb_replays_a_payload_first_captured_at_another_url(
    incremental: Incremental, demo_site: DemoSite, replay_tools: Any
) -> None:
    # the outlets serve one script: every copy after the first is an identical-payload revisit
    # of another outlet's URL
    archive = incremental.archive
    scripts = [base + "/static/site.js" for base in demo_site.outlets.values()]
    lines = {url: lookup(ArchiveLayout(archive), url)[0] for url in scripts}
    # their own lines (both tools look the original up), naming what they refer to
    revisited = [u for u, line in lines.items() if line["mime"] == "warc/revisit"]
    assert revisited and all(lines[u]["refers_to"] for u in revisited)
    (original,) = [u for u, line in lines.items() if line["mime"] != "warc/revisit"]
    script = payload_at(archive, original, "200")
    assert script
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    with replay_tools.pywb(warcs, index=archive / "indexes" / "index.cdxj") as base:
        for url in revisited:
            assert fetch(replay_tools.replay_url(base, url)) == (200, script)


def test_without_the_archives_index_pywb_replays_the_304_blank(
    incremental: Incremental, replay_tools: Any
) -> None:
    # the control: pywb's own index (wb-manager add) serves the revisit's own 304, no page
    warcs = sorted((incremental.archive / "warc").glob("*.warc.gz"))
    with replay_tools.pywb(warcs) as base:
        status, body = fetch(replay_tools.replay_url(base, incremental.home))
    assert (status, body) == (304, b"")


@pytest.fixture(scope="module")
def incremental_wacz(incremental: Incremental, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(incremental.archive, tmp_path_factory.mktemp("wacz") / "incremental.wacz")


def hub_shown(shown: ArchivedPage, incremental: Incremental) -> None:
    """The hub as the first run stored it: its heading and every teaser."""
    stored = lxml.html.fromstring(incremental.first_body)
    (teasers,) = stored.cssselect("ul.teasers")
    assert shown.frame.locator("h1").first.text_content() == "Top stories"
    shown_teasers = shown.frame.locator("ul.teasers").text_content() or ""
    assert normalised(shown_teasers) == normalised(teasers.text_content())
    assert len(teasers) >= 3
    assert shown.foreign_requests() == []


def test_replaywebpage_shows_a_hub_after_a_304_run(
    incremental: Incremental, incremental_wacz: Path, replaywebpage: ReplayWebPage
) -> None:
    (latest,) = lookup(ArchiveLayout(incremental.archive), incremental.home)[1:]
    for ts in ("", latest["timestamp"]):
        with replaywebpage.replay(incremental_wacz, incremental.home, ts) as shown:
            hub_shown(shown, incremental)
            assert f"/{latest['timestamp']}mp_/" in shown.frame.url  # the 304's capture


def test_pywb_in_a_browser_shows_a_hub_after_a_304_run(
    incremental: Incremental, pywb_browser: PywbBrowser
) -> None:
    archive = incremental.archive
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    index = archive / "indexes" / "index.cdxj"
    with pywb_browser.replay(warcs, incremental.home, index=index) as shown:
        hub_shown(shown, incremental)
