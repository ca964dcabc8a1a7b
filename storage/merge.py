"""Merge the manifests of a distributed crawl's workers into one manifest for the whole archive.

Each worker keeps its own ``manifest.sqlite`` (its part: its captures, the texts it stored, the
articles it saw, its failures). Text numbers come from Redis, so a text has the same id in every
part; a part that only saw another worker's text has it as ``elsewhere``. The merged manifest has
every run, capture and article once, each text once (``stored`` wins over ``elsewhere``), for a
URL listed as failed by several workers the row tried last, minus URLs archived since by any of
them, and every failure event. Push records stay with each worker (they are about its disk).

A text is credited to every outlet any worker saw it at: its ``articles`` rows from every part.
A worker that found a copy of another worker's text (``elsewhere``) could not add it to that
text's sidecar, on the other worker's disk; the merge names each such text's canonical copy
among all copies (``texts.url``/``outlet``, :func:`storage.sidecar.build_sidecar`) and, in
object storage, rewrites its sidecar there to list every outlet's copies. A local merge
(``--out``) writes the manifest only.

:func:`merge_manifests` builds the result in a temporary file and renames it into place: a
reader never sees half a merge. :func:`merge_in_store` does it in object storage: it reads
``manifests/*.sqlite`` (each worker's push puts its part there) and writes ``manifest.sqlite``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.request import pathname2url

from storage import schema
from storage.atomic import json_bytes
from storage.manifest import Manifest
from storage.object_store import FileDigest, ObjectStore, PushError, digest_file
from storage.schema import ARTICLE_COLUMNS, BACKFILL_CANONICAL, BACKFILL_RECORD_IDS
from storage.sidecar import build_sidecar

logger = logging.getLogger(__name__)

PARTS_DIR = "manifests"
MERGED_KEY = "manifest.sqlite"

CAPTURE_COLUMNS = (
    "run_id, url, method, status, fetched_at, warc_file, warc_offset, warc_length, record_id, "
    "record_type, warc_date, payload_digest, content_type, etag, last_modified"
)
FAILURE_COLUMNS = ", ".join(Manifest.FAILURE_FIELDS)
EVENT_COLUMNS = "url, outlet, run_id, reason, status, attempts, at, detail"

TEXT_COLUMNS = (
    "id", "sha256", "stem", "state", "title", "created_at", "run_id", "superseded_by", "url",
    "outlet", "words",
)  # fmt: skip


def _from_part(db: sqlite3.Connection, table: str, names: Sequence[str], alias: str) -> str:
    """`alias.column` for each column of the part's `table`, NULL for a column its schema has
    not (a part written by a worker of an older version, opened read-only: never migrated)."""
    have = schema.columns(db, table, "p")
    return ", ".join(f"{alias}.{c}" if c in have else "NULL" for c in names)


def _merge_sql(db: sqlite3.Connection) -> list[str]:
    """One statement per table, reading the attached part `p` into the merged database."""
    articles = ", ".join(ARTICLE_COLUMNS)
    return [
        "INSERT OR IGNORE INTO runs SELECT run_id, started_at, finished_at, status, config,"
        " summary FROM p.runs",
        f"INSERT INTO captures ({CAPTURE_COLUMNS}) SELECT {CAPTURE_COLUMNS} FROM p.captures AS c"
        " WHERE NOT EXISTS (SELECT 1 FROM captures m WHERE m.warc_file = c.warc_file"
        " AND m.warc_offset = c.warc_offset)",
        f"INSERT INTO texts ({', '.join(TEXT_COLUMNS)})"
        f" SELECT {_from_part(db, 'texts', TEXT_COLUMNS, 't')} FROM p.texts t"
        " WHERE state != 'writing' AND true ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
        " title = excluded.title, created_at = excluded.created_at, run_id = excluded.run_id,"
        " url = excluded.url, outlet = excluded.outlet, words = excluded.words"
        " WHERE excluded.state = 'stored' AND texts.state != 'stored'",
        f"INSERT OR IGNORE INTO articles ({articles})"
        f" SELECT {_from_part(db, 'articles', ARTICLE_COLUMNS, 'a')} FROM p.articles a"
        " JOIN p.texts t ON t.id = a.text_id WHERE t.state != 'writing'",
        f"INSERT INTO failures ({FAILURE_COLUMNS}) SELECT {FAILURE_COLUMNS} FROM p.failures"
        " WHERE true ON CONFLICT (url) DO UPDATE SET"
        f" ({FAILURE_COLUMNS}) = ({', '.join('excluded.' + c for c in Manifest.FAILURE_FIELDS)})"
        " WHERE excluded.last_tried > failures.last_tried",
        f"INSERT INTO failure_events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS}"
        " FROM p.failure_events",
    ]


# texts this part has copies of that another worker stored: the storing worker's sidecar and
# manifest row know only its own copies
SHARED_SQL = (
    "SELECT DISTINCT a.text_id FROM p.articles a JOIN p.texts t ON t.id = a.text_id"
    " WHERE t.state = 'elsewhere'"
)
# a URL another worker archived after it failed here has healed
HEAL_SQL = (
    "DELETE FROM failures WHERE EXISTS (SELECT 1 FROM articles a WHERE"
    " (a.url = failures.url OR a.final_url = failures.url) AND a.fetched_at >= failures.last_tried)"
)


# what a part must hold, each a plain table: a part comes from the bucket, written by whoever can
# write there, so a view or a trigger standing in for a table is not read
PART_TABLES = ("runs", "captures", "texts", "articles", "failures", "failure_events")


class PartRefused(ValueError):
    """A worker's manifest that is not one: unreadable, corrupt, or with views for tables."""


