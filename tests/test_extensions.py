"""The crawl's extensions, each built by ``from_crawler`` with the project's settings and driven
by the signals Scrapy (or the project's components) would send: the files they leave in the
archive and the stats counters a user reads after a crawl.

No reactor runs here: an extension's writer thread is waited for by shutting its executor down,
as its ``engine_stopped`` would."""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.internet import defer
from twisted.python.failure import Failure

from crawler.extensions.archive_lock import ArchiveLock
from crawler.extensions.disk_guard import DiskGuard
from crawler.extensions.failures import FailureRecorder
from crawler.extensions.progress import Progress
from crawler.extensions.run_log import RunLog
from crawler.extensions.run_summary import RunSummary
from crawler.outlets import CrawlConfig, parse_config
from crawler.settings_check import SettingsError
from crawler.spiders.outlets import OutletsSpider
from pipelines import signals as na_signals
from storage import lock
from storage.diskspace import DiskFull
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from tests.helpers import project_crawler

OUTLETS = parse_config({"outlets": [
    {"name": "harbour", "start_urls": ["https://harbour.example/"]},
    {"name": "valley", "start_urls": ["https://valley.example/"]},
]}).outlets  # fmt: skip


def stat(crawler: Crawler, key: str) -> Any:
    assert crawler.stats is not None
    return crawler.stats.get_value(key)


def outlets_crawler(archive: Path, **settings: Any) -> Crawler:
    """A crawler whose spider is the project's, on the two outlets above, run "run-1"."""
    return project_crawler(OutletsSpider, spider_args={"crawl_config": CrawlConfig(OUTLETS)},
                           ARCHIVE_DIR=str(archive), ARCHIVE_RUN_ID="run-1",
                           **settings)  # fmt: skip


def send(crawler: Crawler, signal: object, **kwargs: Any) -> None:
    """Send `signal` as Scrapy would; a handler that raises fails the test (Scrapy would only
    log it). The extension must be kept referenced: Scrapy's signals hold handlers weakly."""
    for _receiver, result in crawler.signals.send_catch_log(signal, **kwargs):
        if isinstance(result, Failure):
            result.raiseException()


# --- DiskGuard ------------------------------------------------------------------------------


