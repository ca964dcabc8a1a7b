"""``newsarchiver search``: the archive's texts that match a full-text query, best first.

::

    newsarchiver search QUERY --archive DIR [--outlet NAME ...] [--since YYYY-MM-DD]
                              [--until YYYY-MM-DD] [--limit N] [--json]
    newsarchiver index --archive DIR --search   # (crawler/cli/archive_commands.py) rebuild it

It reads ARCHIVE/search.sqlite (:mod:`storage.search`), which the crawl keeps up to date
(:mod:`crawler.extensions.search_index`) and ``index --search`` makes again from the manifest and
the text files (:func:`rebuild`). An archive without one is an error that says how to build it
(exit 2): the build reads every text file, minutes on a large archive, and needs the archive's
lock, which a search, a reader, should neither wait for nor take.

Each result is one text (a syndicated text stored once is one result, listing its outlets): its
title, the outlet, date and URL of the copy that matched the filters (the earliest published),
its text file and a snippet, the matched words highlighted: bold on a terminal (plain ``[ ]``
when ``NO_COLOR`` is set or stdout is not one) and ``[ ]`` in ``--json``, whose array of objects
(``rank``, ``score``, ``title``, ``url``, ``outlet``, ``published``, ``outlets``, ``urls``,
``snippet``, ``text_file``, ``text_id``) is ranked best first. A query FTS5 cannot read, a date
that is not YYYY-MM-DD or an outlet the index does not know is one ``newsarchiver: …`` line,
exit 2.

Reads no settings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from crawler.cli.common import parse_day
from crawler.outlets import ConfigError
from crawler.settings_check import check_archive_dir
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.search import MARK_END, MARK_START, BadQuery, Hit, SearchIndex

EXIT_OK = 0
SEARCH_FILE = "search.sqlite"
BOLD, RESET = "\x1b[1m", "\x1b[0m"
_SPACE = re.compile(r"\s+")


def search_path(layout: ArchiveLayout) -> Path:
    return layout.root / SEARCH_FILE


def rebuild(layout: ArchiveLayout) -> str:
    """Make ARCHIVE/search.sqlite again from the manifest and the text files (the caller holds
    the archive's lock); the line ``index --search`` prints. A file that is not a database is
    replaced."""
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    path = search_path(layout)
    started = time.monotonic()
    try:
        index = SearchIndex(path)
    except sqlite3.DatabaseError:  # not a database (a broken copy): made anew
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        index = SearchIndex(path)
    manifest = Manifest(layout.manifest_path)
    try:
        done = index.rebuild(manifest, layout.text_dir)
        total = index.count()
    finally:
        manifest.close()
        index.close()
    for stem in done.missing:
        print(f"newsarchiver: search index: text {stem} is in the manifest but its file is not "
              f"in {layout.text_dir}", file=sys.stderr)  # fmt: skip
    return (f"search index {path}: {total} text(s) indexed in "
            f"{time.monotonic() - started:.1f} s")  # fmt: skip


def open_index(archive: str) -> SearchIndex:
    """The archive's search index, read-only; a ConfigError (exit 2) saying how to build it."""
    check_archive_dir(archive)
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    path = search_path(layout)
    if not path.exists():
        raise ConfigError(f"search: no search index in {layout.root} ({SEARCH_FILE}); build it "
                          f"with `newsarchiver index --search --archive {archive}`")  # fmt: skip
    try:
        index = SearchIndex(path, readonly=True)
        index.count()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"search: {path} is not a search index ({exc}); make it again with "
            f"`newsarchiver index --search --archive {archive}`"
        ) from None
    return index


def highlight(snippet: str, start: str, end: str) -> str:
    """`snippet` on one line, its matched words between `start` and `end`."""
    return _SPACE.sub(" ", snippet).strip().replace(MARK_START, start).replace(MARK_END, end)


def as_json(rank: int, hit: Hit) -> dict[str, Any]:
    """One object of ``search --json``, its keys in this order."""
    return {
        "rank": rank, "score": hit.score, "title": hit.title, "url": hit.url,
        "outlet": hit.outlet, "published": hit.published, "outlets": hit.outlets,
        "urls": hit.urls, "snippet": highlight(hit.snippet, "[", "]"),
        "text_file": hit.text_file, "text_id": hit.text_id,
    }  # fmt: skip


def cmd_search(args: argparse.Namespace) -> int:
    query = args.query.strip()
    if not query:
        raise ConfigError("search: the query is empty")
    if args.limit < 1:
        raise ConfigError(f"search: --limit must be 1 or more, not {args.limit}")
    since = parse_day(args.since, "search: --since") if args.since is not None else None
    until = parse_day(args.until, "search: --until") if args.until is not None else None
    index = open_index(args.archive)
    try:
        if args.outlet:
            known = index.outlets()
            unknown = [o for o in args.outlet if o not in known]
            if unknown:
                raise ConfigError(f"search: no outlet {unknown[0]!r} in the search index (its "
                                  f"outlets: {', '.join(sorted(known))})")  # fmt: skip
        try:
            hits = index.search(query, args.outlet or (), since, until, args.limit)
        except BadQuery as exc:
            raise ConfigError(
                f"search: bad query {query!r}: {exc} (quote words with punctuation, "
                f'"like-this"; operators AND, OR, NOT, NEAR in capitals)'
            ) from None
    finally:
        index.close()
    if args.json:
        print(json.dumps([as_json(i, h) for i, h in enumerate(hits, 1)], ensure_ascii=False,
                         indent=2))  # fmt: skip
        return EXIT_OK
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    start, end = (BOLD, RESET) if bold else ("[", "]")
    for i, hit in enumerate(hits, 1):
        others = [o for o in hit.outlets if o != hit.outlet]
        also = f"  (also {', '.join(others)})" if others else ""
        print(f"{i:>2}. {hit.title}")
        print(f"    {hit.outlet or '-'}  {(hit.published or '-')[:10]}  {hit.text_file}"
              f"  score {hit.score:.2f}{also}")  # fmt: skip
        print(f"    {highlight(hit.snippet, start, end)}")
        print(f"    {hit.url}")
    print(f"{len(hits)} result(s)" + (f" (--limit {args.limit})" if len(hits) == args.limit
                                       else ""))  # fmt: skip
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("search", help="full-text search of the archive's texts")
    p.add_argument(
        "query",
        metavar="QUERY",
        help='FTS5 syntax: words, "a phrase", prefix*, AND/OR/NOT, title:word',
    )
    p.add_argument("--archive", required=True)
    p.add_argument(
        "--outlet",
        action="append",
        metavar="NAME",
        help="only texts one of these outlets published (repeat for several)",
    )
    p.add_argument("--since", metavar="YYYY-MM-DD", help="published on this day or later")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="published on this day or before")
    p.add_argument("--limit", type=int, default=20, help="at most this many results (20)")
    p.add_argument("--json", action="store_true", help="a JSON array, best first")
    p.set_defaults(func=cmd_search)  # fmt: skip