def _attach(db: sqlite3.Connection, part: Path) -> None:
    """Attach `part` as ``p``, read-only (a worker's live manifest is never written here); a
    PartRefused (and nothing attached) unless it is an intact manifest of plain tables."""
    try:
        db.execute("ATTACH DATABASE ? AS p", (f"file:{pathname2url(str(part))}?mode=ro",))
    except sqlite3.DatabaseError as exc:
        raise PartRefused(f"not a manifest: {exc}") from None
    try:
        _check_part(db)
    except PartRefused:
        db.execute("DETACH DATABASE p")
        raise


def _check_part(db: sqlite3.Connection) -> None:
    try:
        (check,) = db.execute("PRAGMA p.quick_check(1)").fetchone()
        kinds = dict(db.execute("SELECT name, type FROM p.sqlite_master"
                                " WHERE type IN ('table', 'view')"))  # fmt: skip
    except sqlite3.DatabaseError as exc:  # not a database at all
        raise PartRefused(f"not a manifest: {exc}") from None
    if check != "ok":
        raise PartRefused(f"corrupt: {check}")
    for table in PART_TABLES:
        if kinds.get(table) != "table":
            raise PartRefused(f"{table} is {'a ' + kinds[table] if table in kinds else 'missing'}")


@dataclass
class MergeReport:
    parts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # parts not merged, with the reason
    texts: int = 0
    articles: int = 0
    captures: int = 0
    failures: int = 0
    shared: int = 0  # texts with copies seen by more than one worker
    sidecars: int = 0  # of those, sidecars rewritten in the store to credit every copy

    def line(self) -> str:
        refused = f"; refused {'; '.join(self.refused)}" if self.refused else ""
        return (f"merged {len(self.parts) - len(self.refused)} manifest(s): {self.texts} texts, "
                f"{self.articles} articles, {self.captures} captures, {self.failures} failures; "
                f"{self.sidecars} sidecar(s) rewritten{refused}")  # fmt: skip


class Sidecars(Protocol):
    """Where the merge reads and rewrites the sidecars of texts several workers saw."""

    def get(self, stem: str) -> dict[str, Any] | None: ...
    def put(self, stem: str, sidecar: dict[str, Any]) -> None: ...


class StoreSidecars:
    """The sidecars in an object store (``text/NNN_HASH.json``), through a scratch directory."""

    def __init__(self, store: ObjectStore, scratch: Path) -> None:
        self.store = store
        self.scratch = scratch

    def get(self, stem: str) -> dict[str, Any] | None:
        path = self.scratch / f"{stem}.json"
        try:
            self.store.get(f"text/{stem}.json", path)
            data = json.loads(path.read_text(encoding="utf-8"))
        except (PushError, OSError, ValueError) as exc:
            # not pushed yet by the worker that stored it: its own push's merge comes after
            logger.info("sidecar of %s not read from %s: %s", stem, self.store.target, exc)
            return None
        return data if isinstance(data, dict) else None

    def put(self, stem: str, sidecar: dict[str, Any]) -> None:
        path = self.scratch / f"{stem}.json"
        path.write_bytes(json_bytes(sidecar))
        digest = digest_file(path, self.store.part_size, self.store.threshold)
        key = self.store.key(f"text/{stem}.json")
        with self.store.deadline():
            self.store.put(path, key, digest)
            self.store.verify(key, digest)


