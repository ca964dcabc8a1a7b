"""SearchIndex: full-text search over an archive's stored texts, ARCHIVE/search.sqlite (FTS5).

One row per stored text (``texts.id`` of the manifest, current: not superseded), its title and
body indexed by SQLite's FTS5 with the ``unicode61 remove_diacritics 2`` tokenizer (case and
diacritics folded: "cafe" finds "café", "renee" finds "Renée"), ranked by bm25 with the title
weighing :data:`TITLE_WEIGHT` times the body. Beside it, every copy of the text (``copies``: the
URL, outlet and published date of each page that had it, as the manifest's ``articles``): a text
stored once but syndicated by several outlets is one result, which lists its outlets; the
outlet and date filters match a text when one of its copies matches them, and the result shows
the earliest-published copy that matched (without filters: the earliest copy of all).

A date filter compares the day a copy's page gives (``published``'s ``YYYY-MM-DD``, in the
outlet's own time zone); a text none of whose copies has a date is left out by ``since`` and
``until``.

The file is kept consistent by sqlite transactions (WAL): each :meth:`SearchIndex.write` is
one, so a killed writer leaves the index as of its last commit. :meth:`SearchIndex.sync` brings
it up to date with a manifest (texts missing from the index added from their files, texts no
longer current removed, copies refreshed where their count differs); :meth:`SearchIndex.rebuild`
makes it again from scratch in one transaction (readers see the old index until it commits).

Queries are FTS5's own syntax: words (all must match), ``"a phrase"``, ``prefix*``,
``AND``/``OR``/``NOT`` in capitals, ``NEAR(a b, 5)``, ``title:word``; ``a AND NOT b`` is taken as
FTS5's ``a NOT b``. A query FTS5 cannot parse is a :class:`BadQuery`.

Reads no settings (the crawl's component, :mod:`crawler.extensions.search_index`, does).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.clock import iso, utc_now
from storage.manifest import Manifest
from storage.sidecar import published_key

SCHEMA_VERSION = 1
TITLE_WEIGHT = 5.0  # bm25 weight of the title column; the body's is 1
SNIPPET_TOKENS = 16  # words in a snippet
# FTS5 marks the matched words with these; a caller turns them into its own (ANSI bold, [ ])
MARK_START, MARK_END = "\x02", "\x03"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    text_id INTEGER PRIMARY KEY, text_file TEXT NOT NULL, title TEXT, indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS copies (
    text_id INTEGER NOT NULL, url TEXT NOT NULL, outlet TEXT, published TEXT,
    published_key TEXT, day TEXT, PRIMARY KEY (text_id, url)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS copies_outlet_day ON copies (outlet, day);
CREATE INDEX IF NOT EXISTS copies_day ON copies (day);
CREATE VIRTUAL TABLE IF NOT EXISTS texts_fts USING fts5(
    title, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4'
);
INSERT OR IGNORE INTO texts_fts (texts_fts, rank) VALUES ('rank', 'bm25({TITLE_WEIGHT}, 1.0)');
"""
DROP = "DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS copies; DROP TABLE IF EXISTS texts_fts;"


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


# what sqlite says of a MATCH expression it cannot read (not of a broken or locked database)
_QUERY_ERRORS = ("fts5:", "no such column", "unknown special query", "unterminated string")
_AND_NOT = re.compile(r'("[^"]*"?)|\bAND\s+NOT\b')


class BadQuery(ValueError):
    """A query FTS5 cannot parse; the message says why, in one line."""


@dataclass(frozen=True)
class Copy:
    """One page that had the text."""

    url: str
    outlet: str | None
    published: str | None  # as the page gives it (ISO 8601), or None


