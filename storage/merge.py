"""Merge the manifests of a distributed crawl's workers into one manifest for the whole archive.

Each worker keeps its own ``manifest.sqlite`` (its part: its captures, the texts it stored, the
articles it saw, its failures). Text numbers come from Redis, so a text has the same id in every
part; a part that only saw another worker's text has it as ``elsewhere``. The merged manifest has
every run, capture and article once, each text once (``stored`` wins over ``elsewhere``), for a
URL listed as failed by several workers the row tried last, minus URLs archived since by any of
them, and every failure event. Push records stay with each worker (they are about its disk).

:func:`merge_manifests` builds the result in a temporary file and renames it into place: a
reader never sees half a merge. :func:`merge_in_store` does it in object storage: it reads
``manifests/*.sqlite`` (each worker's push puts its part there) and writes ``manifest.sqlite``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage.manifest import Manifest
from storage.s3 import FileDigest, ObjectStore, digest_file

logger = logging.getLogger(__name__)

PARTS_DIR = "manifests"
MERGED_KEY = "manifest.sqlite"

CAPTURE_COLUMNS = (
    "run_id, url, method, status, fetched_at, warc_file, warc_offset, warc_length, record_id, "
    "record_type, warc_date, payload_digest, content_type, etag, last_modified"
)
FAILURE_COLUMNS = ", ".join(Manifest.FAILURE_FIELDS)
EVENT_COLUMNS = "url, outlet, run_id, reason, status, attempts, at, detail"

# one statement per table, reading the attached part `p` into the merged database
MERGE_SQL = (
    "INSERT OR IGNORE INTO runs SELECT run_id, started_at, finished_at, status, config, summary"
    " FROM p.runs",
    f"INSERT INTO captures ({CAPTURE_COLUMNS}) SELECT {CAPTURE_COLUMNS} FROM p.captures AS c"
    " WHERE NOT EXISTS (SELECT 1 FROM captures m WHERE m.warc_file = c.warc_file"
    " AND m.warc_offset = c.warc_offset)",
    "INSERT INTO texts (id, sha256, stem, state, title, created_at, run_id, superseded_by)"
    " SELECT id, sha256, stem, state, title, created_at, run_id, superseded_by FROM p.texts"
    " WHERE state != 'writing' AND true ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
    " title = excluded.title, created_at = excluded.created_at, run_id = excluded.run_id"
    " WHERE excluded.state = 'stored' AND texts.state != 'stored'",
    "INSERT OR IGNORE INTO articles SELECT a.url, a.text_id, a.final_url, a.outlet,"
    " a.http_status, a.fetched_at, a.warc_file, a.warc_offset, a.run_id FROM p.articles a"
    " JOIN p.texts t ON t.id = a.text_id WHERE t.state != 'writing'",
    f"INSERT INTO failures ({FAILURE_COLUMNS}) SELECT {FAILURE_COLUMNS} FROM p.failures"
    " WHERE true ON CONFLICT (url) DO UPDATE SET"
    f" ({FAILURE_COLUMNS}) = ({', '.join('excluded.' + c for c in Manifest.FAILURE_FIELDS)})"
    " WHERE excluded.last_tried > failures.last_tried",
    f"INSERT INTO failure_events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM p.failure_events",
)
# a URL another worker archived after it failed here has healed
HEAL_SQL = (
    "DELETE FROM failures WHERE EXISTS (SELECT 1 FROM articles a WHERE"
    " (a.url = failures.url OR a.final_url = failures.url) AND a.fetched_at >= failures.last_tried)"
)


@dataclass
class MergeReport:
    parts: list[str] = field(default_factory=list)
    texts: int = 0
    articles: int = 0
    captures: int = 0
    failures: int = 0

    def line(self) -> str:
        return (f"merged {len(self.parts)} manifest(s): {self.texts} texts, {self.articles} "
                f"articles, {self.captures} captures, {self.failures} failures")  # fmt: skip


def merge_manifests(parts: Sequence[Path], dest: Path) -> MergeReport:
    """Merge `parts` (worker manifests) into a new manifest at `dest`, atomically."""
    if not parts:
        raise ValueError("no manifests to merge")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    report = MergeReport(parts=[str(p) for p in parts])
    try:
        tmp.unlink()
        Manifest(tmp).close()  # the schema, at this version
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to upload
            for part in parts:
                # the part opened read-only: a worker's live manifest is never written here
                db.execute("ATTACH DATABASE ? AS p", (f"file:{part}?mode=ro",))
                db.execute("BEGIN")
                for sql in MERGE_SQL:
                    db.execute(sql)
                db.execute("COMMIT")
                db.execute("DETACH DATABASE p")
            db.execute(HEAL_SQL)
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
        report = merge_manifests(local, merged)
        report.parts = keys
        digest: FileDigest = digest_file(merged, store.part_size, store.threshold)
        with store.deadline():
            store.put(merged, store.key(MERGED_KEY), digest)
            store.verify(store.key(MERGED_KEY), digest)
    logger.info("%s into %s", report.line(), store.target)
    return report
