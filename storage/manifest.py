"""The archive's manifest: one sqlite database (WAL) that answers "have we seen this".

Tables: ``runs`` (one row per crawl), ``captures`` (every HTTP exchange written to a WARC),
``texts`` (every stored text file, numbered, with its canonical copy's URL and outlet:
:mod:`storage.sidecar`), ``articles`` (every URL that had a text, with the page's own published
date, author and language and its WARC record: a copy; a text shared by several URLs, or
syndicated by several outlets, has several rows), ``failures`` (URLs that ended without an
article, with their reason). Each component opens its own :class:`Manifest`; a connection is
used from one thread at a time (the component's writer thread) and guarded by a lock all the
same. A manifest of an older schema is migrated when it is opened (:meth:`Manifest._migrate`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import schema
from storage.schema import ARTICLE_COLUMNS, SCHEMA, SCHEMA_VERSION
from storage.url_identity import canonical_or_none


@dataclass(frozen=True)
class TextRow:
    id: int
    sha256: str
    stem: str
    # 'writing' until both files are in place, then 'stored'; 'elsewhere': stored by another
    # worker of a distributed crawl (its files are in that worker's part of the archive)
    state: str

    @property
    def seq(self) -> int:
        # NNN starts at 000, like the first file of any archive; AUTOINCREMENT never reuses an id.
        return self.id - 1


class Manifest:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        # Switching a new file to WAL needs it alone, and sqlite's busy handler does not wait for
        # that: the crawl creates the manifest first (ArchiveLock); this loop covers the rest.
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
        # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the file.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    def _migrate(self) -> None:
        """Bring a manifest of an older schema up to date, in one transaction: components that
        open an old manifest at once wait for the first one's backfill, not read half of it."""
        with self._lock:
            if not schema.missing_columns(self._db):
                return
        with self.transaction() as db:
            schema.migrate(db)  # it looks again: another connection may have done it meanwhile

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def iterate(self, sql: str, params: Iterable[Any] = ()) -> Iterator[sqlite3.Row]:
        """The rows of a query one at a time, on a cursor of their own (a whole table's rows are
        never all in memory); the connection is the caller's until the iterator is done."""
        with self._lock:
            cursor = self._db.execute(sql, tuple(params))
            try:
                while rows := cursor.fetchmany(10_000):
                    yield from rows
            finally:
                cursor.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # --- runs ---------------------------------------------------------------------------------
    def start_run(self, run_id: str, started_at: str, config: dict[str, Any]) -> int:
        """Record a run as 'running'. A run still 'running' when another starts (under the
        archive's lock) was killed: it is marked 'killed'. Returns how many were."""
        with self.transaction() as db:
            killed = db.execute(
                "UPDATE runs SET status = 'killed' WHERE status = 'running' AND run_id != ?",
                (run_id,),
            ).rowcount
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, started_at, status, config)"
                " VALUES (?, ?, 'running', ?)",
                (run_id, started_at, json.dumps(config, sort_keys=True)),
            )
        return int(killed)

    def finish_run(
        self, run_id: str, finished_at: str, status: str, summary: dict[str, Any]
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
                (finished_at, status, json.dumps(summary, sort_keys=True), run_id),
            )

    # --- captures -----------------------------------------------------------------------------
    def add_captures(self, rows: Iterable[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO captures (run_id, url, method, status, fetched_at, warc_file,"
                " warc_offset, warc_length, record_id, record_type, warc_date, payload_digest,"
                " content_type, etag, last_modified) VALUES (:run_id, :url, :method, :status,"
                " :fetched_at, :warc_file, :warc_offset, :warc_length, :record_id, :record_type,"
                " :warc_date, :payload_digest, :content_type, :etag, :last_modified)",
                list(rows),
            )

    def original_capture(
        self, url: str | None = None, digest: str | None = None
    ) -> dict[str, Any] | None:
        """The latest full 200 response for a URL, or with a payload digest: what a revisit
        record refers to, and where a conditional request takes its validators from."""
        where, params = (
            ("url = ?", (url,)) if url is not None else ("payload_digest = ?", (digest,))
        )
        rows = self.query(
            f"SELECT * FROM captures WHERE {where} AND status = 200 AND record_type = 'response'"
            " ORDER BY id DESC LIMIT 1",
            params,
        )
        return dict(rows[0]) if rows else None

    def captures_by_record_id(self, record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The captures rows of these WARC-Record-IDs (what revisit records refer to)."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):  # sqlite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.query(f"SELECT * FROM captures WHERE record_id IN ({marks})", chunk):
                found[row["record_id"]] = dict(row)
        return found

    # --- texts and articles -------------------------------------------------------------------
    def text_by_sha(self, sha256: str) -> TextRow | None:
        rows = self.query("SELECT id, sha256, stem, state FROM texts WHERE sha256 = ?", (sha256,))
        return TextRow(**dict(rows[0])) if rows else None

    def reserve_text(
        self,
        sha256: str,
        stem_for: Callable[[int], str],
        title: str,
        created_at: str,
        run_id: str,
        seq: int | None = None,
        state: str = "writing",
        words: int | None = None,
    ) -> TextRow:
        """Take the next number for a new text (state 'writing'); `stem_for(seq)` names it.

        A distributed crawl gives the number (`seq`, from Redis) so that it is the same in every
        worker's manifest, and records texts other workers store with state 'elsewhere'.
        `words`: the word count of the text's body (:func:`storage.schema.body_words`).
        """
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO texts (id, sha256, stem, state, title, created_at, run_id, words)"
                " VALUES (?, ?, '', ?, ?, ?, ?, ?)",
                (None if seq is None else seq + 1, sha256, state, title, created_at, run_id, words),
            )
            text_id = int(cur.lastrowid or 0)
            row = TextRow(text_id, sha256, stem_for(text_id - 1), state)
            db.execute("UPDATE texts SET stem = ? WHERE id = ?", (row.stem, text_id))
        return row

    def text_row(self, text_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM texts WHERE id = ?", (text_id,))
        return dict(rows[0]) if rows else None

    def set_canonical(self, text_id: int, url: str, outlet: str | None) -> None:
        """Name the text's canonical copy (:func:`storage.sidecar.canonical_key`)."""
        with self.transaction() as db:
            db.execute("UPDATE texts SET url = ?, outlet = ? WHERE id = ?", (url, outlet, text_id))

    def mark_text_stored(self, text_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE texts SET state = 'stored' WHERE id = ?", (text_id,))

    def unfinished_texts(self) -> list[TextRow]:
        rows = self.query("SELECT id, sha256, stem, state FROM texts WHERE state = 'writing'")
        return [TextRow(**dict(r)) for r in rows]

    def stored_texts(self) -> list[tuple[str, int]]:
        """(sha256, NNN) of every text stored here."""
        rows = self.query("SELECT sha256, id FROM texts WHERE state = 'stored' ORDER BY id")
        return [(r["sha256"], r["id"] - 1) for r in rows]

    def forget_text(self, text_id: int) -> None:
        """Drop a reservation whose files never got written; its number is not reused."""
        with self.transaction() as db:
            db.execute("DELETE FROM articles WHERE text_id = ?", (text_id,))
            db.execute("DELETE FROM texts WHERE id = ?", (text_id,))

    def supersede(self, old_id: int, new_id: int) -> None:
        """A re-extraction gave `old_id`'s article a new text: the old one stays, marked."""
        with self.transaction() as db:
            db.execute("UPDATE texts SET superseded_by = ? WHERE id = ?", (new_id, old_id))

    def add_article(self, article: dict[str, Any]) -> None:
        """One copy of a text; the page's published, author, language and the record id may be
        left out (None); its canonical URL too: its URL's by the default rules."""
        row = {**dict.fromkeys(ARTICLE_COLUMNS), **article}
        row["canonical_url"] = row["canonical_url"] or canonical_or_none(row["url"])
        with self.transaction() as db:
            db.execute(
                f"INSERT OR IGNORE INTO articles ({', '.join(ARTICLE_COLUMNS)})"
                f" VALUES ({', '.join(':' + c for c in ARTICLE_COLUMNS)})",
                row,
            )
            # An article that was listed as failed has healed; failure_events keep its history.
            db.execute(
                "DELETE FROM failures WHERE url IN (?, ?)", (article["url"], article["final_url"])
            )

    def articles_for_text(self, text_id: int) -> list[sqlite3.Row]:
        return self.query(
            "SELECT * FROM articles WHERE text_id = ? ORDER BY fetched_at, url", (text_id,)
        )

    # --- failures -----------------------------------------------------------------------------
    FAILURE_FIELDS = (
        "url", "outlet", "kind", "reason", "status", "attempts", "runs_failed", "first_failed",
        "last_tried", "next_retry_at", "detail", "state", "last_run_id",
    )  # fmt: skip

    def failure(self, url: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM failures WHERE url = ?", (url,))
        return dict(rows[0]) if rows else None

    def put_failure(self, row: dict[str, Any], run_id: str) -> None:
        """Write a URL's failure row and append the event to its history, in one transaction."""
        columns = ", ".join(self.FAILURE_FIELDS)
        marks = ", ".join(f":{f}" for f in self.FAILURE_FIELDS)
        with self.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO failures ({columns}) VALUES ({marks})", row)
            db.execute(
                "INSERT INTO failure_events (url, outlet, run_id, reason, status, attempts, at,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row["url"], row["outlet"], run_id, row["reason"], row["status"],
                 row["attempts_now"], row["last_tried"], row["detail"]),
            )  # fmt: skip

    def heal(self, url: str) -> bool:
        """Remove a URL from the failure list; its failure_events stay."""
        with self.transaction() as db:
            return db.execute("DELETE FROM failures WHERE url = ?", (url,)).rowcount > 0

    def failures(
        self,
        outlets: list[str] | None = None,
        reason: str | None = None,
        states: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM failures WHERE 1 = 1", []
        if outlets:
            sql += f" AND outlet IN ({', '.join('?' * len(outlets))})"
            params += outlets
        if reason:
            sql += " AND reason = ?"
            params.append(reason)
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params += list(states)
        return [dict(r) for r in self.query(sql + " ORDER BY outlet, url", params)]

    # --- pushes -------------------------------------------------------------------------------
    def pushed(self, target: str) -> dict[str, dict[str, Any]]:
        rows = self.query("SELECT * FROM pushes WHERE target = ?", (target,))
        return {r["path"]: dict(r) for r in rows}

    def mark_pushed(self, target: str, path: str, size: int, mtime_ns: int, sha256: str,
                    verified: str, at: str) -> None:  # fmt: skip
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO pushes (target, path, size, mtime_ns, sha256, verified,"
                " pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (target, path, size, mtime_ns, sha256, verified, at),
            )

    def content_fingerprint(self) -> str:
        """Changes whenever the archive's own tables do, not when only pushes are recorded: a
        push that changed nothing else need not upload the manifest again."""
        row = self.query(
            "SELECT (SELECT COUNT(*) || ':' || IFNULL(MAX(finished_at), '') FROM runs),"
            " (SELECT IFNULL(MAX(id), 0) FROM captures),"
            " (SELECT COUNT(*) || ':' || IFNULL(MAX(id), 0) FROM texts WHERE state = 'stored'),"
            " (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM failures),"
            " (SELECT IFNULL(MAX(id), 0) FROM failure_events)"
        )[0]
        return "|".join(str(v) for v in tuple(row))

    def snapshot(self, dest: Path) -> None:
        """A consistent copy of the manifest (sqlite's backup API, never the live file)."""
        with self._lock:
            target = sqlite3.connect(dest)
            try:
                self._db.backup(target)
            finally:
                target.close()

    def outlets(self) -> set[str]:
        """Every outlet name the archive knows: of its articles, its failures and the configs
        its runs were crawled with (an outlet that gave nothing yet is known too)."""
        rows = self.query("SELECT outlet FROM articles UNION SELECT outlet FROM failures")
        names = {row[0] for row in rows if row[0]}
        for row in self.query("SELECT config FROM runs WHERE config IS NOT NULL"):
            for outlet in json.loads(row[0]).get("outlets", ()):
                names.add(outlet["name"])
        return names

    def last_run_config(self) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT config FROM runs WHERE config IS NOT NULL AND config != '{}'"
            " ORDER BY started_at DESC LIMIT 1"
        )
        return json.loads(rows[0]["config"]) if rows else None
