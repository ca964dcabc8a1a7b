"""The manifest's schema (:mod:`storage.manifest`) and its migration from older versions.

Version 1 went out with ``texts`` and ``articles`` as one row per text and per URL. Columns
added since (:data:`MIGRATED`) are added to an older manifest when it is opened, and filled from
what it has: ``texts.superseded_by``; ``texts.url``/``texts.outlet``, the text's canonical copy
(:mod:`storage.sidecar`), set to its first copy, the one its sidecar names until the text gets
another copy; ``articles.published``/``author``/``language``, the page's own, unknown for the
copies stored before (a sidecar names them for its first copy, and its rebuild keeps them);
``articles.warc_record_id``, from the copy's ``captures`` row; and (version 3)
``articles.canonical_url``, the identity of the copy's URL (:mod:`storage.url_identity`: its
canonical URL, by which "archived already?" asks), made from the URL by the default rules (the
manifest does not know the outlets' ``keep_params``) by :func:`fill_canonical_urls`; and
(version 4) ``texts.words``, the word count of the text's body (its paragraphs, not its title
line), counted from the text files by :func:`fill_words` (a text whose file is not in this
archive, another worker's, stays NULL: the listing counts it if the file turns up).

Not to be confused with ``texts.url``, the text's *canonical copy* (one of its URLs).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from storage.url_identity import canonical_or_none

logger = logging.getLogger(__name__)

# 2: texts.url/outlet (the canonical copy), articles.published/author/language/warc_record_id
# 3: articles.canonical_url (the URL's identity)
# 4: texts.words (the body's word count, for the listing: crawler/cli/listing_command.py)
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    config TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY, run_id TEXT, url TEXT NOT NULL, method TEXT NOT NULL,
    status INTEGER, fetched_at TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,
    warc_length INTEGER NOT NULL, record_id TEXT NOT NULL, record_type TEXT NOT NULL,
    warc_date TEXT NOT NULL, payload_digest TEXT, content_type TEXT, etag TEXT, last_modified TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url);
CREATE INDEX IF NOT EXISTS captures_digest ON captures (payload_digest);
-- a copy's record by its file and offset (the migration's backfill, the crash repair)
CREATE INDEX IF NOT EXISTS captures_record ON captures (warc_file, warc_offset);
-- what a revisit refers to (WARC-Refers-To), for the index (storage/index.py)
CREATE INDEX IF NOT EXISTS captures_record_id ON captures (record_id);
CREATE TABLE IF NOT EXISTS texts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL UNIQUE, stem TEXT NOT NULL,
    state TEXT NOT NULL, title TEXT, created_at TEXT NOT NULL, run_id TEXT,
    superseded_by INTEGER, url TEXT, outlet TEXT, words INTEGER
);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT NOT NULL, text_id INTEGER NOT NULL REFERENCES texts (id), final_url TEXT,
    outlet TEXT, http_status INTEGER, fetched_at TEXT, warc_file TEXT, warc_offset INTEGER,
    run_id TEXT, published TEXT, author TEXT, language TEXT, warc_record_id TEXT,
    canonical_url TEXT, PRIMARY KEY (url, text_id)
);
CREATE INDEX IF NOT EXISTS articles_text ON articles (text_id);
CREATE INDEX IF NOT EXISTS articles_final_url ON articles (final_url);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY, outlet TEXT, kind TEXT, reason TEXT NOT NULL, status INTEGER,
    attempts INTEGER NOT NULL, runs_failed INTEGER NOT NULL, first_failed TEXT NOT NULL,
    last_tried TEXT NOT NULL, next_retry_at TEXT, detail TEXT, state TEXT NOT NULL,
    last_run_id TEXT
);
CREATE INDEX IF NOT EXISTS failures_due ON failures (state, next_retry_at);
CREATE TABLE IF NOT EXISTS failure_events (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, outlet TEXT, run_id TEXT, reason TEXT NOT NULL,
    status INTEGER, attempts INTEGER NOT NULL, at TEXT NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS failure_events_url ON failure_events (url);
CREATE TABLE IF NOT EXISTS pushes (
    target TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, verified TEXT NOT NULL, pushed_at TEXT NOT NULL,
    PRIMARY KEY (target, path)
);
"""


