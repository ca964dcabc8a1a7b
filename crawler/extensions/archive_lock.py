"""ArchiveLock: hold ARCHIVE/.lock for the life of the crawl (see storage.lock).

The ``newsarchiver`` commands and ``scrapy crawl outlets`` (:mod:`crawler.commands.crawl`)
take the lock themselves before Scrapy starts, to exit 3 with a clear message; this extension
makes any other way of running the crawl (a script's ``CrawlerProcess``) hold it too. It is the
first extension built, so nothing touches the archive before the lock is held, and it creates
the manifest before the other components open it. Being first, it also checks the settings
(:func:`crawler.settings_check.check_settings`): a bad one stops such a crawl before the archive
directory is created; and it masks the settings' secrets in the logs
(:func:`crawler.redaction.protect`) before Scrapy logs the settings it was given.

Settings: ``ARCHIVE_DIR`` (and all of those the check reads, and the secret ones).
"""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.redaction import protect
from crawler.settings_check import check_settings
from storage import lock
from storage.layout import ArchiveLayout
from storage.manifest import Manifest


class ArchiveLock:
    def __init__(self, layout: ArchiveLayout) -> None:
        self.layout = layout
        lock.acquire(layout.lock_path)  # raises ArchiveLocked: the crawl does not start
        # Create the manifest (schema, WAL) here, alone, before the components that open it
        # from several threads at once: a new file's switch to WAL would fail for some of them.
        layout.ensure()
        Manifest(layout.manifest_path).close()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLock:
        protect(crawler.settings)  # a script's CrawlerProcess: Scrapy logs its settings next
        check_settings(crawler.settings)
        ext = cls(ArchiveLayout(crawler.settings["ARCHIVE_DIR"]))
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_stopped(self) -> None:
        lock.release(self.layout.lock_path)
