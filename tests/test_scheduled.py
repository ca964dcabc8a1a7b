"""Unattended scheduled crawls: incremental runs, revisit records, the lock, SIGTERM, status.

One demo site of its own (a story is published on it between runs) and one archive, crawled
several times in order, as cron would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoSite
from crawler.demo.content import Story
from storage.warc import IDENTICAL_PAYLOAD, SERVER_NOT_MODIFIED
from testkit.mockserver import MockServer
from tests.conftest import FAST, cli

CLI = [sys.executable, "-m", "crawler.cli"]


@dataclass
class Archive:
    site: DemoSite
    config: Path
    root: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    def crawl(self, *extra: str) -> dict[str, Any]:
        self.site.clear_requests()
        args = ["crawl", "--config", str(self.config), "--archive", str(self.root), *FAST, *extra]
        result = cli(*args)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        run = {"result": result, "served": self.site.requests, "texts": self.texts()}
        self.runs.append(run)
        return run

    def texts(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((self.root / "text").glob("*.txt"))}

    def records(self, run_index: int | None = None) -> list[Any]:
        """(type, target URI, headers) of every record, of one run's WARC files if asked."""
        out = []
        for path in sorted((self.root / "warc").glob("*.warc.gz")):
            with path.open("rb") as fh:
                for rec in ArchiveIterator(fh):
                    out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"),
                                rec.rec_headers, path.name))  # fmt: skip
        return out


