"""``newsarchiver retry`` and ``newsarchiver failures``: the archive's failed URLs.

::

    newsarchiver retry    --archive DIR [--all] [--outlet NAME ...] [-s N=V ...]
    newsarchiver failures --archive DIR [--json] [--outlet NAME ...] [--reason R]

``retry`` crawls the failures now (the pending ones, ``--all``: gave_up too) with the outlet
config of the archive's last run; ``failures`` lists them (the manifest's failures table).
Settings read: ``URLLENGTH_LIMIT`` (retry, and what ``-s`` sets for its crawl).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crawler.cli.common import add_set, open_manifest
from crawler.outlets import ConfigError, parse_config
from crawler.runner import EXIT_OK, build_settings, finish, run_crawl
from crawler.settings_check import check_archive_dir
from storage.layout import ArchiveLayout

FAILURE_COLUMNS = ("url", "outlet", "reason", "status", "attempts", "runs_failed", "state",
                   "next_retry_at")  # fmt: skip


def cmd_retry(args: argparse.Namespace) -> int:
    """Retry the archive's failures now, with the outlet config of its last run."""
    layout = ArchiveLayout(args.archive)
    check_archive_dir(args.archive)
    manifest = open_manifest(args.archive)
    try:
        stored = manifest.last_run_config()
    finally:
        manifest.close()
    if not stored:
        raise ConfigError(f"the archive at {layout.root} has no crawl to take the outlets from")
    settings = build_settings(args.archive, args.set)
    config = parse_config(stored, source=f"{layout.manifest_path} (last run's config)",
                          url_length_limit=settings.getint("URLLENGTH_LIMIT"))  # fmt: skip
    config = config.select(args.outlet)
    return finish(run_crawl(config, settings, retry="all" if args.all else "pending"))


def cmd_failures(args: argparse.Namespace) -> int:
    manifest = open_manifest(args.archive)
    try:
        rows = manifest.failures(args.outlet or None, args.reason)
    finally:
        manifest.close()
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    table = [list(FAILURE_COLUMNS)] + [
        ["" if r[c] is None else str(r[c]) for c in FAILURE_COLUMNS] for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(FAILURE_COLUMNS))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"{len(rows)} failure(s)")
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    retry = sub.add_parser("retry", help="retry the archive's failed URLs now")
    retry.add_argument("--archive", required=True, help="archive directory")
    retry.add_argument("--all", action="store_true", help="gave_up URLs too")
    retry.add_argument("--outlet", action="append", default=[], metavar="NAME",
                       help="only this outlet's failures (repeatable)")  # fmt: skip
    add_set(retry)
    retry.set_defaults(func=cmd_retry)

    failures = sub.add_parser("failures", help="list the archive's failed URLs")
    failures.add_argument("--archive", required=True, help="archive directory")
    failures.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    failures.add_argument("--outlet", action="append", default=[], metavar="NAME")
    failures.add_argument("--reason", help="only this reason (http_403, timeout, soft_404…)")
    failures.set_defaults(func=cmd_failures)