# Texts without a canonical copy named (manifests of schema version 1, parts of a merge made by
# a worker of that version): their first copy, the one their sidecar names.
BACKFILL_CANONICAL = (
    "UPDATE texts SET url = (SELECT a.url FROM articles a WHERE a.text_id = texts.id"
    " ORDER BY a.fetched_at, a.url LIMIT 1), outlet = (SELECT a.outlet FROM articles a"
    " WHERE a.text_id = texts.id ORDER BY a.fetched_at, a.url LIMIT 1) WHERE url IS NULL"
)
BACKFILL_RECORD_IDS = (
    "UPDATE articles SET warc_record_id = (SELECT c.record_id FROM captures c"
    " WHERE c.warc_file = articles.warc_file AND c.warc_offset = articles.warc_offset"
    " ORDER BY c.id LIMIT 1) WHERE warc_record_id IS NULL AND warc_file IS NOT NULL"
)
# columns added since schema version 1, in the order they were added, with their types
MIGRATED = {
    ("texts", "superseded_by"): "INTEGER",
    ("texts", "url"): "TEXT",
    ("texts", "outlet"): "TEXT",
    ("articles", "published"): "TEXT",
    ("articles", "author"): "TEXT",
    ("articles", "language"): "TEXT",
    ("articles", "warc_record_id"): "TEXT",
    ("articles", "canonical_url"): "TEXT",
    ("texts", "words"): "INTEGER",
}
ARTICLE_COLUMNS = (
    "url", "text_id", "final_url", "outlet", "http_status", "fetched_at", "warc_file",
    "warc_offset", "run_id", "published", "author", "language", "warc_record_id", "canonical_url",
)  # fmt: skip


def columns(db: sqlite3.Connection, table: str, database: str = "main") -> set[str]:
    """The column names of `table` (in an attached `database`)."""
    return {row[1] for row in db.execute(f"PRAGMA {database}.table_info({table})")}


def missing_columns(db: sqlite3.Connection) -> list[tuple[str, str]]:
    have = {table: columns(db, table) for table in ("texts", "articles")}
    return [(table, column) for table, column in MIGRATED if column not in have[table]]


def migrate(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Add and fill the missing columns; run inside a write transaction. Returns what it added."""
    missing = missing_columns(db)
    for table, column in missing:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {MIGRATED[table, column]}")
    if ("texts", "url") in missing:
        db.execute(BACKFILL_CANONICAL)
    if ("articles", "warc_record_id") in missing:
        db.execute(BACKFILL_RECORD_IDS)
    if ("articles", "canonical_url") in missing:
        # once per old archive, some µs a row: a large archive's first open takes seconds
        logger.info("manifest migrated: canonical URLs of %d article row(s) filled",
                    fill_canonical_urls(db))  # fmt: skip
    if ("texts", "words") in missing:
        logger.info("manifest migrated: word counts of %d text(s) filled", fill_words(db))
    if missing:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    return missing


def fill_canonical_urls(db: sqlite3.Connection) -> int:
    """Fill ``articles.canonical_url`` where it is NULL (rows stored before schema version 3, or
    merged from a part an older worker wrote): the identity of the row's URL by the default
    rules. Returns how many rows it filled."""
    db.create_function("na_canonical_url", 1, canonical_or_none, deterministic=True)
    return db.execute(
        "UPDATE articles SET canonical_url = na_canonical_url(url) WHERE canonical_url IS NULL"
    ).rowcount


def body_words(text: str) -> int:
    """The word count of a text file's body: what follows its title line (``render``: title,
    blank line, paragraphs), words being runs of non-space characters."""
    return len(text.partition("\n\n")[2].split())


def text_dir(db: sqlite3.Connection) -> Path | None:
    """The ``text/`` directory beside the manifest `db` is the file of (None: in memory)."""
    main = next((row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main"), "")
    return Path(main).parent / "text" if main else None


def fill_words(db: sqlite3.Connection) -> int:
    """Fill ``texts.words`` where it is NULL from the stored text files beside the manifest
    (once per archive of schema version 3: about 60 µs a text, 6 s for 100,000). Returns how many
    it filled; a text whose file is missing (another worker's) stays NULL."""
    folder = text_dir(db)
    if folder is None:
        return 0
    found: list[tuple[int, int]] = []
    for text_id, stem in db.execute(
        "SELECT id, stem FROM texts WHERE words IS NULL AND state = 'stored'"
    ).fetchall():
        try:
            text = (folder / f"{stem}.txt").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.append((body_words(text), text_id))
    db.executemany("UPDATE texts SET words = ? WHERE id = ?", found)
    return len(found)
