"""``newsarchiver crawl`` and ``newsarchiver demo``.

::

    newsarchiver crawl --config FILE --archive DIR [--outlet NAME ...] [--refresh] [--quiet]
                       [--push URI] [-s N=V ...] [--redis URL [--worker-id ID] [--cluster NAME]]
    newsarchiver demo  [--archive DIR]   # serve the bundled demo outlets on loopback, crawl them

``crawl`` loads and checks the outlet config, builds the Scrapy settings from
:mod:`crawler.settings` (``-s`` overrides last) and runs the crawl through
:func:`crawler.runner.crawl_archive` (or :func:`crawler.cli.quiet.quiet_crawl`). Settings read:
``URLLENGTH_LIMIT``, ``PUSH_TO``, ``QUIET_ENABLED`` (and the CLUSTER_* ones, through
:mod:`crawler.cli.cluster_commands`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from crawler.cli import cluster_commands
from crawler.cli.cluster_commands import cluster_settings, worker_part
from crawler.cli.common import add_set, checked_target
from crawler.cli.quiet import quiet_crawl
from crawler.outlets import load_config
from crawler.runner import (
    EXIT_CRASH,
    EXIT_OK,
    build_settings,
    crawl_archive,
    print_summary,
    run_crawl,
)
from crawler.settings_check import check_archive_dir
from storage.layout import ArchiveLayout

# The demo site is on loopback: no need to be polite to ourselves.
DEMO_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}


def print_texts(archive: Path, out: TextIO = sys.stdout) -> None:
    layout = ArchiveLayout(archive)
    for sidecar_path in sorted(layout.text_dir.glob("*.json")):
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        outlets = sidecar.get("outlets") or {}  # a sidecar from before `outlets`: other_urls
        outlet = str(sidecar["outlet"])  # the key `outlets` lists it under (storage.sidecar)
        more = len(outlets.get(outlet, ())) - 1 if outlets else len(sidecar["other_urls"])
        notes = [f"+{more} other URL"] if more > 0 else []
        if others := [o for o in outlets if o != outlet]:
            notes.append(f"also {', '.join(others)}")  # a syndicated story: every outlet's
        also = f"  ({'; '.join(notes)})" if notes else ""
        print(f"{sidecar['text_file']}  {sidecar['outlet']:<14} {sidecar['title']}{also}", file=out)


def cmd_crawl(args: argparse.Namespace) -> int:
    settings = build_settings(args.archive, args.set, **cluster_settings(args))
    config = load_config(args.config, settings.getint("URLLENGTH_LIMIT")).select(args.outlet)
    target = checked_target(args.push or config.push or settings.get("PUSH_TO"), "--push")
    crawl = quiet_crawl if args.quiet or settings.getbool("QUIET_ENABLED") else crawl_archive
    return crawl(config, settings, target=target, part=worker_part(settings),
                 refresh=args.refresh)  # fmt: skip


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import DemoSite  # only the demo needs the bundled site

    archive = Path(args.archive)
    check_archive_dir(archive)  # before the site is up
    with DemoSite() as site, tempfile.TemporaryDirectory() as tmp:
        config = load_config(site.write_config(Path(tmp) / "demo-outlets.yaml"))
        print(f"demo outlets on loopback: {', '.join(f'{n} {u}' for n, u in site.outlets.items())}")
        settings = build_settings(str(archive), args.set, LOG_LEVEL=args.log_level, **DEMO_SETTINGS)
        summary = run_crawl(config, settings)
    if summary is None:
        return EXIT_CRASH
    print()
    print_summary(summary)
    print(f"\ntext files in {ArchiveLayout(archive).text_dir}:")
    print_texts(archive)
    return EXIT_OK


def add_crawl_parser(sub: Any) -> None:
    crawl = sub.add_parser("crawl", help="crawl the outlets of a config file into an archive")
    crawl.add_argument("--config", required=True, help="outlet config file (YAML)")
    crawl.add_argument("--archive", required=True, help="archive directory")
    crawl.add_argument("--push", metavar="URI", help="push when the crawl ends (s3://BUCKET/…)")
    crawl.add_argument(
        "--refresh", action="store_true",
        help="fetch archived articles again, send no conditional requests",
    )  # fmt: skip
    crawl.add_argument(
        "--outlet",
        action="append",
        default=[],
        metavar="NAME",
        help="crawl only this outlet (repeatable)",
    )
    crawl.add_argument("--quiet", action="store_true", help="print nothing unless the run needs "
                       "a person (for cron; -s QUIET_ENABLED=1)")  # fmt: skip
    cluster_commands.add_crawl_arguments(crawl)
    add_set(crawl)
    crawl.set_defaults(func=cmd_crawl)


def add_demo_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="crawl the bundled offline demo outlets")
    demo.add_argument("--archive", default="demo-archive", help="archive directory")
    demo.add_argument("--log-level", default="WARNING")
    add_set(demo)
    demo.set_defaults(func=cmd_demo)
