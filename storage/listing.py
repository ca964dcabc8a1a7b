"""The archive's articles as one listing: a row per stored text and outlet URL.

A row is one ``articles`` row of the manifest (:mod:`storage.manifest`) whose text is stored
here (``texts.state = 'stored'``) and is the text's latest version (a text a re-extraction
superseded is left out: its article is listed with the new text): the copy's URLs (``url``,
``canonical_url``, ``final_url``), ``outlet``, the text's ``title``, the page's ``author``,
``published`` (as the page gave it) and ``language``, ``fetched_at``, the text file
(``text_file``, relative to the archive) and its ``sha256``, ``words`` (the body's word count,
``texts.words``: counted from the file for a text of a manifest that has none), ``other_urls``
(the text's other copies' URLs, in fetch order: the same story at another URL or syndicated by
another outlet) and ``story`` (its story id in ``stories.sqlite``, or None).

``since``/``until`` filter on the page's published date, or on ``fetched_at`` when the page gave
none (or one that is not an ISO 8601 date). Rows come in text order (``NNN``), then fetch order.
Reads only: it never writes the manifest, and reads it in one transaction (a crawl may run).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from storage.layout import ArchiveLayout
from storage.schema import body_words, columns
from storage.stories import story_ids

FIELDS = (
    "url", "canonical_url", "final_url", "outlet", "title", "author", "published", "language",
    "fetched_at", "text_file", "sha256", "words", "other_urls", "story",
)  # fmt: skip

LISTING_SQL = (
    "SELECT a.text_id, a.url, a.canonical_url, a.final_url, a.outlet, t.title, a.author,"
    " a.published, a.language, a.fetched_at, t.stem, t.sha256, {words} AS words"
    " FROM articles a JOIN texts t ON t.id = a.text_id"
    " WHERE t.state = 'stored' AND t.superseded_by IS NULL"
    " ORDER BY a.text_id, a.fetched_at, a.url"
)


@lru_cache(maxsize=65_536)
def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime (a date: its midnight UTC; no
    offset: UTC); None for anything else."""
    if not value:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def list_articles(
    layout: ArchiveLayout,
    outlets: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The listing's rows (dicts of :data:`FIELDS`), filtered by outlet and by date: a row is in
    when ``since <= date`` and ``date < until`` (`date`: published, else fetched_at)."""
    stories = story_ids(layout.root / "stories.sqlite")
    db = sqlite3.connect(f"file:{layout.manifest_path}?mode=ro", uri=True, timeout=30)
    try:
        words = "t.words" if "words" in columns(db, "texts") else "NULL"  # schema 3 read-only
        db.execute("BEGIN")  # one snapshot of the manifest, whatever a crawl writes meanwhile
        cursor = db.execute(LISTING_SQL.format(words=words))
        # every copy read, the outlets filtered here: a copy's other_urls are all the others'
        yield from _rows(layout, cursor, stories, set(outlets), since, until)
    finally:
        db.close()


def _rows(
    layout: ArchiveLayout,
    cursor: sqlite3.Cursor,
    stories: dict[int, str],
    outlets: set[str],
    since: datetime | None,
    until: datetime | None,
) -> Iterator[dict[str, Any]]:
    group: list[tuple[Any, ...]] = []
    while batch := cursor.fetchmany(10_000):
        for row in batch:
            if group and group[0][0] != row[0]:
                yield from _text_rows(layout, group, stories, outlets, since, until)
                group = []
            group.append(row)
    if group:
        yield from _text_rows(layout, group, stories, outlets, since, until)


def _text_rows(
    layout: ArchiveLayout,
    group: list[tuple[Any, ...]],
    stories: dict[int, str],
    outlets: set[str],
    since: datetime | None,
    until: datetime | None,
) -> Iterator[dict[str, Any]]:
    """The rows of one text's copies (all of them in `group`: their URLs are each other's
    other_urls, whichever the filters keep)."""
    if outlets and not any(row[4] in outlets for row in group):
        return
    text_id, stem, words = group[0][0], group[0][10], group[0][12]
    urls = [row[1] for row in group]
    if words is None:  # a manifest older than texts.words, opened read-only: count it
        try:
            words = body_words(layout.text_path(stem).read_text(encoding="utf-8"))
        except OSError:
            words = None
    for row in group:
        (_, url, canonical, final, outlet, title, author, published, language, fetched,
         _, sha, _) = row  # fmt: skip
        if outlets and outlet not in outlets:
            continue
        if since is not None or until is not None:
            when = parse_time(published) or parse_time(fetched)
            if when is None or (since is not None and when < since):
                continue
            if until is not None and when >= until:
                continue
        yield {
            "url": url, "canonical_url": canonical, "final_url": final, "outlet": outlet,
            "title": title, "author": author, "published": published, "language": language,
            "fetched_at": fetched, "text_file": f"text/{stem}.txt", "sha256": sha,
            "words": words, "other_urls": [u for u in urls if u != url],
            "story": stories.get(text_id),
        }  # fmt: skip
