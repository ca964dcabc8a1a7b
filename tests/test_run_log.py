"""The run log: lines queued by the thread that logs, written by the run log's own thread."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from crawler.extensions import run_log
from crawler.extensions.run_log import RunLog
from tests.helpers import project_crawler

FMT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


def make_log(tmp_path: Path) -> RunLog:
    crawler = project_crawler(ARCHIVE_DIR=str(tmp_path), ARCHIVE_RUN_ID="run-1", LOG_LEVEL="INFO",
                              LOG_FORMAT=FMT, LOG_DATEFORMAT="%Y-%m-%d %H:%M:%S",
                              ARCHIVE_LOG_RETENTION_DAYS=0)  # fmt: skip
    return RunLog.from_crawler(crawler)


def test_lines_are_written_off_the_logging_thread_and_none_is_lost_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger's level, as Scrapy sets it
    writers: list[tuple[Any, str]] = []
    flushes: list[Any] = []
    real_write, real_flush = run_log._RunLogFile.write, run_log._RunLogFile.flush

    def watched_write(self: Any, record: logging.LogRecord) -> None:
        writers.append((self, threading.current_thread().name))
        real_write(self, record)

    def watched_flush(self: Any) -> None:
        flushes.append(self)
        real_flush(self)

    monkeypatch.setattr(run_log._RunLogFile, "write", watched_write)
    monkeypatch.setattr(run_log._RunLogFile, "flush", watched_flush)
    log = make_log(tmp_path)
    news = logging.getLogger("pipelines.store_text")
    items = {"n": 0}
    for i in range(2000):
        items["n"] = i
        news.info("written %s -> %s", f"http://news.example/{i}", items["n"])
    news.debug("below LOG_LEVEL: not in the file")
    try:
        raise ValueError("a bad page")
    except ValueError:
        news.exception("extraction failed")
    log._detach()  # engine_stopped's: what is queued is written, the file closed
    log._detach()  # atexit's, after it: nothing left to do
    news.info("after the close: stderr only")
    lines = log.path.read_text(encoding="utf-8").splitlines()
    written = [ln for ln in lines if " written " in ln]
    assert [ln.rsplit(" -> ", 1)[1] for ln in written] == [str(i) for i in range(2000)]
    assert "[pipelines.store_text] INFO: written http://news.example/0 -> 0" in written[0]
    assert any("ERROR: extraction failed" in ln for ln in lines)
    assert any("ValueError: a bad page" in ln for ln in lines)  # the traceback, made at once
    assert not any("below LOG_LEVEL" in ln or "after the close" in ln for ln in lines)
    ours = [name for file, name in writers if file is log.file]
    # the 2000 lines, the exception and "logging this run to"
    assert set(ours) == {"run-log-writer"} and len(ours) == 2002
    # lines written as they queued up together, flushed once for each lot
    assert 0 < len([f for f in flushes if f is log.file]) < 2000


def test_a_failed_write_detaches_the_log_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_write = run_log._RunLogFile.write
    log: RunLog | None = None

    def full(self: Any, record: logging.LogRecord) -> None:
        if log is not None and self is log.file:
            raise OSError(28, "No space left on device")
        real_write(self, record)

    monkeypatch.setattr(run_log._RunLogFile, "write", full)
    log = make_log(tmp_path)
    with caplog.at_level(logging.INFO):
        for i in range(50):
            logging.getLogger("crawler").info("line %d", i)
        assert log.file.closed.wait(10)  # the file is dropped at its first failed write
        assert log.handler not in logging.getLogger().handlers
        log._detach()
    said = [r.getMessage() for r in caplog.records]
    errors = [m for m in said if "stopped writing the run log" in m and str(log.path) in m]
    assert len(errors) == 1 and "No space left on device" in errors[0]
