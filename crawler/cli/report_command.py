"""``newsarchiver report``: a crawl report of an archive, one self-contained HTML file.

::

    newsarchiver report --archive DIR --out report.html [--since DATE]

Reads the archive (:mod:`storage.report_data`, read-only: it runs beside a crawl, no lock),
draws the charts (:mod:`crawler.report.charts`) and writes the page (:mod:`crawler.report.page`)
atomically: a temporary file beside ``--out``, then a rename, so a reader never sees half a
report and a report already there stays as it was on any error. ``--since`` takes what
``export`` takes (an ISO 8601 date or date-time, UTC unless it says); anything else, an archive
directory without a manifest or an ``--out`` whose directory does not exist is exit 2, one
``newsarchiver: …`` line.
Settings: none.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from crawler.cli.common import DATE_EXAMPLES, parse_date
from crawler.outlets import ConfigError
from crawler.report.page import render
from storage.layout import ArchiveLayout
from storage.report_data import report_data

EXIT_OK = 0


def write_report(archive: Path, out: Path, since: str | None = None) -> tuple[Path, float]:
    """Write the report of `archive` to `out`; (the path, seconds taken). ConfigError (exit 2)
    for a bad `since`, no manifest or no directory for `out`."""
    started = time.monotonic()
    cut = parse_date(since, "--since") if since is not None else None
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.is_file():
        raise ConfigError(f"--archive: no archive at {layout.root} (no manifest.sqlite)")
    if not out.parent.is_dir():
        raise ConfigError(f"--out: no directory {out.parent} to write {out.name} in")
    page = render(report_data(layout.root, cut)).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a report is for reading
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out, time.monotonic() - started


def cmd_report(args: argparse.Namespace) -> int:
    path, seconds = write_report(Path(args.archive), Path(args.out), args.since)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB) in {seconds:.1f} s")
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("report", help="a crawl report of the archive: one self-contained HTML file")
    p.add_argument("--archive", required=True, help="archive directory")
    p.add_argument("--out", required=True, metavar="REPORT.html", help="the HTML file to write")
    p.add_argument("--since", metavar="DATE",
                   help="only what happened since then (ISO 8601, UTC unless it says; "
                        f"{DATE_EXAMPLES})")  # fmt: skip
    p.set_defaults(func=cmd_report)