class Engine:
    """The part of Scrapy's engine the disk guard uses: closing the spider with a reason."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    def close_spider_async(self, reason: str) -> defer.Deferred[None]:
        # recorded when called, and a fired Deferred rather than a coroutine: on the asyncio
        # reactor (installed by an earlier test in the session) a coroutine would only run once
        # the loop does, which it never does here
        self.closed.append(reason)
        return defer.succeed(None)


def guarded(tmp_path: Path, floor_mb: float) -> tuple[Crawler, DiskGuard, Engine]:
    from twisted.internet import reactor  # noqa: F401 - the engine's close runs as on a reactor

    crawler = project_crawler(ARCHIVE_DIR=str(tmp_path), ARCHIVE_MIN_FREE_MB=floor_mb)
    guard = DiskGuard.from_crawler(crawler)
    engine = crawler.engine = Engine()  # type: ignore[assignment]
    return crawler, guard, engine


def test_a_disk_below_the_floor_at_start_closes_the_spider_as_disk_full(tmp_path: Path) -> None:
    crawler, _, engine = guarded(tmp_path, floor_mb=1e12)  # an exabyte: never free
    send(crawler, signals.spider_opened, spider=crawler.spider)
    assert engine.closed == ["disk_full"]
    assert stat(crawler, "disk/full/start") == 1
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize / 1e6
    assert stat(crawler, "disk/free_mb_at_stop") == pytest.approx(free, rel=0.01)
    assert "below the floor of 1000000000000 MB" in stat(crawler, "disk/error")


def test_a_disk_with_room_at_start_lets_the_crawl_run(tmp_path: Path) -> None:
    crawler, guard, engine = guarded(tmp_path, floor_mb=0.001)
    send(crawler, signals.spider_opened, spider=crawler.spider)
    assert engine.closed == [] and guard.error is None
    assert crawler.stats is not None and not crawler.stats.get_stats()


def test_the_first_full_disk_stops_the_crawl_once_later_ones_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crawler, _, engine = guarded(tmp_path, floor_mb=0.001)
    full = DiskFull(tmp_path / "warc", 5_000_000, 100_000_000)
    with caplog.at_level(logging.CRITICAL, "crawler.extensions.disk_guard"):
        send(crawler, na_signals.disk_full, error=full, source="warc")
        send(crawler, na_signals.disk_full, error=full, source="warc")
        send(crawler, na_signals.disk_full, error=full, source="text")
    assert engine.closed == ["disk_full"]
    assert [r.getMessage() for r in caplog.records] == [f"stopping the crawl: {full}"]
    assert (stat(crawler, "disk/full/warc"), stat(crawler, "disk/full/text")) == (2, 1)
    assert stat(crawler, "disk/free_mb_at_stop") == 5.0


# --- Progress -------------------------------------------------------------------------------


class Queue:
    """The part of Scrapy's engine the progress line reads: its scheduler's length."""

    scheduler = [f"https://harbour.example/n/{n}" for n in range(4)]


def test_the_progress_line_counts_archived_duplicates_and_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    crawler = project_crawler(LOGSTATS_INTERVAL=60.0)
    progress = Progress.from_crawler(crawler)
    crawler.engine = Queue()  # type: ignore[assignment]
    stats = crawler.stats
    assert stats is not None and crawler.spider is not None
    progress.pagesprev = progress.itemsprev = 0
    for key, value in {"response_received_count": 30, "text/written": 12, "text/duplicate": 3,
                       "failures/http_404": 2, "failures/timeout": 1,
                       "failures/healed": 5}.items():  # fmt: skip
        stats.set_value(key, value)
    with caplog.at_level(logging.INFO, "crawler.extensions.progress"):
        progress.log(crawler.spider)
    assert [r.getMessage() for r in caplog.records] == [
        "progress: 30 pages (30/min), queue 4, archived 12, duplicates 3, failed 3"
    ]  # healed URLs are not failures


# --- RunSummary -----------------------------------------------------------------------------


def page(crawler: Crawler, url: str, outlet: str, **meta: Any) -> None:
    """One page through the signals the engine sends for it: scheduled, downloaded."""
    request = Request(url, meta={"outlet": outlet, **meta})
    send(crawler, signals.request_scheduled, request=request, spider=crawler.spider)
    send(crawler, signals.response_downloaded, response=Response(url, request=request),
         request=request, spider=crawler.spider)  # fmt: skip


def test_the_run_summary_counts_each_outlets_pages_and_records_the_run(tmp_path: Path) -> None:
    crawler = outlets_crawler(tmp_path / "archive")
    summary = RunSummary.from_crawler(crawler)
    spider = crawler.spider
    send(crawler, signals.spider_opened, spider=spider)
    page(crawler, "https://harbour.example/", "harbour", kind="hub")
    page(crawler, "https://harbour.example/n/1", "harbour", kind="page", retry_times=1)
    page(crawler, "https://valley.example/", "valley", kind="hub")
    page(crawler, "https://cdn.example/s.css", "harbour", kind="requisite")  # not a page
    dropped = Request("https://harbour.example/", meta={"outlet": "harbour"})
    send(crawler, signals.request_scheduled, request=dropped, spider=spider)
    send(crawler, signals.request_dropped, request=dropped, spider=spider)  # a duplicate
    stats = crawler.stats
    assert stats is not None
    counted = {"outlet/harbour/archived": 1, "outlet/harbour/articles": 1,
               "outlet/valley/failed/http_404": 2, "warc/files": 1, "warc/records/response": 4,
               "warc/records/revisit": 1, "requisites/fetched/stylesheet": 1,
               "requisites/bytes": 900}  # fmt: skip
    for key, value in counted.items():  # what the other components count
        stats.set_value(key, value)
    send(crawler, signals.spider_closed, spider=spider, reason="finished")
    assert summary.summary == {}  # written at engine_stopped, after the last failures
    send(crawler, signals.engine_stopped)

    archive = tmp_path / "archive"
    written = json.loads((archive / "runs" / "run-1.json").read_text(encoding="utf-8"))
    assert written == summary.summary
    harbour, valley = written["outlets"]["harbour"], written["outlets"]["valley"]
    assert {
        k: harbour[k] for k in ("discovered", "fetched", "retried", "articles", "archived")
    } == {"discovered": 2, "fetched": 2, "retried": 1, "articles": 1, "archived": 1}
    assert (valley["fetched"], valley["failed"]) == (1, {"http_404": 2})
    totals = written["totals"]
    assert (totals["fetched"], totals["failed"], totals["warc_records"]) == (3, 2, 4)
    assert totals["requisites"] == {"fetched": 1, "bytes": 900, "failed": {}}
    assert (written["run_id"], written["finish_reason"]) == ("run-1", "finished")
    manifest = Manifest(archive / "manifest.sqlite")
    try:
        (run,) = manifest.query("SELECT run_id, status FROM runs")
    finally:
        manifest.close()
    assert tuple(run) == ("run-1", "completed")


def test_a_run_left_running_is_marked_killed_by_the_next(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path / "archive")
    layout.ensure()
    manifest = Manifest(layout.manifest_path)
    manifest.start_run("run-0", "2026-05-01T00:00:00Z", {})  # a run killed midway
    manifest.close()
    crawler = outlets_crawler(layout.root)
    summary = RunSummary.from_crawler(crawler)
    send(crawler, signals.spider_opened, spider=crawler.spider)
    assert stat(crawler, "runs/killed") == 1
    send(crawler, signals.spider_closed, spider=crawler.spider, reason="shutdown")
    send(crawler, signals.engine_stopped)
    manifest = Manifest(layout.manifest_path)
    try:
        runs = {r["run_id"]: r["status"] for r in manifest.query("SELECT * FROM runs")}
    finally:
        manifest.close()
    assert runs == {"run-0": "killed", "run-1": "shutdown"}
    assert summary.summary["finish_reason"] == "shutdown"


# --- FailureRecorder ------------------------------------------------------------------------


def recorder(archive: Path) -> tuple[Crawler, FailureRecorder]:
    crawler = outlets_crawler(archive)
    ext = FailureRecorder.from_crawler(crawler)
    ext._open()  # spider_opened's, in this thread
    return crawler, ext


def written_out(ext: FailureRecorder) -> None:
    """What engine_stopped does, without a reactor: the writer's queue done, the manifest shut."""
    ext._writer.shutdown()
    ext._close()


