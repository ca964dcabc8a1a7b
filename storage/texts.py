"""TextStore: clean text to ``text/NNN_HASH.txt`` + ``NNN_HASH.json``, each text stored once.

The text's bytes are hashed (SHA-256); text already in the manifest is not written again: the
URL is recorded beside it as another copy, and the sidecar, which credits every outlet that
published the text (``outlets``, :mod:`storage.sidecar`), is rebuilt and rewritten atomically.
Its top-level fields name the canonical copy, the first published (then the first URL), the
same whichever copy was stored first; when a later copy is more canonical the manifest's
``texts.url``/``outlet`` follow it and the text file keeps its name. New text takes the next
archive-wide number (never reused) and is written atomically: sidecar first, text last, each
through tmp/ with fsync and rename, so that a ``.txt`` under its final name always has its
sidecar. A number reserved by a process killed before its files were in place is dropped by
the next :meth:`TextStore.open`.

Used by the crawl's item pipeline (:mod:`pipelines.store_text`, which runs it in its writer
thread), ``newsarchiver reextract`` and the tests; it knows nothing of Scrapy. In a distributed
crawl the number and the "stored already?" answer of a text this archive does not hold come
from `numbers` (:class:`SharedNumbers`): a text another worker stored or is writing is recorded
here with state 'elsewhere' under the same number (its sidecar is on the other worker's disk:
the merge of the workers' manifests rewrites it, :mod:`storage.merge`).

Counts (through `count`): ``text/recovered`` (an unfinished text dropped at open),
``text/canonical_moved`` (a copy more canonical than the one the sidecar named), per outlet
``outlet/<name>/syndicated`` (its copies this run whose text another outlet published too).
Settings: none (the pipeline reads ``TEXT_FSYNC`` and ``ARCHIVE_DIR``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from storage.atomic import clean_tmp, write_atomic
from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout, text_stem
from storage.manifest import Manifest, TextRow
from storage.sidecar import credit_text
from storage.url_identity import canonical_or_none
from storage.warc import WarcRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredText:
    """Where :meth:`TextStore.put` put an article's text."""

    text_file: str  # relative to the archive: text/NNN_HASH.txt
    sha256: str
    duplicate: bool  # the same text was stored before (this URL is listed beside it)
    warc: Any = None  # storage.warc.WarcRef of the page's record; None without WARC capture
    outcome: str = "written"  # 'written', 'duplicate', or 'elsewhere' (another worker's text)
    stem: str = ""  # NNN_HASH
    text_id: int | None = None  # the manifest's texts.id


class Article(Protocol):
    """What is stored of an article (:class:`pipelines.article.ArticleText` is one)."""

    @property
    def title(self) -> str: ...

    @property
    def paragraphs(self) -> Sequence[str]: ...

    @property
    def author(self) -> str | None: ...

    @property
    def published(self) -> str | None: ...

    @property
    def language(self) -> str | None: ...

    def render(self) -> str: ...


class SharedNumbers(Protocol):
    """A distributed crawl's text numbers (:class:`pipelines.text_numbers.TextNumbers`)."""

    def claim_text(self, sha256: str) -> tuple[str, int]: ...

    def text_stored(self, sha256: str, seq: int) -> None: ...


def _no_count(key: str, n: int) -> None:
    pass


