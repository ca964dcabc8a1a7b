"""StoreTextPipeline: clean text to ``text/NNN_HASH.txt`` + ``NNN_HASH.json``, stored once.

The text's bytes are hashed (SHA-256); text already in the manifest is not written again: the
URL is recorded beside it as another copy, and the sidecar, which credits every outlet that
published the text (``outlets``, :mod:`storage.sidecar`), is rebuilt and rewritten atomically.
Its top-level fields name the canonical copy, the first published (then the first URL), the
same whichever copy the crawl fetched first; when a later copy is more canonical the manifest's
``texts.url``/``outlet`` follow it and the text file keeps its name. New text takes the next
archive-wide number (never reused) and is written atomically: sidecar first, text last, each
through tmp/ with fsync and rename, so that a ``.txt`` under its final name always has its
sidecar. A number reserved by a crawl that was killed before its files were in place is dropped
when the next crawl starts. A page without article text is a ``page_failed`` signal (the failure
recorder lists it); a stored one is ``page_ok`` (a failure listed for it has healed).

All disk and manifest work runs in one writer thread, off the reactor.

In a distributed crawl (``CLUSTER_ENABLED``) the number and the "stored already?" answer come
from Redis (:meth:`ClusterState.claim_text`, one atomic step, from the writer thread; numbers
are reserved a few at a time, ``CLUSTER_TEXT_NUMBERS_AHEAD``, and those left unused are given
back at the close if no other worker took numbers after them): a text another worker stored or
is writing is a duplicate here, recorded in this manifest with state 'elsewhere' under the same
number (this worker cannot rewrite the sidecar of a text on another worker's disk: the merge of
the workers' manifests does, :mod:`storage.merge`); a text claimed by a worker that died is
taken over under its number. The text's "stored" mark goes to Redis as soon as its files are in
place; its archived URLs are shared in batches (:meth:`ClusterState.mark_archived`, written
behind). Redis unreachable: the page is recorded as a failure (``cluster_unavailable``, due at
once), never half-stored.

Settings: ``TEXT_ENABLED``, ``TEXT_FSYNC``, ``ARCHIVE_DIR``, ``CLUSTER_ENABLED``,
``CLUSTER_TEXT_NUMBERS_AHEAD`` (through ClusterState).
Stats: ``text/written``, ``text/duplicate``, ``text/failed/<reason>``, ``text/recovered``,
``text/failed/warc_error`` (its WARC record was not written: no text without evidence),
``text/failed/disk_full``, ``text/elsewhere`` (duplicates of another worker's text),
``text/canonical_moved`` (a copy more canonical than the one the sidecar named),
``cluster/text_numbers/{returned,skipped}`` (reserved, unused at the close: given back, or left
as a gap because another worker reserved numbers after them), per outlet
``outlet/<name>/archived`` (a new text from its page), ``outlet/<name>/duplicates`` (its page
had a text stored already) and ``outlet/<name>/syndicated`` (its pages this run whose text
another outlet published too: counted for each outlet once the second one's copy is in).

A stored article's item goes on with ``item.stored`` (:class:`~pipelines.items.StoredText`: the
text file, its SHA-256, whether it was a duplicate, the WARC record), from which
:class:`~pipelines.output_item.OutputItemPipeline` makes the item feeds get.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future

from pipelines import signals as na_signals
from crawler.cluster.state import ClusterState
from pipelines.items import ArticleItem, StoredText
from pipelines.run_id import run_id_for
from pipelines.twisted_util import deferred_from_future
from storage.atomic import clean_tmp, write_atomic
from storage.diskspace import full_error, is_disk_full
from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout, text_stem
from storage.manifest import Manifest, TextRow
from storage.sidecar import credit_text
from storage.url_identity import canonical_or_none
from storage.warc import WarcRef

logger = logging.getLogger(__name__)


class StoreTextPipeline:
    def __init__(
        self,
        layout: ArchiveLayout,
        run_id: str,
        stats: StatsCollector,
        fsync: bool = True,
        signals: SignalManager | None = None,
        cluster: ClusterState | None = None,
    ) -> None:
        self.layout = layout
        self.cluster = cluster
        self.signals = signals
        self.run_id = run_id
        self.stats = stats
        self.fsync = fsync
        self.manifest: Manifest | None = None
        # (url, text id) of this run's copies counted as syndicated: each counted once
        self._syndicated: set[tuple[str, int]] = set()
        self._counts: list[tuple[str, int]] = []  # stats counted in the writer thread (_count)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-writer")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreTextPipeline:
        settings = crawler.settings
        if not settings.getbool("TEXT_ENABLED"):
            raise NotConfigured("TEXT_ENABLED is off")
        assert crawler.stats is not None
        return cls(
            layout=ArchiveLayout(settings["ARCHIVE_DIR"]),
            run_id=run_id_for(crawler),
            stats=crawler.stats,
            fsync=settings.getbool("TEXT_FSYNC"),
            signals=crawler.signals,
            cluster=(ClusterState.for_crawler(crawler)
                     if settings.getbool("CLUSTER_ENABLED") else None),
        )  # fmt: skip

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        try:
            return await maybe_deferred_to_future(
                deferred_from_future(self._executor.submit(fn, *args))
            )
        finally:
            # counted here, on the reactor: the progress line reads the stats there, and a key
            # added from the writer thread while it iterates them would break that loop
            while self._counts:
                self.stats.inc_value(*self._counts.pop())

    def _count(self, key: str, n: int = 1) -> None:
        """Writer thread: count `key` once the call returns to the reactor."""
        self._counts.append((key, n))  # list.append is atomic

    def store(self, item: ArticleItem, warc_ref: WarcRef | None) -> tuple[str, str, str]:
        """Outside a crawl (reextract, tests), in the caller's thread: store the item's text as
        a crawl would; (outcome, stem, sha256)."""
        try:
            return self._store(item, warc_ref)
        finally:
            while self._counts:
                self.stats.inc_value(*self._counts.pop())

    async def open_spider(self) -> None:
        await self._in_thread(self._open)

    def _open(self) -> None:
        self.layout.ensure()
        clean_tmp(self.layout.tmp_dir)
        self.manifest = Manifest(self.layout.manifest_path)
        for row in self.manifest.unfinished_texts():
            self._drop_unfinished(row)
        if self.cluster is not None:
            stored = self.manifest.stored_texts()
            if stored and self.cluster.text_seq() <= stored[-1][1]:
                # Redis knows fewer numbers than this archive used (a new Redis, or this
                # worker's first distributed run): tell it, so that none is handed out twice
                self.cluster.sync_texts(stored)

    def _drop_unfinished(self, row: TextRow) -> None:
        assert self.manifest is not None
        for path in (self.layout.text_path(row.stem), self.layout.sidecar_path(row.stem)):
            path.unlink(missing_ok=True)
        self.manifest.forget_text(row.id)
        self.stats.inc_value("text/recovered")  # at open, before any progress line
        logger.warning("dropped text %s left unfinished by a killed crawl", row.stem)

    async def close_spider(self) -> None:
        await self._in_thread(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self.manifest is not None:
            self.manifest.close()
        if self.cluster is not None:
            try:
                unused, given_back = self.cluster.return_numbers()
            except redis.RedisError as exc:
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
                self._signal(
                    na_signals.page_failed, url=item.url, outlet=item.outlet, reason=reason,
                    status=item.http_status, attempts=1, detail=f"WARC capture failed: {exc}"[:500],
                    kind="page", due_now=True,
                )  # fmt: skip
                raise DropItem(f"{item.final_url} not stored: its WARC capture failed") from None
        if item.article is None:
            reason, detail = item.no_article or ("extraction_empty", "")
            self.stats.inc_value(f"text/failed/{reason}")
            self._signal(
                na_signals.page_failed, url=item.url, outlet=item.outlet, reason=reason,
                status=item.http_status, attempts=1, detail=detail, kind="page",
            )  # fmt: skip
            raise DropItem(f"no article text in {item.final_url} ({reason})")
        try:
            outcome, stem, sha = await self._in_thread(self._store, item, warc_ref)
        except redis.RedisError as exc:
            self.stats.inc_value("text/failed/cluster_unavailable")
            self._signal(
                na_signals.page_failed, url=item.url, outlet=item.outlet,
                reason="cluster_unavailable", status=item.http_status, attempts=1,
                detail=f"Redis: {exc}"[:500], kind="page", due_now=True,
            )  # fmt: skip
            raise DropItem(f"{item.final_url} not stored: Redis unavailable ({exc})") from None
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            self.stats.inc_value("text/failed/disk_full")
            self._signal(na_signals.disk_full, error=full_error(exc, self.layout.root),
                         source="text")  # fmt: skip
            self._signal(
                na_signals.page_failed, url=item.url, outlet=item.outlet, reason="disk_full",
                status=item.http_status, attempts=1, detail=f"text not stored: {exc}"[:500],
                kind="page", due_now=True,
            )  # fmt: skip
            raise DropItem(f"{item.final_url} not stored: the disk is full") from None
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
        text_file = self.layout.text_path(stem).relative_to(self.layout.root).as_posix()
        item.stored = StoredText(text_file, sha, outcome == "duplicate", warc_ref)
        self._signal(na_signals.text_stored, item=item, text_id=item.text_id, stem=stem,
                     sha256=sha, text_file=text_file, outcome=outcome)  # fmt: skip
        return item

    def _signal(self, signal: object, **kwargs: Any) -> None:
        if self.signals is not None:
            self.signals.send_catch_log(signal, **kwargs)

    def _store(self, item: ArticleItem, warc_ref: WarcRef | None) -> tuple[str, str, str]:
        """Runs in the writer thread: ('written' | 'duplicate' | 'elsewhere', stem, sha256)."""
        stored = self._store_text(item, warc_ref)
        if self.cluster is not None:  # every worker's "archived already?" answer
            # known by identity, as every worker asks (a redirect's target too: KnownPages
            # reads a final URL by its canonical form)
            final = canonical_or_none(item.final_url) or item.final_url
            self.cluster.mark_archived({item.identity, item.url, final}, item.fetched_at)
        return stored

    def _store_text(self, item: ArticleItem, warc_ref: WarcRef | None) -> tuple[str, str, str]:
        assert self.manifest is not None
        data = item.article.render().encode("utf-8")
        words = sum(len(p.split()) for p in item.article.paragraphs)  # schema.body_words
        sha = hashlib.sha256(data).hexdigest()
        article_row = {
            "url": item.url, "final_url": item.final_url, "canonical_url": item.identity,
            "outlet": item.outlet, "http_status": item.http_status, "fetched_at": item.fetched_at,
            "warc_file": warc_ref.warc_file if warc_ref else None,
            "warc_offset": warc_ref.offset if warc_ref else None, "run_id": self.run_id,
            "warc_record_id": warc_ref.record_id if warc_ref else None,
            "published": item.article.published, "author": item.article.author,
            "language": item.article.language,
        }  # fmt: skip
        existing = self.manifest.text_by_sha(sha)
        seq = None
        if existing is None and self.cluster is not None:
            claim, seq = self.cluster.claim_text(sha)
            if claim in ("stored", "elsewhere"):  # another worker's text
                existing = self.manifest.reserve_text(
                    sha, lambda n: text_stem(n, sha), item.article.title, iso(utc_now()),
                    self.run_id, seq=seq, state="elsewhere", words=words,
                )  # fmt: skip
        if existing is not None:
            self.manifest.add_article({**article_row, "text_id": existing.id})
            # another worker's text: its files are not here, but its copies here are credited
            self._credit(existing.id, item.url, write=existing.state != "elsewhere")
            state = "elsewhere" if existing.state == "elsewhere" else "duplicate"
            item.text_id = existing.id
            return state, existing.stem, sha
        row = self.manifest.reserve_text(
            sha, lambda n: text_stem(n, sha), item.article.title, iso(utc_now()), self.run_id,
            seq=seq, words=words,
        )  # fmt: skip
        self.manifest.add_article({**article_row, "text_id": row.id})
        self._credit(row.id, item.url)  # the sidecar, before the text
        write_atomic(self.layout.text_path(row.stem), data, self.layout.tmp_dir, fsync=self.fsync)
        self.manifest.mark_text_stored(row.id)
        if self.cluster is not None:
            self.cluster.text_stored(sha, row.seq)
        item.text_id = row.id
        return "written", row.stem, sha

    def _credit(self, text_id: int, url: str, write: bool = True) -> None:
        """Writer thread: the text's sidecar rebuilt from its copies (written if it changed),
        the manifest pointed at its canonical copy, this run's syndicated copies counted."""
        assert self.manifest is not None
        credited = credit_text(self.layout, self.manifest, text_id, write=write, fsync=self.fsync)
        if credited.moved:
            self._count("text/canonical_moved")
            logger.info("%s now names %s (%s) first: published earlier, or sorted first",
                        credited.sidecar["text_file"], credited.sidecar["url"],
                        credited.sidecar["outlet"])  # fmt: skip
        outlets = credited.sidecar["outlets"]
        if len(outlets) < 2:
            return
        # one count per page of this run (`url`'s row may be an earlier run's: fetched again),
        # for every outlet: "N of its pages this run are a story another outlet ran too" holds
        # for the outlet stored first as for the second
        for row in self.manifest.articles_for_text(text_id):
            key = (row["url"], text_id)
            this_run = row["run_id"] == self.run_id or row["url"] == url
            if this_run and row["outlet"] and key not in self._syndicated:
                self._syndicated.add(key)
                self._count(f"outlet/{row['outlet']}/syndicated")