@dataclass(frozen=True)
class Doc:
    """One stored text, as the index takes it."""

    text_id: int
    text_file: str  # relative to the archive: text/NNN_HASH.txt
    title: str
    body: str
    copies: tuple[Copy, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One result: the text, the copy that matched the filters, all its outlets."""

    text_id: int
    score: float  # bm25, higher is better
    title: str
    snippet: str  # matched words between MARK_START and MARK_END
    text_file: str
    url: str
    outlet: str | None
    published: str | None
    outlets: list[str]
    urls: list[str]


@dataclass
class SyncResult:
    added: int = 0  # texts put in the index
    removed: int = 0  # texts no longer current, taken out
    recopied: int = 0  # texts whose copies were refreshed
    missing: list[str] = field(default_factory=list)  # current texts whose file is not here


def split_text(text: str) -> tuple[str, str]:
    """A text file's (title, body): ``article.render()`` is the title, a blank line, the body."""
    title, _, body = text.partition("\n\n")
    return title.strip(), body.strip()


def fts_query(query: str) -> str:
    """`query` as FTS5 reads it: ``AND NOT`` (outside quotes) is FTS5's binary ``NOT``."""
    return _AND_NOT.sub(lambda m: m.group(1) or "NOT", query)


def _day(published: str | None) -> str | None:
    return published.strip()[:10] if published and published_key(published) else None


class SearchIndex:
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=30, isolation_level=None,
                                       check_same_thread=False)  # fmt: skip
        else:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)  # fmt: skip
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: a power cut may lose the last commits, never corrupt the file
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._transaction() as db:
                for statement in _statements(SCHEMA):
                    db.execute(statement)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))  # fmt: skip
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; inside another (a rebuild's), part of that one."""
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- writing ------------------------------------------------------------------------------
    def write(self, docs: Iterable[Doc] = (), copies: Iterable[tuple[int, Copy]] = ()) -> int:
        """Put `docs` in the index (a text indexed already is replaced) and add `copies`
        ((text id, copy): another page of a text), in one transaction. Returns how many copies
        were of texts not in the index (left out)."""
        with self._transaction() as db:
            self._put_docs(db, docs)
            return self._put_copies(db, copies)

    def add(self, doc: Doc) -> None:
        self.write([doc])

    @staticmethod
    def _put_docs(db: sqlite3.Connection, docs: Iterable[Doc]) -> None:
        now = iso(utc_now())
        for doc in docs:
            db.execute("DELETE FROM texts_fts WHERE rowid = ?", (doc.text_id,))
            db.execute("DELETE FROM copies WHERE text_id = ?", (doc.text_id,))
            db.execute("INSERT INTO texts_fts (rowid, title, body) VALUES (?, ?, ?)",
                       (doc.text_id, doc.title, doc.body))  # fmt: skip
            db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)",
                       (doc.text_id, doc.text_file, doc.title, now))  # fmt: skip
            SearchIndex._put_copies(db, ((doc.text_id, c) for c in doc.copies))

    @staticmethod
    def _put_copies(db: sqlite3.Connection, copies: Iterable[tuple[int, Copy]]) -> int:
        orphans = 0
        for text_id, c in copies:
            if db.execute("SELECT 1 FROM docs WHERE text_id = ?", (text_id,)).fetchone() is None:
                orphans += 1
                continue
            db.execute(
                "INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?)",
                (text_id, c.url, c.outlet, c.published, published_key(c.published),
                 _day(c.published)),
            )  # fmt: skip
        return orphans

    def _remove(self, db: sqlite3.Connection, text_ids: Iterable[int]) -> int:
        n = 0
        for text_id in text_ids:
            db.execute("DELETE FROM texts_fts WHERE rowid = ?", (text_id,))
            db.execute("DELETE FROM copies WHERE text_id = ?", (text_id,))
            n += db.execute("DELETE FROM docs WHERE text_id = ?", (text_id,)).rowcount
        return n

    # --- reading ------------------------------------------------------------------------------
    def has(self, text_id: int) -> bool:
        return self._db.execute("SELECT 1 FROM docs WHERE text_id = ?", (text_id,)).fetchone() \
            is not None  # fmt: skip

    def outlets(self) -> set[str]:
        """The outlets of the copies indexed."""
        return {r[0] for r in self._db.execute("SELECT DISTINCT outlet FROM copies") if r[0]}

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def search(self, query: str, outlets: Sequence[str] = (), since: str | None = None,
               until: str | None = None, limit: int = 20) -> list[Hit]:  # fmt: skip
        """The `limit` best texts for `query`, best first, among those with a copy at one of
        `outlets` (any, if none) published on a day in [`since`, `until`] (YYYY-MM-DD)."""
        where, params = self._copy_filter(outlets, since, until)
        # `+rowid`: a filter on the rows FTS5 yields in rank order, not a constraint handed to
        # FTS5 (which runs the MATCH once per rowid of the list: minutes on 100,000 texts)
        sql = (
            "SELECT rowid AS text_id, rank, title,"
            f" snippet(texts_fts, 1, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS}) AS snip"
            " FROM texts_fts WHERE texts_fts MATCH ?"
            + (f" AND +rowid IN (SELECT text_id FROM copies WHERE {where})" if where else "")
            + " ORDER BY rank LIMIT ?"
        )
        try:
            rows = self._db.execute(sql, (fts_query(query), *params, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            if str(exc).startswith(_QUERY_ERRORS):
                raise BadQuery(str(exc)) from None
            raise
        return [self._hit(row, where, params) for row in rows]

    @staticmethod
    def _copy_filter(outlets: Sequence[str], since: str | None,
                     until: str | None) -> tuple[str, list[Any]]:  # fmt: skip
        clauses: list[str] = []
        params: list[Any] = []
        if outlets:
            clauses.append(f"outlet IN ({', '.join('?' * len(outlets))})")
            params += list(outlets)
        if since:
            clauses.append("day >= ?")
            params.append(since)
        if until:
            clauses.append("day <= ?")
            params.append(until)
        return " AND ".join(clauses), params

    def _hit(self, row: sqlite3.Row, where: str, params: list[Any]) -> Hit:
        text_id = row["text_id"]
        doc = self._db.execute("SELECT text_file FROM docs WHERE text_id = ?",
                               (text_id,)).fetchone()  # fmt: skip
        order = " ORDER BY published_key IS NULL, published_key, url"
        copies = self._db.execute(f"SELECT * FROM copies WHERE text_id = ?{order}",
                                  (text_id,)).fetchall()  # fmt: skip
        shown = copies[0] if copies else None
        if where and copies:
            matched = self._db.execute(
                f"SELECT * FROM copies WHERE text_id = ? AND {where}{order} LIMIT 1",
                (text_id, *params),
            ).fetchone()
            shown = matched or shown
        outlets = sorted({c["outlet"] for c in copies if c["outlet"]})
        return Hit(
            text_id=text_id, score=round(-float(row["rank"]), 4), title=row["title"] or "",
            snippet=row["snip"] or "", text_file=doc["text_file"] if doc else "",
            url=shown["url"] if shown else "", outlet=shown["outlet"] if shown else None,
            published=shown["published"] if shown else None, outlets=outlets,
            urls=[c["url"] for c in copies],
        )  # fmt: skip

    # --- keeping up with the manifest ---------------------------------------------------------
    def sync(self, manifest: Manifest, text_dir: Path, batch: int = 500) -> SyncResult:
        """Bring the index up to date with `manifest` (its current stored texts), committing
        every `batch` texts: what a killed writer missed is added, what is no longer current
        removed, copies refreshed where the manifest has another number of them."""
        result = SyncResult()
        current = {
            row["id"]: row["stem"]
            for row in manifest.iterate(
                "SELECT id, stem FROM texts WHERE state = 'stored' AND superseded_by IS NULL"
            )
        }
        indexed = {r[0] for r in self._db.execute("SELECT text_id FROM docs")}
        gone = sorted(indexed - current.keys())
        if gone:
            with self._transaction() as db:
                result.removed = self._remove(db, gone)
        manifest_counts: dict[int, int] = {
            r[0]: r[1]
            for r in manifest.query("SELECT text_id, count(*) FROM articles GROUP BY text_id")
        }
        index_counts = dict(
            self._db.execute("SELECT text_id, count(*) FROM copies GROUP BY text_id").fetchall()
        )
        todo = sorted(current.keys() - indexed)
        stale = sorted(
            i for i in indexed & current.keys()
            if manifest_counts.get(i, 0) != index_counts.get(i, 0)
        )  # fmt: skip
        for start in range(0, len(stale), batch):
            ids = stale[start : start + batch]
            copies = self._manifest_copies(manifest, ids)
            with self._transaction() as db:
                db.executemany("DELETE FROM copies WHERE text_id = ?", [(i,) for i in ids])
                self._put_copies(db, ((i, c) for i in ids for c in copies.get(i, ())))
            result.recopied += len(ids)
        for start in range(0, len(todo), batch):
            ids = todo[start : start + batch]
            copies = self._manifest_copies(manifest, ids)
            docs = []
            for text_id in ids:
                path = text_dir / f"{current[text_id]}.txt"
                try:
                    title, body = split_text(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    result.missing.append(current[text_id])
                    continue
                text_file = f"{text_dir.name}/{path.name}"
                docs.append(Doc(text_id, text_file, title, body, tuple(copies.get(text_id, ()))))
            self.write(docs)
            result.added += len(docs)
        return result

    @staticmethod
    def _manifest_copies(manifest: Manifest, ids: list[int]) -> dict[int, list[Copy]]:
        out: dict[int, list[Copy]] = {}
        marks = ", ".join("?" * len(ids))
        for row in manifest.query(
            f"SELECT text_id, url, outlet, published FROM articles WHERE text_id IN ({marks})",
            ids,
        ):
            out.setdefault(row["text_id"], []).append(
                Copy(row["url"], row["outlet"], row["published"])
            )
        return out

    def rebuild(self, manifest: Manifest, text_dir: Path) -> SyncResult:
        """The index made again from `manifest` and the text files, in one transaction: a
        reader sees the old index until it commits, a killed rebuild leaves the old one."""
        with self._transaction() as db:
            for statement in _statements(DROP + SCHEMA):
                db.execute(statement)
            result = self.sync(manifest, text_dir)
        self._db.execute("INSERT INTO texts_fts (texts_fts) VALUES ('optimize')")
        return result