class TextStore:
    def __init__(
        self,
        root: str | Path,
        run_id: str,
        fsync: bool,  # TEXT_FSYNC
        numbers: SharedNumbers | None = None,
        count: Callable[[str, int], None] = _no_count,
        log: logging.Logger = logger,
    ) -> None:
        """`count(key, n)` hears of the counts above (from the thread that calls the store);
        `log` is where its messages go (the item pipeline passes its own logger)."""
        self.layout = ArchiveLayout(root)
        self.run_id = run_id
        self.fsync = fsync
        self.numbers = numbers
        self.count = count
        self.log = log
        self.manifest: Manifest | None = None
        # (url, text id) of this run's copies counted as syndicated: each counted once
        self._syndicated: set[tuple[str, int]] = set()

    def open(self) -> TextStore:
        """Create the archive's directories, open its manifest, drop what a killed process
        left unfinished (tmp files, texts reserved and never renamed into place)."""
        self.layout.ensure()
        clean_tmp(self.layout.tmp_dir)
        self.manifest = Manifest(self.layout.manifest_path)
        for row in self.manifest.unfinished_texts():
            self._drop_unfinished(row)
        return self

    def close(self) -> None:
        if self.manifest is not None:
            self.manifest.close()

    def __enter__(self) -> TextStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drop_unfinished(self, row: TextRow) -> None:
        assert self.manifest is not None
        for path in (self.layout.text_path(row.stem), self.layout.sidecar_path(row.stem)):
            path.unlink(missing_ok=True)
        self.manifest.forget_text(row.id)
        self.count("text/recovered", 1)
        self.log.warning("dropped text %s left unfinished by a killed crawl", row.stem)

    def stored_texts(self) -> list[tuple[str, int]]:
        """(sha256, number) of every text stored here, by number."""
        assert self.manifest is not None
        return list(self.manifest.stored_texts())

    def put(
        self,
        article: Article,
        *,
        url: str,
        outlet: str,
        http_status: int,
        fetched_at: str,
        final_url: str | None = None,
        canonical_url: str | None = None,
        warc: WarcRef | None = None,
    ) -> StoredText:
        """Store `article`, fetched from `url` (answered at `final_url`; its identity
        `canonical_url`, else `url`'s by the default rules), whose response is the WARC record
        `warc`: a new text file, or a duplicate recorded beside the text stored before."""
        assert self.manifest is not None
        final_url = final_url or url
        identity = canonical_url or canonical_or_none(url) or url
        data = article.render().encode("utf-8")
        words = sum(len(p.split()) for p in article.paragraphs)  # schema.body_words
        sha = hashlib.sha256(data).hexdigest()
        article_row = {
            "url": url, "final_url": final_url, "canonical_url": identity,
            "outlet": outlet, "http_status": http_status, "fetched_at": fetched_at,
            "warc_file": warc.warc_file if warc else None,
            "warc_offset": warc.offset if warc else None, "run_id": self.run_id,
            "warc_record_id": warc.record_id if warc else None,
            "published": article.published, "author": article.author,
            "language": article.language,
        }  # fmt: skip
        existing = self.manifest.text_by_sha(sha)
        seq = None
        if existing is None and self.numbers is not None:
            claim, seq = self.numbers.claim_text(sha)
            if claim in ("stored", "elsewhere"):  # another worker's text
                existing = self.manifest.reserve_text(
                    sha, lambda n: text_stem(n, sha), article.title, iso(utc_now()),
                    self.run_id, seq=seq, state="elsewhere", words=words,
                )  # fmt: skip
        if existing is not None:
            self.manifest.add_article({**article_row, "text_id": existing.id})
            # another worker's text: its files are not here, but its copies here are credited
            self._credit(existing.id, url, write=existing.state != "elsewhere")
            state = "elsewhere" if existing.state == "elsewhere" else "duplicate"
            return self._stored(state, existing.stem, sha, existing.id, warc)
        row = self.manifest.reserve_text(
            sha, lambda n: text_stem(n, sha), article.title, iso(utc_now()), self.run_id,
            seq=seq, words=words,
        )  # fmt: skip
        self.manifest.add_article({**article_row, "text_id": row.id})
        self._credit(row.id, url)  # the sidecar, before the text
        write_atomic(self.layout.text_path(row.stem), data, self.layout.tmp_dir, fsync=self.fsync)
        self.manifest.mark_text_stored(row.id)
        if self.numbers is not None:
            self.numbers.text_stored(sha, row.seq)
        return self._stored("written", row.stem, sha, row.id, warc)

    def _stored(
        self, outcome: str, stem: str, sha: str, text_id: int, warc: WarcRef | None
    ) -> StoredText:
        text_file = self.layout.text_path(stem).relative_to(self.layout.root).as_posix()
        return StoredText(text_file, sha, outcome != "written", warc, outcome, stem, text_id)

    def _credit(self, text_id: int, url: str, write: bool = True) -> None:
        """The text's sidecar rebuilt from its copies (written if it changed), the manifest
        pointed at its canonical copy, this run's syndicated copies counted."""
        assert self.manifest is not None
        credited = credit_text(self.layout, self.manifest, text_id, write=write, fsync=self.fsync)
        if credited.moved:
            self.count("text/canonical_moved", 1)
            self.log.info("%s now names %s (%s) first: published earlier, or sorted first",
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
                self.count(f"outlet/{row['outlet']}/syndicated", 1)
