"""The ``newsarchiver`` commands that show an archive's stories (``ARCHIVE/stories.sqlite``).

::

    newsarchiver stories --archive DIR [--since DATE] [--json]   # every story, newest first
    newsarchiver story ID --archive DIR                          # one, with each copy's edits

``stories`` lists each story (:mod:`storage.stories`) with its copies: each outlet's URL of
each of its texts, oldest first, and their dates; stories are sorted by their last copy's date,
newest first. ``--since DATE`` (YYYY-MM-DD, or a full ISO time) keeps the stories with a copy
published then or later. ``--json`` prints an array of ``{"id", "title", "first_published",
"last_published", "articles": [{"url", "outlet", "title", "published", "text_file"}, …]}``.

``story ID`` shows one story: its earliest copy, then every other copy with what its text adds
(``+[…]``) or drops (``-[…]``) compared with the earliest copy's text (difflib over words; a
long run shortened to its first and last words with its length), a changed headline first, and
why it joined (near-duplicate of which text and how similar, or related by its keywords).

:func:`rebuild_stories` (``newsarchiver index --stories``) makes the file again from the
manifest and the text files. Settings read (defaults of crawler/settings.py, checked as a
crawl's): ``STORIES_NEAR_DUPLICATE_THRESHOLD``, ``STORIES_RELATED_THRESHOLD``,
``STORIES_WINDOW_DAYS``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

from crawler.outlets import ConfigError
from crawler.settings_check import CHECKS
from storage.archive_stories import listing, read_text, rebuild
from storage.stories import stories_path

EXIT_OK = 0
RUN_WORDS = 12  # a longer added or removed run is shown as its first and last words


def thresholds(overrides: dict[str, Any] | None = None) -> dict[str, float]:
    """The stories settings: crawler/settings.py's defaults (with `overrides`), checked."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="default")
    for name, value in (overrides or {}).items():
        settings.set(name, value)
    for name in ("STORIES_NEAR_DUPLICATE_THRESHOLD", "STORIES_RELATED_THRESHOLD",
                 "STORIES_WINDOW_DAYS"):  # fmt: skip
        CHECKS[name](settings, name)
    return {
        "near_threshold": settings.getfloat("STORIES_NEAR_DUPLICATE_THRESHOLD"),
        "related_threshold": settings.getfloat("STORIES_RELATED_THRESHOLD"),
        "window_days": settings.getfloat("STORIES_WINDOW_DAYS"),
    }


def rebuild_stories(archive: str | Path) -> str:
    """Rebuild ``stories.sqlite`` (the caller holds the archive's lock); a line to print."""
    stories = rebuild(archive, **thresholds())
    try:
        n_texts = len(stories)
        n_stories = stories.story_count()
    finally:
        stories.close()
    return f"stories: {n_texts} text(s) in {n_stories} story(ies); {stories_path(archive)}"


def _archive(archive: str) -> Path:
    root = Path(archive)
    if not (root / "manifest.sqlite").exists():
        raise ConfigError(f"no archive at {root} (no manifest.sqlite)")
    if not stories_path(root).exists():
        raise ConfigError(f"no stories in {root} (no {stories_path(root).name}: run "
                          f"`newsarchiver index --stories --archive {root}`)")  # fmt: skip
    return root


