"""RunLog: a log file per run, ARCHIVE/logs/<run-id>.log, and the old ones pruned.

Unattended crawls are read afterwards: everything the crawl logs at ``LOG_LEVEL`` also goes to
the run's own file. Files older than ``ARCHIVE_LOG_RETENTION_DAYS`` are removed at start
(0 keeps them all). A write to the file that fails (a full disk) detaches it: the crawl goes
on logging to stderr, and says so once, instead of a traceback per line.

Settings: ``ARCHIVE_DIR``, ``ARCHIVE_LOG_RETENTION_DAYS``, ``LOG_LEVEL``, ``LOG_FORMAT``,
``LOG_DATEFORMAT``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import call_later

from crawler.run import run_id_for
from storage.layout import ArchiveLayout

logger = logging.getLogger(__name__)


class RunLog:
    def __init__(self, layout: ArchiveLayout, run_id: str, level: str, fmt: str, datefmt: str,
                 retention_days: float) -> None:  # fmt: skip
        self.path = layout.run_log_path(run_id)
        layout.logs_dir.mkdir(parents=True, exist_ok=True)
        self._prune(layout, retention_days)
        self.handler = _RunLogHandler(self.path, encoding="utf-8")
        self.handler.setLevel(level)
        self.handler.setFormatter(logging.Formatter(fmt, datefmt))
        logging.getLogger().addHandler(self.handler)
        logger.info("logging this run to %s", self.path)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunLog:
        s = crawler.settings
        ext = cls(
            ArchiveLayout(s["ARCHIVE_DIR"]), run_id_for(crawler), s.get("LOG_LEVEL", "INFO"),
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
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()


class _RunLogHandler(logging.FileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        # logging's own handleError prints a traceback per record: one full disk, thousands
        logging.getLogger().removeHandler(self)
        with contextlib.suppress(OSError):
            self.close()
        error = sys.exc_info()[1]
        logger.error("stopped writing the run log %s: %s", self.baseFilename,
                     getattr(error, "strerror", None) or error)  # fmt: skip
