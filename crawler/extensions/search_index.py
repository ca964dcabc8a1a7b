"""SearchIndexer: keep ARCHIVE/search.sqlite (:class:`storage.search.SearchIndex`) up to date
as the crawl stores texts.

Each ``text_stored`` signal (:mod:`pipelines.signals`, on the reactor) only queues the text's row:
its title and body, the page's URL, outlet and published date. The indexer's own thread writes
what has queued up in one transaction (a batch: at most :data:`BATCH` texts), so a busy crawl
commits seldom and a quiet one at once; a text stored before (``duplicate``: another URL, often
another outlet's syndicated copy) adds a copy to the text's row. When the spider opens, that
thread first brings the index up to date with the manifest (:meth:`SearchIndex.sync`): texts a
killed crawl stored but never indexed (or stored while the index was off) are added from their
files, texts no longer current (superseded by ``reextract``) are removed. At spider close the
thread writes what is queued, closes the file, and the close waits for it. A crawl killed with
SIGKILL leaves the index as of its last commit (sqlite's WAL); the next crawl, or
``newsarchiver index --search``, adds the rest.

An index that cannot be written (its disk full, the file broken) costs the search rows, never the
crawl: the batch is counted failed and logged, and the next crawl's sync adds its texts.

Settings: ``SEARCH_INDEX_ENABLED``, ``TEXT_ENABLED`` (no texts, nothing to index),
``ARCHIVE_DIR``. Stats: ``search/indexed`` (this run's texts put in the index),
``search/copies`` (another page of an indexed text), ``search/caught_up`` (texts a crawl before
stored and the index missed, added at open), ``search/removed`` (no longer current, at open),
``search/commits``, ``search/failed`` (texts or copies not written: see the log),
``search/skipped/no_text_file`` (a copy of a text whose file is not in this archive: another
worker's, in a distributed crawl).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from concurrent.futures import Future

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future

from pipelines import signals as na_signals
from pipelines.items import ArticleItem
from pipelines.twisted_util import deferred_from_future
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.search import Copy, Doc, SearchIndex, split_text

logger = logging.getLogger(__name__)

BATCH = 500  # texts a transaction at most


class _Row:
    """What a text_stored signal queues: made on the reactor, written by the thread."""

    __slots__ = ("body", "copy", "duplicate", "sha256", "text_file", "title")

    def __init__(self, sha256: str, text_file: str, title: str, body: str, copy: Copy,
                 duplicate: bool) -> None:  # fmt: skip
        self.sha256, self.text_file, self.title, self.body = sha256, text_file, title, body
        self.copy, self.duplicate = copy, duplicate


class SearchIndexer:
    def __init__(self, layout: ArchiveLayout, stats: StatsCollector) -> None:
        self.layout = layout
        self.stats = stats
        self.path = layout.root / "search.sqlite"
        self._queue: queue.SimpleQueue[_Row | Future[None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SearchIndexer:
        settings = crawler.settings
        if not settings.getbool("SEARCH_INDEX_ENABLED"):
            raise NotConfigured("SEARCH_INDEX_ENABLED is off")
        if not settings.getbool("TEXT_ENABLED"):
            raise NotConfigured("TEXT_ENABLED is off: no texts to index")
        assert crawler.stats is not None
        ext = cls(ArchiveLayout(settings["ARCHIVE_DIR"]), crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.text_stored, signal=na_signals.text_stored)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # --- on the reactor -----------------------------------------------------------------------
    def spider_opened(self) -> None:
        self._thread = threading.Thread(target=self._run, name="search-index", daemon=True)
        self._thread.start()

    def text_stored(self, item: ArticleItem, stem: str, sha256: str, text_file: str,
                    outcome: str) -> None:  # fmt: skip
        article = item.article
        self._queue.put(_Row(
            sha256, text_file, article.title, "\n\n".join(article.paragraphs),
            Copy(item.url, item.outlet, article.published), outcome != "written",
        ))  # fmt: skip

    async def spider_closed(self) -> None:
        """Wait for the thread to write what is queued and close the file."""
        if self._thread is None:
            return
        done: Future[None] = Future()
        self._queue.put(done)
        await maybe_deferred_to_future(deferred_from_future(done))

    # --- in the indexer's thread --------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        """Counted on the reactor (the progress line iterates the stats there)."""
        if n:
            from twisted.internet import reactor

            reactor.callFromThread(self.stats.inc_value, key, n)

    def _run(self) -> None:
        index: SearchIndex | None = None
        manifest: Manifest | None = None
        try:
            index = SearchIndex(self.path)
            manifest = Manifest(self.layout.manifest_path)
            self._catch_up(index, manifest)
        except (OSError, sqlite3.Error) as exc:
            logger.error("search index %s not opened: %s (`newsarchiver index --search` "
                         "makes it again)", self.path, exc)  # fmt: skip
            index = None
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [r for r in batch if isinstance(r, _Row)]
            if rows and index is not None and manifest is not None:
                self._write(index, manifest, rows)
            elif rows:
                self._count("search/failed", len(rows))
            closing = [f for f in batch if isinstance(f, Future)]
            if closing:
                for db in (index, manifest):
                    if db is not None:
                        db.close()
                for fut in closing:
                    fut.set_result(None)
                return

    def _catch_up(self, index: SearchIndex, manifest: Manifest) -> None:
        done = index.sync(manifest, self.layout.text_dir)
        self._count("search/caught_up", done.added)
        self._count("search/removed", done.removed)
        if done.added or done.removed:
            logger.info("search index caught up: %d text(s) added, %d removed", done.added,
                        done.removed)  # fmt: skip
        for stem in done.missing:
            logger.warning("search index: text %s is in the manifest but its file is not "
                           "here", stem)  # fmt: skip

    def _write(self, index: SearchIndex, manifest: Manifest, rows: list[_Row]) -> None:
        docs: dict[int, Doc] = {}
        copies: list[tuple[int, Copy]] = []
        lost = 0
        try:
            for row in rows:
                text = manifest.text_by_sha(row.sha256)
                if text is None:  # forgotten since (it cannot be, under the lock): skip it
                    lost += 1
                    continue
                if not row.duplicate or not (text.id in docs or index.has(text.id)):
                    if row.duplicate:  # a copy of a text the index lacks: from its file
                        doc = self._from_file(manifest, text.id, row.text_file, text.stem)
                        if doc is None:
                            continue
                        docs[text.id] = doc
                    else:
                        docs[text.id] = Doc(text.id, row.text_file, row.title, row.body,
                                            (row.copy,))  # fmt: skip
                    continue
                copies.append((text.id, row.copy))
            index.write(docs.values(), copies)
        except (OSError, sqlite3.Error) as exc:
            self._count("search/failed", len(rows))
            logger.error("search index: %d text(s) not written: %s (the next crawl, or "
                         "`newsarchiver index --search`, adds them)", len(rows), exc)  # fmt: skip
            return
        self._count("search/failed", lost)
        self._count("search/commits")
        self._count("search/indexed", len(docs))
        self._count("search/copies", len(copies))

    def _from_file(self, manifest: Manifest, text_id: int, text_file: str,
                   stem: str) -> Doc | None:  # fmt: skip
        """The text as its file has it, with every copy the manifest lists."""
        try:
            title, body = split_text(self.layout.text_path(stem).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            self._count("search/skipped/no_text_file")
            return None
        copies = tuple(Copy(r["url"], r["outlet"], r["published"])
                       for r in manifest.articles_for_text(text_id))  # fmt: skip
        return Doc(text_id, text_file, title, body, copies)
