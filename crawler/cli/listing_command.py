"""``newsarchiver articles``: the archive's articles as one listing (:mod:`storage.listing`).

::

    newsarchiver articles --archive DIR [--outlet NAME ...] [--since DATE] [--until DATE]
                          [--format table|csv|jsonl|parquet] [--out FILE]

One row per stored text and outlet URL. ``table`` (the default) is for a person: aligned, a few
columns, to stdout. ``csv`` has every field (:data:`storage.listing.FIELDS`), ``other_urls``
joined by a space (a URL has none), an empty cell for null. ``jsonl`` is one JSON object per line
with every field (null for none, ``other_urls`` a list). ``parquet`` is typed
(:mod:`storage.listing_parquet`) and needs ``--out``. ``--out`` is written atomically (a
temporary file renamed): a reader never sees half a listing. ``--since``/``--until`` are ISO 8601
dates or date-times (UTC unless they say), on the page's published date, or its fetch time when
the page gave none; ``--until`` is exclusive, a date meaning up to the end of that day. A bad date
or an outlet the archive does not know is one ``newsarchiver: --since: …`` line, exit 2.
The manifest is migrated first if it is of an older schema (the word counts filled).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from crawler.cli.common import DATE_EXAMPLES, parse_date
from crawler.outlets import ConfigError
from storage.layout import ArchiveLayout
from storage.listing import FIELDS, list_articles
from storage.listing_parquet import write_parquet
from storage.manifest import Manifest

EXIT_OK = 0
FORMATS = ("table", "csv", "jsonl", "parquet")
TABLE = ("published", "outlet", "words", "story", "title", "url")
TITLE_WIDTH = 60


def cmd_articles(args: argparse.Namespace) -> int:
    since = parse_date(args.since, "--since") if args.since is not None else None
    until = parse_date(args.until, "--until", end=True) if args.until is not None else None
    if args.format == "parquet" and not args.out:
        raise ConfigError("--format parquet: --out FILE is required (Parquet is not for stdout)")
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise ConfigError(f"--out: no directory {out.parent}")
    layout = ArchiveLayout(args.archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"--archive: no archive at {layout.root} (no manifest.sqlite)")
    manifest = Manifest(layout.manifest_path)  # migrated if older: the word counts filled
    try:
        known = manifest.outlets()
    finally:
        manifest.close()
    if unknown := [name for name in args.outlet if name not in known]:
        raise ConfigError(f"--outlet: the archive has no outlet {', '.join(unknown)} "
                          f"(it knows {', '.join(sorted(known)) or 'none'})")  # fmt: skip
    rows = list_articles(layout, args.outlet, since, until)
    if args.format == "parquet":
        assert out is not None
        count = write_parquet(rows, out)
    elif out is None:
        try:
            count = write_rows(rows, args.format, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        return EXIT_OK
    else:
        with atomic_text(out) as f:
            count = write_rows(rows, args.format, f)
    if out is not None:
        print(f"wrote {out}: {count} article row(s)")
    return EXIT_OK


@contextmanager
def atomic_text(out: Path) -> Iterator[IO[str]]:
    """A text file written under a temporary name beside `out`, renamed onto it when done."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, f: IO[str]) -> int:
    """The rows in `fmt` (table, csv, jsonl) to `f`; how many."""
    if fmt == "table":
        return write_table(rows, f)
    count = 0
    if fmt == "jsonl":
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow(
            [" ".join(row[k]) if k == "other_urls" else ("" if row[k] is None else row[k])
             for k in FIELDS]
        )  # fmt: skip
        count += 1
    return count


def write_table(rows: Iterable[dict[str, Any]], f: IO[str]) -> int:
    """An aligned table for a person: the date (published, else fetched, marked ``*``), outlet,
    words, story, title (cut to TITLE_WIDTH) and URL; then a count line."""
    cells = [list(TABLE)]
    texts: set[str] = set()
    for row in rows:
        date = (row["published"] or "")[:10] or f"{(row['fetched_at'] or '')[:10]}*"
        title = row["title"] or ""
        if len(title) > TITLE_WIDTH:
            title = title[: TITLE_WIDTH - 1] + "…"
        cells.append([date, row["outlet"] or "", "" if row["words"] is None else str(row["words"]),
                      row["story"] or "", title, row["url"]])  # fmt: skip
        texts.add(row["sha256"])
    widths = [max(len(r[i]) for r in cells) for i in range(len(TABLE))]
    for r in cells:
        line = "  ".join(c.rjust(w) if i == 2 else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # fmt: skip
        f.write(line.rstrip() + "\n")
    marked = any(r[0].endswith("*") for r in cells[1:])
    f.write(f"{len(cells) - 1} article row(s), {len(texts)} text(s)"
            + ("; * no published date: fetched" if marked else "") + "\n")  # fmt: skip
    return len(cells) - 1


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("articles", help="list the archive's articles (table, CSV, JSONL, Parquet)")
    p.add_argument("--archive", required=True, help="archive directory")
    p.add_argument("--outlet", action="append", default=[], metavar="NAME",
                   help="only this outlet's copies (repeatable)")  # fmt: skip
    when = ("the page's published date, or when it was fetched if the page gave none; ISO 8601, "
            f"UTC unless it says; {DATE_EXAMPLES}")  # fmt: skip
    p.add_argument("--since", metavar="DATE", help=f"only articles from then on ({when})")
    p.add_argument("--until", metavar="DATE",
                   help=f"only articles before then, a date included whole ({when})")  # fmt: skip
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default), csv, jsonl, parquet (needs --out)")  # fmt: skip
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.set_defaults(func=cmd_articles)
