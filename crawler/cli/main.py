"""The ``newsarchiver`` command.

::

    newsarchiver crawl    --config FILE --archive DIR [--outlet NAME ...] [--refresh] [--quiet]
                          [-s N=V ...]
                          [--redis URL [--worker-id ID] [--cluster NAME]]
    newsarchiver retry    --archive DIR [--all] [--outlet NAME ...] [-s N=V ...]
    newsarchiver failures --archive DIR [--json] [--outlet NAME ...] [--reason R]
    newsarchiver status   --archive DIR [--runs N] [-s PUSH_TO=URI]
    newsarchiver push     --archive DIR [--to s3://BUCKET/PREFIX] [--endpoint-url URL]
                          [--create-bucket] [--dry-run] [--delete-local-after-verify]
    newsarchiver seed     --config FILE --redis URL [--cluster NAME] [--archive DIR]
    newsarchiver merge    --to s3://BUCKET/PREFIX | --out FILE MANIFEST...
    newsarchiver demo     [--archive DIR]   # serve the bundled demo outlets on loopback, crawl them
    newsarchiver index | lookup | extract | reextract   (crawler/cli/archive_commands.py)
    newsarchiver export   --archive DIR --wacz OUT [--outlet NAME] [--since DATE] [--allow-empty]

This module builds the parser from the command groups' modules (:mod:`crawler.cli`) and runs
a command; it reads no settings itself. ``crawl`` (:mod:`crawler.cli.crawl_commands`) loads and
checks the outlet config, builds the Scrapy settings from :mod:`crawler.settings` (``-s``
overrides last, as in scrapy), runs :class:`OutletsSpider` in a ``CrawlerProcess`` and prints the
run summary. Exit codes: 0 the run completed (failed pages are data, not a crash), 1 a crash,
2 a configuration or settings error (bad config file, setting, option or archive directory: one
``newsarchiver: …`` line on stderr, before any request), 3 the archive is locked, 4 the push
failed, 5 the archive's disk is full (``export``: also 6, nothing to export). ``scrapy crawl
outlets`` runs the same crawl through the same code (:func:`crawler.runner.crawl_archive`,
:mod:`crawler.commands.crawl`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from crawler import __version__
from crawler.cli import (
    archive_commands,
    cluster_commands,
    crawl_commands,
    export_command,
    failure_commands,
    listing_command,
    push_commands,
    report_command,
    search_command,
    stories_commands,
)
from crawler.cli.common import add_set
from crawler.runner import reported


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsarchiver", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"newsarchiver {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    # the order of `newsarchiver --help`
    crawl_commands.add_crawl_parser(sub)
    failure_commands.add_parsers(sub)
    push_commands.add_push_parser(sub)
    cluster_commands.add_parsers(sub, add_set)
    push_commands.add_status_parser(sub)
    archive_commands.add_parsers(sub)
    export_command.add_parser(sub)
    report_command.add_parsers(sub)
    listing_command.add_parsers(sub)
    stories_commands.add_parsers(sub)
    search_command.add_parsers(sub)
    crawl_commands.add_demo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return reported(lambda: int(args.func(args)), getattr(args, "archive", None))


if __name__ == "__main__":
    sys.exit(main())
