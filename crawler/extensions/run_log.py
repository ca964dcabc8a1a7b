"""RunLog: a log file per run, ARCHIVE/logs/<run-id>.log, and the old ones pruned.

Unattended crawls are read afterwards: everything the crawl logs at ``LOG_LEVEL`` also goes to
the run's own file. The thread that logs (the reactor, mostly: a line per article stored) only
queues the record, its message made there; the run logs' writer thread (one a process) formats
and writes what has queued up, then flushes each file once. At ``engine_stopped`` (on the next
turn: the run summary still logs) the handler is taken off and the close waits for the writer to
write what was queued and close the file; at interpreter exit the same happens if the engine
never stopped. Files older than ``ARCHIVE_LOG_RETENTION_DAYS`` are removed at start (0 keeps
them all). A write to the file that fails (a full disk) detaches it: the crawl goes on logging
to stderr, and says so once, instead of a traceback per line. No secret is written: the handler
masks them (:class:`crawler.redaction.SecretFilter`, behind the record factory that masks every
record this process makes).

Settings: ``ARCHIVE_DIR``, ``ARCHIVE_LOG_RETENTION_DAYS``, ``LOG_LEVEL``, ``LOG_FORMAT``,
``LOG_DATEFORMAT``.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import call_later

from crawler.redaction import filter_handler
from pipelines.run_id import run_id_for
from storage.layout import ArchiveLayout

logger = logging.getLogger(__name__)


class RunLog:
    def __init__(self, layout: ArchiveLayout, run_id: str, level: str, fmt: str, datefmt: str,
                 retention_days: float) -> None:  # fmt: skip
        self.path = layout.run_log_path(run_id)
        layout.logs_dir.mkdir(parents=True, exist_ok=True)
        self._prune(layout, retention_days)
        self.file = _RunLogFile(self.path, logging.Formatter(fmt, datefmt), self._failed)
        self.handler = _QueueHandler(self.file)
        self.handler.setLevel(level)
        filter_handler(self.handler)  # secrets masked (crawler.redaction), whoever made the record
        logging.getLogger().addHandler(self.handler)
        atexit.register(self._detach)  # a crawl whose engine never stopped: still written out
        logger.info("logging this run to %s", self.path)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunLog:
        s = crawler.settings
        ext = cls(
            ArchiveLayout(s["ARCHIVE_DIR"]), run_id_for(crawler), s.get("LOG_LEVEL"),
            s.get("LOG_FORMAT"), s.get("LOG_DATEFORMAT"),
            s.getfloat("ARCHIVE_LOG_RETENTION_DAYS"),
        )  # fmt: skip
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    @staticmethod
    def _prune(layout: ArchiveLayout, retention_days: float) -> None:
        if retention_days <= 0:
            return
        cutoff = time.time() - retention_days * 86400
        for old in layout.logs_dir.glob("*.log"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)

    def engine_stopped(self) -> None:
        # the other engine_stopped handlers (the run summary) still log: detach on the next turn
        call_later(0, self._detach)

    def _detach(self) -> None:
        """Take the handler off, then let the writer write what is queued and close the file
        (once: engine_stopped and atexit both come here)."""
        logging.getLogger().removeHandler(self.handler)
        self.file.close()
        atexit.unregister(self._detach)

    def _failed(self, error: OSError) -> None:
        """Writer thread: a write failed; records still queued are dropped with the file."""
        # logging's own handleError prints a traceback per record: one full disk, thousands
        logging.getLogger().removeHandler(self.handler)
        logger.error("stopped writing the run log %s: %s", self.path,
                     error.strerror or error)  # fmt: skip


class _QueueHandler(logging.Handler):
    """The root logger's handler: the record's message is made in the thread that logs (its
    arguments may change later), the writing is the writer thread's."""

    def __init__(self, file: _RunLogFile) -> None:
        super().__init__()
        self.file = file

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            record = copy.copy(record)
            record.msg, record.args, record.message = message, None, message
            if record.exc_info:
                if not record.exc_text:
                    record.exc_text = self.file.formatter.formatException(record.exc_info)
                record.exc_info = None  # frames are not kept alive in the queue
            _writer().queue.put((self.file, record))
        except Exception:
            self.handleError(record)


class _RunLogFile:
    """One run log: its file, written by the writer thread only."""

    def __init__(self, path: Path, formatter: logging.Formatter,
                 on_error: Callable[[OSError], None]) -> None:  # fmt: skip
        self.path = path
        self.formatter = formatter
        self.on_error = on_error
        self.closed = threading.Event()
        self._fh: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115 - close()

    def close(self, timeout: float = 30.0) -> None:
        """Once what was queued before is written: flushed and closed (waits, at most
        `timeout`)."""
        if not self.closed.is_set():
            _writer().queue.put((self, None))
            self.closed.wait(timeout)

    def write(self, record: logging.LogRecord) -> None:
        """Writer thread."""
        if self._fh is not None:
            self._fh.write(self.formatter.format(record) + "\n")

    def flush(self) -> None:
        """Writer thread."""
        if self._fh is not None:
            self._fh.flush()

    def shut(self) -> None:
        """Writer thread."""
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()
        self.closed.set()

    def failed(self, error: OSError) -> None:
        """Writer thread: what is queued for it is dropped with the file."""
        self.shut()
        self.on_error(error)


class _Writer(threading.Thread):
    """The run logs' writer, one a process (every crawl of it logs to each run log open):
    writes what has queued up, then flushes each file it wrote to once."""

    def __init__(self) -> None:
        super().__init__(name="run-log-writer", daemon=True)
        self.queue: queue.SimpleQueue[tuple[_RunLogFile, logging.LogRecord | None]] = (
            queue.SimpleQueue()
        )

    def run(self) -> None:
        while True:
            batch = [self.queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self.queue.get_nowait())
            self.write(batch)

    def write(self, batch: list[tuple[_RunLogFile, logging.LogRecord | None]]) -> None:
        written: dict[_RunLogFile, None] = {}
        for file, record in batch:
            try:
                if record is None:  # close() asked for: all before it is written
                    file.flush()
                    file.shut()
                    written.pop(file, None)
                elif not file.closed.is_set():
                    file.write(record)
                    written[file] = None
            except OSError as exc:
                written.pop(file, None)
                file.failed(exc)
            except Exception:  # a record that cannot be formatted: that line, not the writer
                with contextlib.suppress(Exception):
                    traceback.print_exc(file=sys.stderr)
        for file in written:
            try:
                file.flush()
            except OSError as exc:
                file.failed(exc)


_WRITER: _Writer | None = None
_WRITER_LOCK = threading.Lock()


def _writer() -> _Writer:
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None or not _WRITER.is_alive():
            _WRITER = _Writer()
            _WRITER.start()
        return _WRITER
