"""The stories of a whole archive: :func:`listing` (every story with its copies, the manifest's
``articles`` rows, read through an ATTACHed read-only manifest) and :func:`rebuild` (a new
``stories.sqlite`` from the manifest and the text files, assigned as a crawl would,
:class:`storage.stories.Stories`). Reads nothing of the settings: the caller passes the
thresholds (``STORIES_*``) to :func:`rebuild`.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from storage.stories import Stories, stories_path


def listing(archive: str | Path, since: str | None = None) -> list[dict[str, Any]]:
    """Every story with its copies (the manifest's ``articles`` rows: each outlet's URL of each
    of its texts), newest first (by its last published copy), named by the headline most of its
    copies carry; `since`: stories with a copy
    published on or after that date. Each: ``id``, ``title``, ``first_published``,
    ``last_published``, ``articles`` [{``url``, ``outlet``, ``title``, ``published``,
    ``text_file``, ``text_id``}] oldest first."""
    path = stories_path(archive)
    manifest = Path(archive) / "manifest.sqlite"
    if not path.exists() or not manifest.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        db.execute("ATTACH DATABASE ? AS m", (f"file:{manifest}?mode=ro",))
        rows = db.execute(
            "SELECT s.id, s.title AS story_title, st.text_id, a.url, a.outlet, t.title,"
            " coalesce(a.published, a.fetched_at) AS published, t.stem"
            " FROM stories s JOIN story_texts st ON st.story_id = s.id"
            " JOIN m.texts t ON t.id = st.text_id JOIN m.articles a ON a.text_id = t.id"
            " WHERE t.superseded_by IS NULL"
            " ORDER BY s.id, published, a.outlet, a.url"
        ).fetchall()
    finally:
        db.close()
    stories: dict[str, dict[str, Any]] = {}
    for r in rows:
        story = stories.setdefault(r["id"], {"id": r["id"], "title": r["story_title"],
                                             "articles": []})  # fmt: skip
        story["articles"].append({
            "url": r["url"], "outlet": r["outlet"], "title": r["title"],
            "published": r["published"], "text_file": f"text/{r['stem']}.txt",
            "text_id": r["text_id"],
        })  # fmt: skip
    out = []
    for story in stories.values():
        arts = story["articles"]
        copies = Counter(a["text_id"] for a in arts)
        # oldest first; on the same date (pages often give only a day) the text most outlets
        # ran first: it is the one the others are compared with
        arts.sort(key=lambda a: (a["published"] or "", -copies[a["text_id"]], a["text_id"],
                                 a["outlet"] or "", a["url"]))  # fmt: skip
        titles = Counter(a["title"] for a in arts)
        # named by the headline most copies carry (then the earliest copy's)
        story["title"] = max(arts, key=lambda a: titles[a["title"]])["title"]
        dates = [a["published"] for a in story["articles"] if a["published"]]
        story["first_published"] = min(dates, default=None)
        story["last_published"] = max(dates, default=None)
        if since and (story["last_published"] or "") < since:
            continue
        out.append(story)
    out.sort(key=lambda s: (s["last_published"] or "", s["id"]), reverse=True)
    return out


def read_text(path: Path) -> tuple[str, list[str]]:
    """A text file's title and paragraphs (``ArticleText.render()``: title, blank line,
    paragraphs separated by blank lines)."""
    title, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    return title.strip(), [p.strip() for p in body.split("\n\n") if p.strip()]


def rebuild(archive: str | Path, **thresholds: float) -> Stories:
    """A new ``stories.sqlite`` from the manifest and the text files: every current text
    (stored, not superseded), earliest published first, assigned as a crawl would. Returns the
    open :class:`Stories` (the caller closes it)."""
    root = Path(archive)
    path = stories_path(root)
    tmp = path.with_name(path.name + ".new")
    for old in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        old.unlink(missing_ok=True)
    db = sqlite3.connect(f"file:{root / 'manifest.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT t.id, t.sha256, t.stem, min(coalesce(a.published, a.fetched_at)) AS published"
            " FROM texts t JOIN articles a ON a.text_id = t.id"
            " WHERE t.state = 'stored' AND t.superseded_by IS NULL"
            " GROUP BY t.id ORDER BY published, t.id"
        ).fetchall()
    finally:
        db.close()
    stories = Stories(tmp, **thresholds)
    for text_id, sha, stem, published in rows:
        text_file = root / "text" / f"{stem}.txt"
        if not text_file.exists():
            continue
        title, paragraphs = read_text(text_file)
        stories.assign(text_id, title, paragraphs, published, sha)
    stories.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    tmp.replace(path)
    return Stories(path, **thresholds)