@pytest.fixture(scope="module")
def archive(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("scheduled")
    site = mockserver.site("scheduled")
    a = Archive(site, site.write_config(root / "outlets.yaml"), root / "archive")
    a.crawl()  # run 1: everything
    a.crawl()  # run 2: nothing changed
    yield a


def article_paths(site: DemoSite) -> set[str]:
    paths = set()
    for article in site.articles:
        for url in (article.url, article.old_url):
            if url:
                paths.add("/" + url.split("/", 3)[3])
    return paths


def test_second_run_adds_no_text_and_downloads_no_archived_article(archive: Archive) -> None:
    first, second = archive.runs[0], archive.runs[1]
    assert second["texts"] == first["texts"]
    fetched = {r.path for r in second["served"]}
    assert "/" in fetched  # hubs are looked at again
    assert not fetched & article_paths(archive.site)


def test_unchanged_hub_pages_answer_304_and_become_revisit_records(archive: Archive) -> None:
    second = archive.runs[1]["served"]
    homes = [r for r in second if r.path == "/"]
    assert homes and all(r.status == 304 and "If-None-Match" in r.headers for r in homes)
    revisits = [
        (uri, h) for kind, uri, h, _ in archive.records()
        if kind == "revisit" and h.get_header("WARC-Profile") == SERVER_NOT_MODIFIED
    ]  # fmt: skip
    assert {uri for uri, _ in revisits} >= {url + "/" for url in archive.site.outlets.values()}
    responses = {
        h.get_header("WARC-Record-ID"): (uri, h.get_header("WARC-Date"))
        for kind, uri, h, _ in archive.records() if kind == "response"
    }  # fmt: skip
    for uri, headers in revisits:
        original = responses[headers.get_header("WARC-Refers-To")]
        assert original == (uri, headers.get_header("WARC-Refers-To-Date"))
        assert headers.get_header("WARC-Refers-To-Target-URI") == uri


def test_changed_hub_page_is_fetched_and_its_new_article_archived(archive: Archive) -> None:
    story = Story(
        outlet="iconnews", path="/news/2025/03/20/ferry-timetable-extended.html",
        title="Ferry timetable extended into the summer",
        paragraphs=(
            "The harbour ferry will keep its extra evening sailings until the end of August, "
            "the operator announced on Thursday after a month of full crossings.",
            "Commuters had asked for the later boats to stay while the bridge repairs continue, "
            "and the council agreed to cover part of the cost from its transport budget.",
            "A review of passenger numbers is planned for September, when the operator will "
            "decide whether the timetable becomes permanent.",
        ),
        author="Test Desk", published="2025-03-20T09:00:00+00:00", section="/section/local",
    )  # fmt: skip
    article = archive.site.publish(story)
    run = archive.crawl()
    served = {(r.path, r.status) for r in run["served"]}
    assert ("/", 200) in served and (story.path, 200) in served
    new = set(run["texts"]) - set(archive.runs[1]["texts"])
    assert len(new) == 1
    (name,) = new
    assert run["texts"][name].decode().startswith(article.title + "\n\n" + story.paragraphs[0])
    assert int(name.split("_")[0]) == len(archive.runs[1]["texts"])  # the next number


def test_refresh_refetches_and_identical_payloads_become_revisit_records(archive: Archive) -> None:
    before = archive.texts()
    run = archive.crawl("--refresh")
    assert run["texts"] == before  # the same articles: no new text
    assert {r.path for r in run["served"]} >= article_paths(archive.site) - {
        "/" + a.url.split("/", 3)[3] for a in archive.site.articles if not a.archivable
    }
    identical = [
        h for kind, _, h, _ in archive.records()
        if kind == "revisit" and h.get_header("WARC-Profile") == IDENTICAL_PAYLOAD
    ]  # fmt: skip
    assert len(identical) >= len([a for a in archive.site.articles if a.archivable])
    digests = {
        h.get_header("WARC-Record-ID"): h.get_header("WARC-Payload-Digest")
        for kind, _, h, _ in archive.records() if kind == "response"
    }  # fmt: skip
    for h in identical:
        assert digests[h.get_header("WARC-Refers-To")] == h.get_header("WARC-Payload-Digest")


def test_every_warc_passes_warcio_check_after_all_runs(archive: Archive) -> None:
    files = sorted((archive.root / "warc").iterdir())
    assert len(files) >= 4 and not [f for f in files if f.name.endswith(".open")]
    warcio = Path(sys.executable).with_name("warcio")
    result = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_run_has_its_log_file_and_status_shows_the_runs(archive: Archive) -> None:
    runs = sorted((archive.root / "runs").glob("*.json"))
    logs = sorted((archive.root / "logs").glob("*.log"))
    assert [p.stem for p in logs] == [p.stem for p in runs]
    assert "started; archive" in logs[0].read_text()
    status = cli("status", "--archive", str(archive.root), "--runs", "10")
    assert status.returncode == 0
    for run in runs:
        assert run.stem in status.stdout
    assert "crawling now: no" in status.stdout
    assert "failures: 0 pending" in status.stdout and "1 gave up" in status.stdout  # the 404
    assert "push: none configured" in status.stdout  # no backlog: nothing to push it to


def wait_for(predicate: Any, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the crawl ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)  # polling a condition, not waiting for luck


def test_a_second_crawl_on_a_locked_archive_exits_3_and_harms_nothing(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.site("in-flight", delay=0.2)
    config = site.write_config(tmp_path / "outlets.yaml")
    root = tmp_path / "archive"
    args = ["crawl", "--config", str(config), "--archive", str(root), *FAST]
    first = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    lock = root / ".lock"
    wait_for(lambda: lock.exists() and f"pid={first.pid}" in lock.read_text(), first, "lock")
    second = cli(*args, timeout=60)
    assert second.returncode == 3
    assert f"pid {first.pid}" in second.stderr and "in use by another crawl" in second.stderr
    assert first.wait(timeout=120) == 0
    titles = {json.loads(p.read_text())["title"] for p in (root / "text").glob("*.json")}
    assert {a.title for a in site.articles if a.archivable} <= titles
    assert len(list((root / "runs").glob("*.json"))) == 1  # the second never started a run


def test_sigterm_finishes_in_flight_closes_warcs_and_writes_the_summary(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.site("in-flight", delay=0.3)
    config = site.write_config(tmp_path / "outlets.yaml")
    root = tmp_path / "archive"
    args = ["crawl", "--config", str(config), "--archive", str(root), *FAST]
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_for(lambda: any((root / "text").glob("*.txt")), proc, "the first text")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    (summary_path,) = (root / "runs").glob("*.json")
    summary = json.loads(summary_path.read_text())
    assert summary["finish_reason"] == "shutdown"
    assert b"(shutdown)" in out  # the summary was printed
    assert [p for p in (root / "warc").iterdir() if p.name.endswith(".open")] == []
    warcio = Path(sys.executable).with_name("warcio")
    files = [str(p) for p in (root / "warc").iterdir()]
    assert subprocess.run([str(warcio), "check", *files], check=False).returncode == 0
    # the next run completes what the stopped one left
    rerun = cli(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    titles = {json.loads(p.read_text())["title"] for p in (root / "text").glob("*.json")}
    assert {a.title for a in site.articles if a.archivable} <= titles


def test_lock_left_by_a_killed_crawl_does_not_block(tmp_path: Path) -> None:
    lock = tmp_path / "archive" / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from storage import lock;"
         f"lock.acquire(Path({str(lock)!r})); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    from storage import lock as lock_module

    with pytest.raises(lock_module.ArchiveLocked, match=f"pid {holder.pid}"):
        lock_module.acquire(lock)
    assert lock_module.holder(lock)["pid"] == str(holder.pid)  # type: ignore[index]
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_module.holder(lock) is None
    lock_module.acquire(lock)  # the dead holder's flock went with it
    lock_module.release(lock)