def _since(value: str | None) -> str | None:
    """``--since`` as given: the listing compares it with ISO dates as a string, so only what
    ``fromisoformat`` reads unchanged (no spaces, no Z) is taken."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since: {value!r} is not a date (YYYY-MM-DD)") from None
    return value


def _short(published: str | None) -> str:
    return (published or "-")[:16].replace("T", " ")


def cmd_stories(args: argparse.Namespace) -> int:
    root = _archive(args.archive)
    stories = listing(root, _since(args.since))
    if args.json:
        out = [{
            "id": s["id"], "title": s["title"], "first_published": s["first_published"],
            "last_published": s["last_published"],
            "articles": [{k: a[k] for k in ("url", "outlet", "title", "published", "text_file")}
                         for a in s["articles"]],
        } for s in stories]  # fmt: skip
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    several = 0
    for s in stories:
        outlets = {a["outlet"] for a in s["articles"]}
        texts = {a["text_id"] for a in s["articles"]}
        several += len(outlets) > 1
        print(f"{s['id']}  {s['title']}")
        print(f"  {len(outlets)} outlet(s), {len(texts)} text(s), {len(s['articles'])} copies, "
              f"{_short(s['first_published'])} to {_short(s['last_published'])}")  # fmt: skip
        for a in s["articles"]:
            print(f"  {_short(a['published'])}  {a['outlet']:<12} {a['text_file']:<28} {a['url']}")
    print(f"{len(stories)} story(ies), {several} of them from several outlets")
    return EXIT_OK


def _run(sign: str, run: list[str]) -> str:
    if len(run) > RUN_WORDS:
        shown = " ".join(run[:8]) + " … " + " ".join(run[-4:])
        return f"{sign}[{shown}] ({len(run)} words)"
    return f"{sign}[{' '.join(run)}]"


def word_diff(old: str, new: str) -> list[str]:
    """What `new` adds to and drops from `old`, word by word: ``+[…]`` and ``-[…]`` runs, each
    with the words before it (``after «…»``) so that a reader finds the place."""
    a, b = old.split(), new.split()
    changes = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        where = f"after «…{' '.join(a[max(0, i1 - 4) : i1])}»" if i1 else "at the start"
        parts = []
        if i2 > i1:
            parts.append(_run("-", a[i1:i2]))
        if j2 > j1:
            parts.append(_run("+", b[j1:j2]))
        changes.append(f"{' '.join(parts)}  {where}")
    return changes


def _why(join: tuple[int | None, float | None], files: dict[int, str]) -> str:
    """Why a text is in the story: the text it is a near-duplicate of, or its keywords."""
    near, sim = join
    if near is not None and sim is not None:
        return f"near-duplicate of {files.get(near, f'text {near}')} (similarity {sim:.2f})"
    if sim is not None:
        return f"related: its title and lead share keywords (similarity {sim:.2f})"
    return "started the story (the first of its texts the archive stored)"


def cmd_story(args: argparse.Namespace) -> int:
    root = _archive(args.archive)
    matches = [s for s in listing(root) if s["id"].startswith(args.id)]
    if len(matches) != 1:
        why = "no such story" if not matches else f"{len(matches)} stories start so"
        raise ConfigError(f"story {args.id}: {why} in {stories_path(root)}")
    story = matches[0]
    db = sqlite3.connect(f"file:{stories_path(root)}?mode=ro", uri=True)
    try:
        joined = {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT text_id, near_duplicate_of, similarity FROM story_texts WHERE story_id = ?",
            (story["id"],),
        )}  # fmt: skip
    finally:
        db.close()
    files = {a["text_id"]: a["text_file"] for a in story["articles"]}
    first = story["articles"][0]
    title0, paras0 = read_text(root / first["text_file"])
    body0 = "\n".join(paras0)
    outlets = {a["outlet"] for a in story["articles"]}
    print(f"story {story['id']}  {story['title']}")
    print(f"{len(outlets)} outlet(s), {len(files)} text(s), {_short(story['first_published'])} to "
          f"{_short(story['last_published'])}\n")  # fmt: skip
    print(f"earliest: {_short(first['published'])}  {first['outlet']}  {first['text_file']}  "
          f"{first['url']}")  # fmt: skip
    print(f"  {title0}")
    print(f"  {_why(joined.get(first['text_id'], (None, None)), files)}")
    for a in story["articles"][1:]:
        print(f"\n{_short(a['published'])}  {a['outlet']}  {a['text_file']}  {a['url']}")
        if a["text_id"] == first["text_id"]:
            print("  same text as the earliest copy")
            continue
        print(f"  {_why(joined.get(a['text_id'], (None, None)), files)}")
        title, paras = read_text(root / a["text_file"])
        if title != title0:
            print(f"  headline: {_run('-', title0.split())} {_run('+', title.split())}")
        changes = word_diff(body0, "\n".join(paras))
        for change in changes:
            print(f"  {change}")
        if not changes:
            print("  same body as the earliest copy")
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("stories", help="list the archive's stories, newest first")
    p.add_argument("--archive", required=True)
    p.add_argument("--since", metavar="DATE", help="stories with a copy published on or after")
    p.add_argument("--json", action="store_true", help="a JSON array (see the README)")
    p.set_defaults(func=cmd_stories)

    p = sub.add_parser("story", help="one story: each outlet's copy and what its text changes")
    p.add_argument("id", metavar="ID", help="a story id (or a unique start of one)")
    p.add_argument("--archive", required=True)
    p.set_defaults(func=cmd_story)
