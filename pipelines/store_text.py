"""StoreTextPipeline: each article's clean text into the archive (:class:`storage.texts.TextStore`).

The store (``text/NNN_HASH.txt`` + ``NNN_HASH.json``, each text once, crash-safe; see
:mod:`storage.texts`) does the files and the manifest; this item pipeline runs it in one writer
thread off the reactor (:class:`~pipelines.writer_thread.WriterThread`), counts, logs and
sends the signals. A page without article text is a ``page_failed`` signal (the failure
recorder lists it); a stored one is ``page_ok`` (a failure listed for it has healed), then
``text_stored``. A page whose WARC record was not written is not stored (no text without
evidence).

In a distributed crawl the number and the "stored already?" answer come from the crawl's
:class:`~pipelines.text_numbers.TextNumbers`, the class ``TEXT_NUMBERS_CLASS`` names (the
cluster add-on sets it: Redis, from the writer thread; numbers are reserved a few at a time and
those left unused are given back at the close if no other worker took numbers after them): a
text another worker stored or is writing is a duplicate here, recorded with state 'elsewhere'
(:mod:`storage.merge` credits it); a text claimed by a worker that died is taken over under its
number. The text's "stored" mark is shared as soon as its files are in place; its archived URLs
in batches (``mark_archived``, written behind). Numbering unreachable
(:class:`~pipelines.text_numbers.TextNumbersUnavailable`): the page is recorded as a failure
(``cluster_unavailable``, due at once), never half-stored.

Settings: ``TEXT_ENABLED``, ``TEXT_FSYNC``, ``ARCHIVE_DIR``, ``TEXT_NUMBERS_CLASS``.
Stats: ``text/written``, ``text/duplicate``, ``text/failed/<reason>``, ``text/recovered``,
``text/failed/warc_error`` (its WARC record was not written: no text without evidence),
``text/failed/disk_full``, ``text/elsewhere`` (duplicates of another worker's text),
``text/canonical_moved`` (a copy more canonical than the one the sidecar named),
``cluster/text_numbers/{returned,skipped}`` (reserved, unused at the close: given back, or left
as a gap because another worker reserved numbers after them), per outlet
``outlet/<name>/archived`` (a new text from its page), ``outlet/<name>/duplicates`` (its page
had a text stored already) and ``outlet/<name>/syndicated`` (its pages this run whose text
another outlet published too: counted for each outlet once the second one's copy is in).

A stored article's item goes on with ``item.stored`` (:class:`~storage.texts.StoredText`: the
text file, its SHA-256, whether it was a duplicate, the WARC record), from which
:class:`~pipelines.output_item.OutputItemPipeline` makes the item feeds get.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import build_from_crawler, load_object

from pipelines import page_failure
from pipelines import signals as na_signals
from pipelines.items import ArticleItem
from pipelines.run_id import run_id_for
from pipelines.text_numbers import TextNumbers, TextNumbersUnavailable
from pipelines.writer_thread import WriterThread
from storage.diskspace import full_error, is_disk_full
from storage.texts import StoredText, TextStore
from storage.url_identity import canonical_or_none
from storage.warc import WarcRef

logger = logging.getLogger(__name__)


class StoreTextPipeline:
    def __init__(
        self,
        root: str,
        run_id: str,
        stats: StatsCollector,
        fsync: bool,  # TEXT_FSYNC
        signals: SignalManager | None = None,
        numbers: TextNumbers | None = None,
    ) -> None:
        self.numbers = numbers
        self.signals = signals
        self.stats = stats
        self._counts: list[tuple[str, int]] = []  # stats counted in the writer thread (_count)
        # its messages under this pipeline's name, as a crawl's log has always shown them
        self.store = TextStore(root, run_id, fsync=fsync, numbers=numbers, count=self._count,
                               log=logger)  # fmt: skip
        self.layout = self.store.layout
        self._writer = WriterThread("text-writer")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreTextPipeline:
        settings = crawler.settings
        if not settings.getbool("TEXT_ENABLED"):
            raise NotConfigured("TEXT_ENABLED is off")
        assert crawler.stats is not None
        numbers: TextNumbers | None = None
        if settings.get("TEXT_NUMBERS_CLASS"):  # the cluster add-on's (crawler.cluster)
            numbers = build_from_crawler(load_object(settings["TEXT_NUMBERS_CLASS"]), crawler)
        return cls(settings["ARCHIVE_DIR"], run_id_for(crawler), crawler.stats,
                   fsync=settings.getbool("TEXT_FSYNC"), signals=crawler.signals,
                   numbers=numbers)  # fmt: skip

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        try:
            return await self._writer.run(fn, *args)
        finally:
            # counted here, on the reactor: the progress line reads the stats there, and a key
            # added from the writer thread while it iterates them would break that loop
            while self._counts:
                self.stats.inc_value(*self._counts.pop())

    def _count(self, key: str, n: int = 1) -> None:
        """Writer thread: count `key` once the call returns to the reactor."""
        self._counts.append((key, n))  # list.append is atomic

    async def open_spider(self) -> None:
        await self._in_thread(self._open)

    def _open(self) -> None:
        self.store.open()
        if self.numbers is not None:
            stored = self.store.stored_texts()
            if stored and self.numbers.text_seq() <= stored[-1][1]:
                # the shared state knows fewer numbers than this archive used (a new Redis, or
                # this worker's first distributed run): tell it, so that none is handed out twice
                self.numbers.sync_texts(stored)

    async def close_spider(self) -> None:
        try:
            await self._in_thread(self._close)
        finally:
            self._writer.shutdown()

    def _close(self) -> None:
        self.store.close()
        if self.numbers is not None:
            try:
                unused, given_back = self.numbers.return_numbers()
            except TextNumbersUnavailable as exc:
                unused, given_back = 0, False
                self._count("cluster/redis_errors/text_numbers")
                logger.warning("could not give back reserved text numbers: %s", exc)
            if unused:
                self._count(
                    f"cluster/text_numbers/{'returned' if given_back else 'skipped'}", unused
                )
                if not given_back:
                    logger.info("%d reserved text number(s) unused and skipped: another worker "
                                "took numbers after them", unused)  # fmt: skip

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        warc_ref: WarcRef | None = None
        if item.warc is not None:
            try:
                warc_ref = await maybe_deferred_to_future(item.warc.wait())
            except Exception as exc:  # counted and logged by WarcCapture
                # No evidence, no text: a text whose WARC record is not on disk could never be
                # shown to be what the outlet served. Listed, due at once, fetched again.
                reason = "disk_full" if is_disk_full(exc) else "warc_error"
                self.stats.inc_value(f"text/failed/{reason}")
                self._page_failed(item, reason, f"WARC capture failed: {exc}"[:500], due_now=True)
                raise DropItem(f"{item.final_url} not stored: its WARC capture failed") from None
        if item.article is None:
            reason, detail = item.no_article or ("extraction_empty", "")
            self.stats.inc_value(f"text/failed/{reason}")
            self._page_failed(item, reason, detail)
            raise DropItem(f"no article text in {item.final_url} ({reason})")
        try:
            stored: StoredText = await self._in_thread(self._store, item, warc_ref)
        except TextNumbersUnavailable as exc:
            self.stats.inc_value("text/failed/cluster_unavailable")
            self._page_failed(item, "cluster_unavailable", f"Redis: {exc}"[:500], due_now=True)
            raise DropItem(f"{item.final_url} not stored: Redis unavailable ({exc})") from None
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            self.stats.inc_value("text/failed/disk_full")
            self._signal(na_signals.disk_full, error=full_error(exc, self.layout.root),
                         source="text")  # fmt: skip
            self._page_failed(item, "disk_full", f"text not stored: {exc}"[:500], due_now=True)
            raise DropItem(f"{item.final_url} not stored: the disk is full") from None
        outcome, stem, sha = stored.outcome, stored.stem, stored.sha256
        if outcome == "elsewhere":
            self.stats.inc_value("text/elsewhere")
            outcome = "duplicate"
        self.stats.inc_value(f"text/{outcome}")
        self.stats.inc_value(
            f"outlet/{item.outlet}/{'archived' if outcome == 'written' else 'duplicates'}"
        )
        logger.info("%s %s -> %s", outcome, item.final_url, stem)
        for url in {item.url, item.final_url}:
            self._signal(na_signals.page_ok, url=url)
        item.body = b""  # the bytes are in the WARC; nothing downstream needs them
        item.stored = stored
        self._signal(na_signals.text_stored, item=item, text_id=item.text_id, stem=stem,
                     sha256=sha, text_file=stored.text_file, outcome=outcome)  # fmt: skip
        return item

    def _page_failed(self, item: ArticleItem, reason: str, detail: str, *,
                     due_now: bool = False) -> None:  # fmt: skip
        payload = page_failure.from_item(item, reason, detail=detail, due_now=due_now)
        self._signal(na_signals.page_failed, **payload)

    def _signal(self, signal: object, **kwargs: Any) -> None:
        if self.signals is not None:
            self.signals.send_catch_log(signal, **kwargs)

    def _store(self, item: ArticleItem, warc_ref: WarcRef | None) -> StoredText:
        """Runs in the writer thread: the item's text stored (its StoredText's outcome
        'written', 'duplicate' or 'elsewhere')."""
        stored = self.store.put(
            item.article, url=item.url, final_url=item.final_url, canonical_url=item.identity,
            outlet=item.outlet, http_status=item.http_status, fetched_at=item.fetched_at,
            warc=warc_ref,
        )  # fmt: skip
        item.text_id = stored.text_id
        if self.numbers is not None:  # every worker's "archived already?" answer
            # known by identity, as every worker asks (a redirect's target too: KnownPages
            # reads a final URL by its canonical form)
            final = canonical_or_none(item.final_url) or item.final_url
            self.numbers.mark_archived({item.identity, item.url, final}, item.fetched_at)
        return stored
