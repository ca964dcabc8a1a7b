"""``newsarchiver export``: (part of) an archive as a WACZ package (:mod:`storage.wacz`).

::

    newsarchiver export --archive DIR --wacz OUT.wacz [--outlet NAME] [--since DATE] [--allow-empty]

``--since`` is an ISO 8601 date (``2026-03-01``: from midnight UTC) or date-time
(``2026-03-01T06:00:00Z``, ``2026-03-01T08:00+02:00``; one without an offset is UTC); anything
else ("last week", ``2026-13-45``) is exit 2, as is an ``--outlet`` the archive does not know,
each one ``newsarchiver: --since: …`` / ``--outlet: …`` line, checked before the archive is
touched. An export with no page (nothing archived for that outlet, or since then) writes nothing
and exits 6, so that a scheduled export can tell "nothing new" from a crash (1);
``--allow-empty`` writes the package all the same (exit 0). On any error no WACZ is left behind,
whole or half, and a file already at ``OUT.wacz`` stays as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.cli.archive_commands import open_archive
from crawler.cli.common import DATE_EXAMPLES, parse_date
from crawler.outlets import ConfigError
from storage import lock
from storage.wacz import NothingToExport, UnknownOutlet, export_wacz

EXIT_OK, EXIT_EMPTY = 0, 6


def cmd_export(args: argparse.Namespace) -> int:
    since = parse_date(args.since, "--since") if args.since is not None else None
    layout, manifest = open_archive(args.archive)  # it takes the lock, updates the index in it
    manifest.close()
    out = Path(args.wacz)
    try:
        with lock.held(layout.lock_path):
            report = export_wacz(layout, out, outlet=args.outlet, since=since,
                                 allow_empty=args.allow_empty,
                                 software=f"newsarchiver {__version__}")  # fmt: skip
    except UnknownOutlet as exc:
        raise ConfigError(f"--outlet: {exc}") from None
    except NothingToExport as exc:
        print(f"newsarchiver: {exc}: {out} not written (--allow-empty writes it without pages)",
              file=sys.stderr)  # fmt: skip
        return EXIT_EMPTY
    print(f"wrote {report.path}: {report.pages} page(s), {report.warc_files} WARC file(s), "
          f"{report.bytes / 1e6:.1f} MB")  # fmt: skip
    return EXIT_OK


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export the archive (or part of it) as a WACZ file")
    p.add_argument("--archive", required=True)
    p.add_argument("--wacz", required=True, metavar="OUT.wacz")
    p.add_argument("--outlet", help="only this outlet's articles and their WARC files")
    p.add_argument("--since", metavar="DATE",
                   help=f"only articles fetched since then (ISO 8601, UTC unless it says; "
                        f"{DATE_EXAMPLES})")  # fmt: skip
    p.add_argument("--allow-empty", action="store_true",
                   help="write the package even when no article matches (else exit 6)")  # fmt: skip
    p.set_defaults(func=cmd_export)