def test_a_failed_page_is_listed_counted_and_healed(tmp_path: Path) -> None:
    crawler, ext = recorder(tmp_path / "archive")
    send(crawler, na_signals.page_failed, url="https://harbour.example/n/1", outlet="harbour",
         reason="http_503", status=503, attempts=3, detail="", kind="page")  # fmt: skip
    send(crawler, na_signals.page_failed, url="https://valley.example/n/2", outlet="valley",
         reason="timeout", kind="page")  # fmt: skip
    send(crawler, na_signals.page_ok, url="https://valley.example/n/2")
    send(crawler, na_signals.page_ok, url="https://harbour.example/never-failed")
    written_out(ext)

    assert stat(crawler, "failures/http_503") == 1 and stat(crawler, "failures/timeout") == 1
    assert stat(crawler, "outlet/harbour/failed/http_503") == 1
    assert stat(crawler, "failures/healed") == 1  # only a URL that was listed heals
    manifest = Manifest(tmp_path / "archive" / "manifest.sqlite")
    try:
        (row,) = manifest.failures()
    finally:
        manifest.close()
    assert (row["url"], row["reason"], row["status"], row["outlet"]) == (
        "https://harbour.example/n/1", "http_503", 503, "harbour")  # fmt: skip
    lines = (tmp_path / "archive" / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(ln)["url"] for ln in lines][:2] == [
        "https://harbour.example/n/1", "https://valley.example/n/2"]  # fmt: skip


