"""Text and evidence in pairs: a lost WARC record takes its text with it and its URL is fetched
again; a 304 is read from its capture so its links still count; reextract and lookup say when a
record is missing. Real crawls of the demo outlets through the CLI, WARCs read back with warcio.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.soak import audit
from crawler.demo.content import Story
from crawler.extensions import warc_capture
from crawler.extensions.warc_capture import to_exchange
from storage.evidence import reconcile
from storage.layout import OPEN_SUFFIX, ArchiveLayout, text_stem
from storage.manifest import Manifest
from storage.warc_read import RecordMissing, read_response
from storage.warc_repair import repair_open_warcs
from testkit.mockserver import MockServer
from tests.conftest import FAST, cli
from tests.helpers import closed_warc, project_retry_policy


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
    mockserver: MockServer,
    tmp_path: Path,
) -> None:
    site = mockserver.site("evidence")
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


def test_a_304_page_is_read_from_its_capture_and_its_links_are_followed(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.site("evidence")
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


def test_an_unchanged_home_page_still_leads_to_a_new_article_on_a_changed_section_page(
    mockserver: MockServer,
    tmp_path: Path,
) -> None:
    """home -> section -> article, crawled twice: between the runs an article appears on its
    section page alone. The home page answers 304; its links, read from its capture, lead to the
    section page, which changed, and so to the new article."""
    site = mockserver.site("evidence")
    outlet, base = "iconnews", site.outlets["iconnews"]
    config = tmp_path / "home.yaml"
    config.write_text(f"outlets:\n  - name: {outlet}\n    start_urls: [\"{base}/\"]\n"
                      "    depth: 2\n")  # fmt: skip
    archive = tmp_path / "archive"
    first = crawl(config, archive)
    story = Story(
        outlet=outlet, path="/news/2025/03/21/night-bus-trial.html",
        title="Night bus trial starts on the river route",
        paragraphs=(
            "A six-month trial of a night bus along the river route begins next week, the "
            "county transport office said, with departures every forty minutes after midnight.",
            "Shift workers at the hospital and the docks had asked for a late service for two "
            "years; the trial is paid for from this year's road maintenance savings.",
            "Passenger numbers will be counted on every journey, and the office will decide in "
            "the autumn whether the route stays.",
        ),
        author="Test Desk", published="2025-03-21T07:00:00+00:00",
        section="/section/local", features=frozenset({"section_only"}),
    )  # fmt: skip
    site.publish(story)
    site.clear_requests()
    second = crawl(config, archive)
    served = {r.path: r.status for r in site.requests if r.outlet == outlet}
    assert served["/"] == 304  # the home page did not change: no link to the story on it
    assert served["/section/local"] == 200 and served[story.path] == 200
    assert second["stats"]["not_modified/replayed"] >= 1
    assert first["totals"]["archived"] > 0 and second["totals"]["archived"] == 1
    new = sidecars(archive)[base + story.path]
    text = (archive / "text" / new["text_file"]).read_text(encoding="utf-8")
    assert text.startswith(story.title + "\n\n" + story.paragraphs[0])


def test_a_304_whose_capture_is_gone_is_fetched_again_in_full(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.site("evidence")
    homes = {name: base + "/" for name, base in site.outlets.items()}
    config = tmp_path / "homes.yaml"
    config.write_text("outlets:\n" + "".join(
        f"  - name: {name}\n    start_urls: [\"{url}\"]\n    depth: 1\n"
        for name, url in homes.items()
    ))  # fmt: skip
    archive = tmp_path / "archive"
    first_hubs = crawl(config, archive)["stats"]["spider/pages/hub"]
    for warc in (archive / "warc").glob("*.warc.gz"):  # pushed, then deleted locally
        warc.unlink()
    site.clear_requests()
    again = crawl(config, archive)
    served = sorted(r.status for r in site.requests if r.path == "/")
    assert served == [200] * len(homes) + [304] * len(homes)  # asked again, in full
    not_modified = sum(1 for r in site.requests if r.status == 304)
    assert again["stats"]["not_modified/refetched/unreadable"] == not_modified
    assert "not_modified/replayed" not in again["stats"]
    assert again["stats"]["spider/pages/hub"] == first_hubs


def test_reextract_and_lookup_say_a_record_is_missing_and_do_not_crash(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.site("evidence")
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


def test_a_shared_text_keeps_its_surviving_url_and_its_sidecar_names_that_record(
    tmp_path: Path,
) -> None:
    layout = ArchiveLayout(tmp_path).ensure()
    manifest = Manifest(layout.manifest_path)
    warc, refs = closed_warc(layout, ["http://news.example/a", "http://news.example/b"], manifest)
    # b's extraction finished first: the text names b; a, the same words, is its duplicate
    row = manifest.reserve_text("f" * 64, lambda n: text_stem(n, "f" * 64), "T", "now", "run-1")
    for url in ("http://news.example/b", "http://news.example/a"):
        manifest.add_article({
            "url": url, "final_url": url, "outlet": "news", "http_status": 200,
            "fetched_at": "2026-05-01T12:00:00Z", "warc_file": warc.name,
            "warc_offset": refs[url].offset, "run_id": "run-1", "text_id": row.id,
        })  # fmt: skip
    manifest.mark_text_stored(row.id)
    layout.text_path(row.stem).write_text("T\n\nwords\n")
    layout.sidecar_path(row.stem).write_text(json.dumps({
        "url": "http://news.example/b", "warc_file": warc.name,
        "warc_record_offset": refs["http://news.example/b"].offset,
        "warc_record_id": refs["http://news.example/b"].record_id,
        "other_urls": ["http://news.example/a"],
    }))  # fmt: skip
    # a power cut took b's exchange, the last in the file
    os.truncate(warc, refs["http://news.example/b"].offset)
    os.replace(warc, warc.with_name(warc.name + OPEN_SUFFIX))

    done: list[Any] = []
    repair_open_warcs(
        layout,
        lambda r: done.append(reconcile(layout, manifest, r, project_retry_policy(), "run-2")),
    )
    assert done[0].articles_dropped == 1 and done[0].texts_dropped == []
    sidecar = json.loads(layout.sidecar_path(row.stem).read_text())
    assert sidecar["url"] == "http://news.example/a" and sidecar["other_urls"] == []
    assert sidecar["warc_record_id"] == refs["http://news.example/a"].record_id
    assert layout.text_path(row.stem).exists()
    assert audit(tmp_path, {"http://news.example/a"}).texts_without_record == 0
    assert manifest.failure("http://news.example/b")["reason"] == "warc_record_lost"
    manifest.close()


def test_a_batch_of_rows_that_failed_to_commit_is_kept_and_the_file_left_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_warc_capture import make_capture, response

    ext = make_capture(tmp_path)
    monkeypatch.setattr(warc_capture, "CAPTURE_BATCH", 2)
    assert ext.manifest is not None
    calls = []

    def disk_full(rows: Any) -> None:  # the disk stays full until this crawl has ended
        calls.append(len(rows))
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ext.manifest, "add_captures", disk_full)
    for i in range(2):
        r = response(f"http://127.0.0.1:1/{i}", 200, os.urandom(500))
        with contextlib.suppress(sqlite3.OperationalError):
            ext._write(to_exchange(r.request, r))
    assert len(ext._rows) == 2  # not thrown away: tried again at close
    ext._close()
    assert calls == [2, 2]
    # rows not committed: the file is not closed as if whole, but left for the next repair
    assert len(list((tmp_path / "warc").glob("*.open"))) == 1
    again = make_capture(tmp_path)  # the next crawl: repair, rows re-derived, file closed
    again._close()
    manifest = Manifest(tmp_path / "manifest.sqlite")
    urls = sorted(r["url"] for r in manifest.query("SELECT url FROM captures"))
    manifest.close()
    assert urls == ["http://127.0.0.1:1/0", "http://127.0.0.1:1/1"]
    assert not list((tmp_path / "warc").glob("*.open"))


def test_a_stored_response_is_read_only_for_the_url_it_captured(tmp_path: Path) -> None:
    """Where a 304's capture is comes from the request's meta, which the shared queue of a
    distributed crawl could forge: the record there must be a capture of the page's URL, and a
    name must be a WARC file's, not a path."""
    layout = ArchiveLayout(tmp_path / "archive")
    layout.ensure()
    manifest = Manifest(layout.manifest_path)
    a, b = "https://a.example/one", "https://a.example/two"
    try:
        _, refs = closed_warc(layout, [a, b], manifest)
    finally:
        manifest.close()
    ref = refs[a]
    stored = read_response(layout, None, ref.warc_file, ref.offset, url=a)
    assert stored.body == f"<p>{a}</p>".encode()
    with pytest.raises(RecordMissing, match=r"is a capture of 'https://a\.example/one', not of"):
        read_response(layout, None, ref.warc_file, ref.offset, url=b)
    for name in (f"../archive/warc/{ref.warc_file}", "/etc/passwd", ".hidden"):
        with pytest.raises(RecordMissing, match="is not the name of a WARC file"):
            read_response(layout, None, name, 0, url=a)
