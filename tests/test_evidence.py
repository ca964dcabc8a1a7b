"""Text and evidence in pairs: a lost WARC record takes its text with it and its URL is fetched
again; a 304 is read from its capture so its links still count; reextract and lookup say when a
record is missing. Real crawls of the demo outlets through the CLI, WARCs read back with warcio.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from bench.soak import audit
from crawler.demo import DemoSite
from storage.layout import OPEN_SUFFIX
from tests.conftest import FAST, cli


def crawl(config: Path, archive: Path, *extra: str) -> dict[str, Any]:
    result = cli("crawl", "--config", str(config), "--archive", str(archive), *FAST, *extra)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    newest = max((archive / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    summary: dict[str, Any] = json.loads(newest.read_text(encoding="utf-8"))
    return summary


def sidecars(archive: Path) -> dict[str, dict[str, Any]]:
    return {
        (s := json.loads(p.read_text(encoding="utf-8")))["url"]: s
        for p in (archive / "text").glob("*.json")
    }


def query(archive: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def test_a_text_whose_record_a_power_cut_lost_is_dropped_listed_and_fetched_again(
    tmp_path: Path,
) -> None:
    with DemoSite() as site:
        config = site.write_config(tmp_path / "outlets.yaml")
        archive = tmp_path / "archive"
        crawl(config, archive)
        before = sidecars(archive)
        (warc,) = (archive / "warc").glob("*.warc.gz")
        # What a power cut does to a file the kernel had not written out: its last bytes are
        # gone, though the texts that named them and the manifest's rows were committed. Cut the
        # file at the newest text's record; the run never finished (still 'running').
        last = max(before.values(), key=lambda s: s["warc_record_offset"])
        cut = last["warc_record_offset"]
        lost = {url for url, s in before.items() if s["warc_record_offset"] >= cut}
        os.truncate(warc, cut)
        os.replace(warc, warc.with_name(warc.name + OPEN_SUFFIX))
        query(archive, "SELECT 1")  # the manifest is whole
        db = sqlite3.connect(archive / "manifest.sqlite")
        db.execute("UPDATE runs SET status = 'running'")
        db.commit()
        db.close()

        summary = crawl(config, archive)
        stats = summary["stats"]
        assert stats["warc/repaired"] == 1
        assert stats["warc/repaired/texts_dropped"] == len(lost)
        assert stats["warc/repaired/captures_removed"] >= len(lost)
        assert stats["runs/killed"] == 1
        # listed as failed when dropped, fetched again at once, stored again: healed
        events = query(archive, "SELECT url FROM failure_events WHERE reason = 'warc_record_lost'")
        assert {url for (url,) in events} == lost
        assert query(archive, "SELECT url FROM failures WHERE reason = 'warc_record_lost'") == []
        after = sidecars(archive)
        assert lost <= set(after)
        for url in lost:  # a new text of the same words, under a new number, with its record
            assert after[url]["sha256"] == before[url]["sha256"]
            assert after[url]["warc_file"] != warc.name
        result = audit(archive, set(before))
        assert result.problems == [] and result.archived == len(before)
        status = cli("status", "--archive", str(archive))
        assert " killed " in status.stdout


def test_a_304_page_is_read_from_its_capture_and_its_links_are_followed(tmp_path: Path) -> None:
    with DemoSite() as site:
        homes = {name: base + "/" for name, base in site.outlets.items()}

        def config(depth: int) -> Path:
            path = tmp_path / f"depth{depth}.yaml"
            path.write_text("outlets:\n" + "".join(
                f"  - name: {name}\n    start_urls: [\"{url}\"]\n    depth: {depth}\n"
                for name, url in homes.items()
            ))  # fmt: skip
            return path

        archive = tmp_path / "archive"
        first = crawl(config(0), archive)  # the home pages alone: links not followed
        assert first["totals"]["archived"] == 0
        site.clear_requests()
        second = crawl(config(1), archive)
        served = [r.status for r in site.requests if r.path == "/"]
        assert served == [304] * len(homes)  # unchanged: the outlets sent no body
        assert second["stats"]["not_modified/replayed"] == len(homes)
        # its links came from the stored copy: the articles it lists are archived now
        assert second["totals"]["archived"] > 0
        marks = ",".join("?" * len(homes))
        kinds = query(archive, f"SELECT record_type FROM captures WHERE url IN ({marks})",
                      *homes.values())  # fmt: skip
        assert sorted(k for (k,) in kinds) == ["response"] * len(homes) + ["revisit"] * len(homes)


def test_reextract_and_lookup_say_a_record_is_missing_and_do_not_crash(tmp_path: Path) -> None:
    with DemoSite() as site:
        config = site.write_config(tmp_path / "outlets.yaml")
        archive = tmp_path / "archive"
        crawl(config, archive)
    texts = sidecars(archive)
    (warc,) = (archive / "warc").glob("*.warc.gz")
    last = max(texts.values(), key=lambda s: s["warc_record_offset"])
    os.truncate(warc, last["warc_record_offset"])  # damaged behind the archive's back
    (archive / "indexes" / "index.cdxj").unlink()
    done = cli("reextract", "--archive", str(archive))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "1 whose WARC record is missing" in done.stdout
    assert last["url"] in done.stderr and "no WARC record at offset" in done.stderr
    looked = cli("lookup", last["url"], "--archive", str(archive))
    assert looked.returncode == 0 and "0 capture(s)" in looked.stdout
    assert "no WARC record" in looked.stderr and last["text_file"][:-4] in looked.stderr