def test_a_requisites_failure_is_counted_never_listed(tmp_path: Path) -> None:
    crawler, ext = recorder(tmp_path / "archive")
    send(crawler, na_signals.page_failed, url="https://cdn.example/s.css", outlet="harbour",
         reason="http_404", status=404, kind="requisite")  # fmt: skip
    written_out(ext)
    assert stat(crawler, "requisites/failed/http_404") == 1
    assert stat(crawler, "failures/http_404") is None
    assert stat(crawler, "outlet/harbour/failed/http_404") is None
    manifest = Manifest(tmp_path / "archive" / "manifest.sqlite")
    try:
        assert manifest.failures() == []
    finally:
        manifest.close()


def test_a_failure_record_that_cannot_be_written_is_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crawler, ext = recorder(tmp_path / "archive")
    with caplog.at_level(logging.DEBUG, "crawler.extensions.failures"):
        ext._write_failed(Failure(OSError(errno.ENOSPC, "No space left on device")))
        ext._write_failed(Failure(OSError(errno.EIO, "I/O error")))
    written_out(ext)
    assert stat(crawler, "failure_records/errors") == 2
    assert stat(crawler, "failure_records/errors/disk_full") == 1
    # a full disk is the disk guard's to say, once; any other error is an error
    assert [r.levelname for r in caplog.records] == ["DEBUG", "ERROR"]


# --- ArchiveLock ----------------------------------------------------------------------------


def test_the_lock_is_held_from_the_extensions_start_to_the_engines_stop(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    crawler = project_crawler(ARCHIVE_DIR=str(archive))
    ext = ArchiveLock.from_crawler(crawler)
    layout = ArchiveLayout(archive)
    assert lock.holder(layout.lock_path) is not None
    assert layout.manifest_path.exists()  # made before the components that open it
    send(crawler, signals.engine_stopped)
    assert lock.holder(layout.lock_path) is None
    assert ext.layout.root == archive


def test_a_bad_setting_stops_the_crawl_before_the_archive_is_made(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with pytest.raises(SettingsError, match="CONCURRENT_REQUESTS"):
        ArchiveLock.from_crawler(project_crawler(ARCHIVE_DIR=str(archive), CONCURRENT_REQUESTS=0))
    assert not archive.exists()


# --- RunLog ---------------------------------------------------------------------------------


def test_the_run_log_is_named_by_the_run_and_old_logs_are_pruned(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path)
    layout.logs_dir.mkdir(parents=True)
    old, recent = layout.logs_dir / "run-old.log", layout.logs_dir / "run-recent.log"
    for path, age_days in ((old, 31), (recent, 29)):
        path.write_text("earlier run\n", encoding="utf-8")
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    crawler = project_crawler(ARCHIVE_DIR=str(tmp_path), ARCHIVE_RUN_ID="run-1",
                              ARCHIVE_LOG_RETENTION_DAYS=30)  # fmt: skip
    log = RunLog.from_crawler(crawler)
    try:
        logging.getLogger("crawler.test").warning("a line of this run")
    finally:
        log._detach()  # what engine_stopped does on the next turn
    assert log.path == layout.logs_dir / "run-1.log"
    assert not old.exists() and recent.exists()
    assert "WARNING: a line of this run" in log.path.read_text(encoding="utf-8")


def test_the_summary_names_every_outlet_of_the_config_even_one_never_fetched(
    tmp_path: Path,
) -> None:
    crawler = outlets_crawler(tmp_path / "archive")
    summary = RunSummary.from_crawler(crawler)
    assert isinstance(crawler.spider, Spider)
    built = summary.build(crawler.spider, "finished")
    assert sorted(built["outlets"]) == ["harbour", "valley"]
    assert built["outlets"]["valley"]["fetched"] == 0
