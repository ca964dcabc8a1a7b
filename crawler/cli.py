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
    newsarchiver index | lookup | extract | reextract   (crawler/archive_commands.py)
    newsarchiver export   --archive DIR --wacz OUT [--outlet NAME] [--since DATE] [--allow-empty]

``crawl`` loads and checks the outlet config, builds the Scrapy settings from
:mod:`crawler.settings` (``-s`` overrides last, as in scrapy), runs :class:`OutletsSpider` in a
``CrawlerProcess`` and prints the run summary. Exit codes: 0 the run completed (failed pages are
data, not a crash), 1 a crash, 2 a configuration or settings error (bad config file, setting,
option or archive directory: one ``newsarchiver: …`` line on stderr, before any request),
3 the archive is locked, 4 the push failed, 5 the archive's disk is full (``export``: also 6,
nothing to export). ``scrapy crawl outlets`` runs the same crawl through the same code
(:func:`crawler.runner.crawl_archive`, :mod:`crawler.commands.crawl`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from crawler import (
    __version__,
    archive_commands,
    cluster_commands,
    export_command,
    listing_command,
    report_command,
    search_command,
    stories_commands,
)
from crawler.cluster.identity import check_worker_id
from crawler.cluster_commands import cluster_settings, worker_part
from crawler.outlets import ConfigError, load_config, parse_config
from crawler.quiet import quiet_crawl
from crawler.runner import (
    EXIT_CRASH,
    EXIT_OK,
    build_settings,
    crawl_archive,
    finish,
    print_summary,
    reported,
    run_crawl,
    run_push,
)
from crawler.settings_check import check_archive_dir
from storage import lock
from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.push import Pusher
from storage.s3 import FSStore, PushError, check_target

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


def cmd_push(args: argparse.Namespace) -> int:
    layout = ArchiveLayout(args.archive)
    check_archive_dir(args.archive)  # the push records what it pushed in the manifest
    open_manifest(args.archive).close()  # an archive, or exit 2
    settings = build_settings(args.archive, args.set)
    target = checked_target(args.to or settings.get("PUSH_TO"), "--to")
    if not target:
        raise ConfigError("no target: pass --to s3://BUCKET/PREFIX (or set PUSH_TO)")
    if args.worker_id:  # it names the worker's objects in the store (manifests/ID.sqlite)
        try:
            check_worker_id(args.worker_id, "--worker-id")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    with lock.held(layout.lock_path):
        return run_push(
            layout, target, settings, endpoint_url=args.endpoint_url, dry_run=args.dry_run,
            create=args.create_bucket or None,
            delete_local=args.delete_local_after_verify or None,
            part=args.worker_id,
        )  # fmt: skip


def checked_target(target: str | None, option: str) -> str | None:
    """A push target that names its store unambiguously; else a ConfigError (exit 2)."""
    if not target:
        return None
    try:
        return check_target(target)
    except PushError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def open_manifest(archive: str) -> Manifest:
    """The manifest of an existing archive; a ConfigError (exit 2) when there is none."""
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    return Manifest(layout.manifest_path)


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


FAILURE_COLUMNS = ("url", "outlet", "reason", "status", "attempts", "runs_failed", "state",
                   "next_retry_at")  # fmt: skip


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


def cmd_status(args: argparse.Namespace) -> int:
    """The last runs with their counts, pending retries, and what is not yet pushed to each target
    it is meant to go to (:func:`push_targets`; none configured: no backlog line)."""
    layout = ArchiveLayout(args.archive)
    manifest = open_manifest(args.archive)
    try:
        runs = manifest.query(
            "SELECT run_id, started_at, finished_at, status, summary FROM runs"
            " ORDER BY started_at DESC LIMIT ?", (args.runs,),
        )  # fmt: skip
        failures = manifest.failures()
        targets = push_targets(manifest, build_settings(args.archive, args.set).get("PUSH_TO"))
        pushed = {t: manifest.pushed(t) for t in targets}
    finally:
        manifest.close()
    print(f"archive {layout.root}")
    holder = lock.holder(layout.lock_path)
    print(f"crawling now: pid {holder['pid']}, started {holder.get('started', '?')}" if holder
          else "crawling now: no")  # fmt: skip
    print(f"\nlast {len(runs)} run(s):")
    print(f"  {'run':<24} {'started':<20} {'status':<10} fetched  archived  dup  failed")
    for run in runs:
        t = json.loads(run["summary"])["totals"] if run["summary"] else {}
        print(f"  {run['run_id']:<24} {run['started_at']:<20} {run['status']:<10} "
              f"{t.get('fetched', '-'):>7}  {t.get('archived', '-'):>8}  "
              f"{t.get('duplicates', '-'):>3}  {t.get('failed', '-'):>6}")  # fmt: skip
    now = iso(utc_now())
    pending = [f for f in failures if f["state"] == "pending"]
    due = [f for f in pending if f["next_retry_at"] and f["next_retry_at"] <= now]
    print(f"\nfailures: {len(pending)} pending ({len(due)} due now), "
          f"{len(failures) - len(pending)} gave up")  # fmt: skip
    if pending:
        print(f"  next retry at {min(f['next_retry_at'] for f in pending if f['next_retry_at'])}")
    print()
    pusher_files = list(Pusher(layout, FSStore(layout.root)).files())  # what a push would take
    if not targets:  # nothing to fall behind: a backlog is no news for an archive never pushed
        print("push: none configured (PUSH_TO, the outlet config's push:, or newsarchiver push)")
    for target in targets:
        done = pushed[target]
        waiting = [
            rel for rel, path in pusher_files
            if rel not in done or done[rel]["mtime_ns"] != path.stat().st_mtime_ns
        ]  # fmt: skip
        warcs = sum(1 for rel in waiting if rel.startswith("warc/"))
        last = max((d["pushed_at"] for d in done.values()), default="never")
        print(f"not yet pushed to {target}: {len(waiting)} file(s), {warcs} of them WARC "
              f"(last push {last})")  # fmt: skip
    return EXIT_OK


def push_targets(manifest: Manifest, push_to: str | None) -> list[str]:
    """The targets an archive is meant to be pushed to: the PUSH_TO setting, its last run's
    outlet config's ``push``, and every target a push went to before (the pushes table)."""
    config = manifest.last_run_config() or {}
    named = [t.rstrip("/") for t in (push_to, config.get("push")) if isinstance(t, str) and t]
    done = [r["target"] for r in manifest.query("SELECT DISTINCT target FROM pushes")]
    return list(dict.fromkeys([*done, *named]))


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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsarchiver", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"newsarchiver {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_set(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-s",
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a Scrapy or newsarchiver setting (repeatable)",
        )

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

    push = sub.add_parser("push", help="push the archive to S3-compatible storage")
    push.add_argument("--archive", required=True, help="archive directory")
    push.add_argument("--to", metavar="URI", help="s3://BUCKET/PREFIX or file:///PATH")
    push.add_argument(
        "--endpoint-url", help="S3 endpoint (MinIO, SeaweedFS, R2…); or AWS_ENDPOINT_URL"
    )
    push.add_argument("--create-bucket", action="store_true", help="create the bucket if missing")
    push.add_argument("--dry-run", action="store_true", help="list what would go, upload nothing")
    push.add_argument("--delete-local-after-verify", action="store_true",
                      help="remove local WARC files once their upload is verified")  # fmt: skip
    push.add_argument("--worker-id", help="a distributed crawl's worker: push its part and merge "
                      "the manifests")  # fmt: skip
    add_set(push)
    push.set_defaults(func=cmd_push)

    cluster_commands.add_parsers(sub, add_set)

    status = sub.add_parser("status", help="the archive's last runs, pending retries, backlog")
    status.add_argument("--archive", required=True, help="archive directory")
    status.add_argument("--runs", type=int, default=5, help="how many runs to show")
    add_set(status)  # PUSH_TO: the target it is meant to go to
    status.set_defaults(func=cmd_status)

    archive_commands.add_parsers(sub)
    export_command.add_parser(sub)
    report_command.add_parsers(sub)
    listing_command.add_parsers(sub)
    stories_commands.add_parsers(sub)
    search_command.add_parsers(sub)

    demo = sub.add_parser("demo", help="crawl the bundled offline demo outlets")
    demo.add_argument("--archive", default="demo-archive", help="archive directory")
    demo.add_argument("--log-level", default="WARNING")
    add_set(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return reported(lambda: int(args.func(args)), getattr(args, "archive", None))


if __name__ == "__main__":
    sys.exit(main())