def _credit_shared(db: sqlite3.Connection, ids: Sequence[int], sidecars: Sidecars | None) -> int:
    """Name the canonical copy of each text several workers saw, among all its copies, and
    rewrite its sidecar in `sidecars` when that lists fewer. Returns how many were rewritten."""
    rewritten = 0
    db.row_factory = sqlite3.Row
    for text_id in ids:
        text = db.execute("SELECT * FROM texts WHERE id = ?", (text_id,)).fetchone()
        rows = db.execute(
            "SELECT * FROM articles WHERE text_id = ? ORDER BY fetched_at, url", (text_id,)
        ).fetchall()
        if text is None or not rows:
            continue
        stored = sidecars is not None and text["state"] == "stored"
        previous = sidecars.get(text["stem"]) if sidecars is not None and stored else None
        sidecar = build_sidecar(f"{text['stem']}.txt", text["sha256"], text["title"], rows,
                                previous)  # fmt: skip
        if sidecars is not None and previous is not None and sidecar != previous:
            sidecars.put(text["stem"], sidecar)
            rewritten += 1
        db.execute("UPDATE texts SET url = ?, outlet = ? WHERE id = ?",
                   (sidecar["url"], sidecar["outlet"], text_id))  # fmt: skip
    db.row_factory = None
    return rewritten


def merge_manifests(
    parts: Sequence[Path], dest: Path, sidecars: Sidecars | None = None
) -> MergeReport:
    """Merge `parts` (worker manifests) into a new manifest at `dest`, atomically; rewrite in
    `sidecars` those of the texts several workers saw (before the manifest is in place)."""
    if not parts:
        raise ValueError("no manifests to merge")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    report = MergeReport(parts=[str(p) for p in parts])
    shared: set[int] = set()
    try:
        tmp.unlink()
        Manifest(tmp).close()  # the schema, at this version
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to upload
            # a part's schema is not ours to trust: no function with side effects runs from it
            db.execute("PRAGMA trusted_schema=OFF")
            for part in parts:
                try:
                    _attach(db, part)
                except PartRefused as exc:
                    logger.warning("manifest part %s not merged: %s", part.name, exc)
                    report.refused.append(f"{part.name} ({exc})")
                    continue
                db.execute("BEGIN")
                for sql in _merge_sql(db):
                    db.execute(sql)
                shared.update(text_id for (text_id,) in db.execute(SHARED_SQL))
                db.execute("COMMIT")
                db.execute("DETACH DATABASE p")
            db.execute(HEAL_SQL)
            # parts of workers of an older version name no canonical copy and no record ids
            db.execute(BACKFILL_CANONICAL)
            db.execute(BACKFILL_RECORD_IDS)
            schema.fill_canonical_urls(db)  # ... and no canonical URLs
            report.shared = len(shared)
            report.sidecars = _credit_shared(db, sorted(shared), sidecars)
            for name in ("texts", "articles", "captures", "failures"):
                where = " WHERE state = 'stored'" if name == "texts" else ""
                (count,) = db.execute(f"SELECT COUNT(*) FROM {name}{where}").fetchone()
                setattr(report, name, count)
        finally:
            db.close()
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return report


def merge_in_store(store: ObjectStore, workdir: Path) -> MergeReport:
    """Merge every part under ``manifests/`` of `store` into its ``manifest.sqlite``."""
    keys = [k for k in store.list(PARTS_DIR) if k.endswith(".sqlite")]
    if not keys:
        raise ValueError(f"no worker manifests under {PARTS_DIR}/ in {store.target}")
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="merge-") as tmp:
        local = []
        for key in keys:
            path = Path(tmp) / key.replace("/", "__")
            store.get(key, path)
            local.append(path)
        merged = Path(tmp) / MERGED_KEY
        scratch = Path(tmp) / "sidecars"
        scratch.mkdir()
        report = merge_manifests(local, merged, StoreSidecars(store, scratch))
        report.parts = keys
        digest: FileDigest = digest_file(merged, store.part_size, store.threshold)
        with store.deadline():
            store.put(merged, store.key(MERGED_KEY), digest)
            store.verify(store.key(MERGED_KEY), digest)
    logger.info("%s into %s", report.line(), store.target)
    return report
