"""The ``newsarchiver`` command.

::

    newsarchiver crawl    --config FILE --archive DIR [--outlet NAME ...] [--refresh] [-s N=V ...]
                          [--redis URL [--worker-id ID] [--cluster NAME]]
    newsarchiver retry    --archive DIR [--all] [--outlet NAME ...] [-s N=V ...]
    newsarchiver failures --archive DIR [--json] [--outlet NAME ...] [--reason R]
    newsarchiver status   --archive DIR [--runs N]
    newsarchiver push     --archive DIR [--to s3://BUCKET/PREFIX] [--endpoint-url URL]
                          [--create-bucket] [--dry-run] [--delete-local-after-verify]
    newsarchiver seed     --config FILE --redis URL [--cluster NAME] [--archive DIR]
    newsarchiver merge    --to s3://BUCKET/PREFIX | --out FILE MANIFEST...
    newsarchiver demo     [--archive DIR]   # serve the bundled demo outlets on loopback, crawl them
    newsarchiver index | lookup | export | extract | reextract   (crawler/archive_commands.py)

``crawl`` loads and checks the outlet config, builds the Scrapy settings from
:mod:`crawler.settings` (``-s`` overrides last, as in scrapy), runs :class:`OutletsSpider` in a
``CrawlerProcess`` and prints the run summary. Exit codes: 0 the run completed (failed pages are
data, not a crash), 1 a crash, 2 a configuration or settings error.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import __version__, archive_commands
from crawler.cluster.state import default_worker_id, redact
from crawler.outlets import ConfigError, CrawlConfig, load_config, parse_config
from crawler.settings_check import SettingsError, check_settings
from crawler.spiders.outlets import OutletsSpider
from storage import lock
from storage.index import update_index
from storage.layout import ArchiveLayout, iso, new_run_id, utc_now
from storage.manifest import Manifest
from storage.merge import merge_in_store, merge_manifests
from storage.push import Pusher
from storage.s3 import FSStore, PushError, TransferSettings, store_for

EXIT_OK, EXIT_CRASH, EXIT_CONFIG, EXIT_LOCKED, EXIT_PUSH = 0, 1, 2, 3, 4
# credentials a push reads from the settings; kept out of the crawl's settings, which Scrapy logs
CREDENTIAL_SETTINGS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# The demo site is on loopback: no need to be polite to ourselves.
DEMO_SETTINGS = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}


def build_settings(archive: str, overrides: Sequence[str] = (), **extra: Any) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ARCHIVE_DIR", archive, priority="cmdline")
    for name, value in extra.items():
        settings.set(name, value, priority="cmdline")
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"-s takes NAME=VALUE, not {item!r}")
        settings.set(name.strip(), value, priority="cmdline")
    check_settings(settings)
    return settings


def run_crawl(config: CrawlConfig, settings: Settings, **spider_args: Any) -> dict[str, Any] | None:
    """Run one crawl to its end; returns the run summary, or None when the crawl crashed."""
    run_id = settings.get("ARCHIVE_RUN_ID") or new_run_id()
    settings.set("ARCHIVE_RUN_ID", run_id, priority="cmdline")
    layout = ArchiveLayout(settings["ARCHIVE_DIR"])
    with lock.held(layout.lock_path):  # ArchiveLocked: exit 3 before Scrapy starts
        summary = _run_process(config, settings, run_id, **spider_args)
        if summary is not None:
            update_index(layout)  # the new WARC files, for replay and lookup
        return summary


def _run_process(
    config: CrawlConfig, settings: Settings, run_id: str, **spider_args: Any
) -> dict[str, Any] | None:
    process = CrawlerProcess(settings)
    errors: list[Any] = []
    d = process.crawl(OutletsSpider, crawl_config=config, **spider_args)
    d.addErrback(errors.append)
    process.start()
    if errors:
        failure = errors[0]
        if failure.check(SettingsError, ConfigError):
            raise failure.value
        print(f"newsarchiver: the crawl crashed: {failure.getErrorMessage()}", file=sys.stderr)
        failure.printTraceback(file=sys.stderr)
        return None
    path = ArchiveLayout(settings["ARCHIVE_DIR"]).run_summary_path(run_id)
    if not path.exists():
        return None
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def print_summary(summary: dict[str, Any], out: TextIO = sys.stdout) -> None:
    cols = ("discovered", "fetched", "articles", "archived", "duplicates", "failed", "elapsed")
    rows = []
    for name, o in summary["outlets"].items():
        failed = sum(o["failed"].values())
        reasons = ", ".join(f"{k} {v}" for k, v in o["failed"].items())
        rows.append(
            [
                name,
                o["discovered"],
                o["fetched"],
                o["articles"],
                o["archived"],
                o["duplicates"],
                failed,
                f"{o['elapsed_seconds']:.1f}s",
                reasons,
            ]
        )
    t = summary["totals"]
    rows.append(
        [
            "TOTAL",
            t["discovered"],
            t["fetched"],
            t["articles"],
            t["archived"],
            t["duplicates"],
            t["failed"],
            f"{summary['elapsed_seconds']:.1f}s",
            "",
        ]
    )
    header = ["outlet", *cols, "failed by reason"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"run {summary['run_id']} ({summary['finish_reason']}) -> {summary['archive']}", file=out)
    for row in [header, *rows]:
        cells = [
            str(c).ljust(w) if i in (0, 8) else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
    print(f"WARC: {t['warc_files']} file(s), {t['warc_records']} records", file=out)


def print_texts(archive: Path, out: TextIO = sys.stdout) -> None:
    layout = ArchiveLayout(archive)
    for sidecar_path in sorted(layout.text_dir.glob("*.json")):
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        also = f"  (+{len(sidecar['other_urls'])} other URL)" if sidecar.get("other_urls") else ""
        print(f"{sidecar['text_file']}  {sidecar['outlet']:<14} {sidecar['title']}{also}", file=out)


def cluster_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The CLUSTER_* settings of --redis, --worker-id, --cluster (none without --redis)."""
    if not args.redis:
        if args.worker_id or args.cluster:
            raise ConfigError("--worker-id and --cluster need --redis URL")
        return {}
    extra: dict[str, Any] = {"CLUSTER_ENABLED": True, "REDIS_URL": args.redis}
    if args.worker_id:
        extra["CLUSTER_WORKER_ID"] = args.worker_id
    if args.cluster:
        extra["CLUSTER_NAME"] = args.cluster
    return extra


def cmd_seed(args: argparse.Namespace) -> int:
    """Queue the outlets' seeds (and the due failures) in Redis for the workers; fetch nothing."""
    config = load_config(args.config).select(args.outlet)
    with tempfile.TemporaryDirectory(prefix="newsarchiver-seed-") as tmp:
        archive = args.archive or tmp
        extra = {
            **cluster_settings(args),
            "CLUSTER_SEED_ONLY": True,
            "WARC_ENABLED": False,
            "EXTRACT_ENABLED": False,
            "TEXT_ENABLED": False,
        }
        settings = build_settings(archive, args.set, **extra)
        summary = run_crawl(config, settings)
    if summary is None:
        return EXIT_CRASH
    queued = summary["stats"].get("cluster/seeds/queued", 0)
    print(f"queued {queued} seed request(s) in {redact(args.redis)} for cluster "
          f"{settings['CLUSTER_NAME']}")  # fmt: skip
    return EXIT_OK


def worker_part(settings: Settings) -> str | None:
    """A distributed crawl's worker id: its part of the pushed archive (None on one machine)."""
    if not settings.getbool("CLUSTER_ENABLED"):
        return None
    return str(settings.get("CLUSTER_WORKER_ID") or default_worker_id())


def cmd_crawl(args: argparse.Namespace) -> int:
    config = load_config(args.config).select(args.outlet)
    settings = build_settings(args.archive, args.set, **cluster_settings(args))
    target = args.push or config.push or settings.get("PUSH_TO")
    push_settings = settings.copy()
    for name in CREDENTIAL_SETTINGS:
        settings.set(name, None, priority="cmdline")
    layout = ArchiveLayout(args.archive)
    with lock.held(layout.lock_path):  # held through the push too
        code = finish(run_crawl(config, settings, refresh=args.refresh))
        if code == EXIT_OK and target:
            code = run_push(layout, target, push_settings, part=worker_part(settings))
    return code


def store_options(settings: Settings, endpoint_url: str | None = None) -> dict[str, Any]:
    """boto3's options from Scrapy's AWS_* settings and the PUSH_* ones."""
    return {
        "endpoint_url": endpoint_url or settings.get("AWS_ENDPOINT_URL"),
        "region": settings.get("AWS_REGION_NAME"),
        "access_key": settings.get("AWS_ACCESS_KEY_ID"),
        "secret_key": settings.get("AWS_SECRET_ACCESS_KEY"),
        "session_token": settings.get("AWS_SESSION_TOKEN"),
        "verify_tls": settings.get("AWS_VERIFY"),
        "addressing_style": settings.get("PUSH_ADDRESSING_STYLE"),
        "transfer": TransferSettings(
            multipart_threshold=settings.getint("PUSH_MULTIPART_THRESHOLD"),
            multipart_chunksize=settings.getint("PUSH_MULTIPART_CHUNKSIZE"),
            max_concurrency=settings.getint("PUSH_MAX_CONCURRENCY"),
        ),
    }


def run_push(
    layout: ArchiveLayout,
    target: str,
    settings: Settings,
    *,
    endpoint_url: str | None = None,
    dry_run: bool = False,
    create: bool | None = None,
    delete_local: bool | None = None,
    part: str | None = None,
) -> int:
    """Push the archive (a distributed crawl's worker: its `part` of it); prints one line of
    outcome. Exit code 0 or EXIT_PUSH."""
    try:
        store = store_for(target, **store_options(settings, endpoint_url))
        pusher = Pusher(
            layout, store, dry_run=dry_run,
            create=settings.getbool("PUSH_CREATE_BUCKET") if create is None else create,
            delete_local=(settings.getbool("PUSH_DELETE_LOCAL_AFTER_VERIFY")
                          if delete_local is None else delete_local),
            workers=settings.getint("PUSH_WORKERS"), part=part,
        )  # fmt: skip
        report = pusher.run()
    except (PushError, ValueError, OSError, sqlite3.Error) as exc:
        print(f"newsarchiver: push to {target} failed: {exc}", file=sys.stderr)
        return EXIT_PUSH
    if dry_run:
        for rel in report.planned:
            print(f"would push {rel}")
        print(f"{len(report.planned)} file(s) would be pushed to {report.target}; "
              f"{report.skipped} already there")  # fmt: skip
    else:
        print(report.line() + (f"; deleted {len(report.deleted)} local WARC file(s)"
                               if report.deleted else ""))  # fmt: skip
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    layout = ArchiveLayout(args.archive)
    open_manifest(args.archive).close()  # an archive, or exit 2
    settings = build_settings(args.archive, args.set)
    target = args.to or settings.get("PUSH_TO")
    if not target:
        raise ConfigError("no target: pass --to s3://BUCKET/PREFIX (or set PUSH_TO)")
    with lock.held(layout.lock_path):
        return run_push(
            layout, target, settings, endpoint_url=args.endpoint_url, dry_run=args.dry_run,
            create=args.create_bucket or None,
            delete_local=args.delete_local_after_verify or None, part=args.worker_id,
        )  # fmt: skip


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge worker manifests: local files into --out, or a store's manifests/ into its own."""
    try:
        if args.to:
            settings = build_settings(".", args.set)
            store = store_for(args.to, **store_options(settings, args.endpoint_url))
            with tempfile.TemporaryDirectory() as tmp:
                report = merge_in_store(store, Path(tmp))
        else:
            if not args.out or not args.parts:
                raise ConfigError("merge takes --to URI, or --out FILE and the manifests to merge")
            missing = [p for p in args.parts if not Path(p).is_file()]
            if missing:
                raise ConfigError(f"no such manifest: {', '.join(missing)}")
            report = merge_manifests([Path(p) for p in args.parts], Path(args.out))
    except (PushError, ValueError, sqlite3.Error) as exc:
        print(f"newsarchiver: merge failed: {exc}", file=sys.stderr)
        return EXIT_PUSH
    print(report.line())
    return EXIT_OK


def open_manifest(archive: str) -> Manifest:
    """The manifest of an existing archive; a ConfigError (exit 2) when there is none."""
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    return Manifest(layout.manifest_path)


def finish(summary: dict[str, Any] | None) -> int:
    """Print a crawl's summary; its exit code."""
    if summary is None:
        return EXIT_CRASH
    print_summary(summary)
    return EXIT_OK if summary["finish_reason"] in ("finished", "shutdown") else EXIT_CRASH


def cmd_retry(args: argparse.Namespace) -> int:
    """Retry the archive's failures now, with the outlet config of its last run."""
    layout = ArchiveLayout(args.archive)
    manifest = open_manifest(args.archive)
    try:
        stored = manifest.last_run_config()
    finally:
        manifest.close()
    if not stored:
        raise ConfigError(f"the archive at {layout.root} has no crawl to take the outlets from")
    config = parse_config(stored, source=f"{layout.manifest_path} (last run's config)")
    config = config.select(args.outlet)
    settings = build_settings(args.archive, args.set)
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
    """The last runs with their counts, pending retries, and what is not yet pushed."""
    layout = ArchiveLayout(args.archive)
    manifest = open_manifest(args.archive)
    try:
        runs = manifest.query(
            "SELECT run_id, started_at, finished_at, status, summary FROM runs"
            " ORDER BY started_at DESC LIMIT ?", (args.runs,),
        )  # fmt: skip
        failures = manifest.failures()
        targets = [r["target"] for r in manifest.query("SELECT DISTINCT target FROM pushes")]
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
    if not targets:
        print(f"not yet pushed: {len(pusher_files)} file(s) (no push has run)")
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


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import DemoSite  # only the demo needs the bundled site

    archive = Path(args.archive)
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
    crawl.add_argument(
        "--redis",
        metavar="URL",
        help="crawl with other workers through this Redis (redis://[:pw@]host/0)",
    )
    crawl.add_argument("--worker-id", help="this worker's id, unique in the cluster (default: "
                       "host name); it goes into WARC names")  # fmt: skip
    crawl.add_argument(
        "--cluster",
        metavar="NAME",
        help="prefix of the Redis keys: one per shared archive (CLUSTER_NAME)",
    )
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

    seed = sub.add_parser("seed", help="queue the outlets' seeds in Redis for the workers")
    seed.add_argument("--config", required=True, help="outlet config file (YAML)")
    seed.add_argument("--redis", required=True, metavar="URL", help="the workers' Redis")
    seed.add_argument("--cluster", metavar="NAME", help="prefix of the Redis keys (CLUSTER_NAME)")
    seed.add_argument("--archive", help="an archive whose manifest says what is archived already")
    seed.add_argument("--outlet", action="append", default=[], metavar="NAME")
    seed.set_defaults(func=cmd_seed, worker_id="seed")
    add_set(seed)

    merge = sub.add_parser("merge", help="merge the manifests of a distributed crawl's workers")
    merge.add_argument("--to", metavar="URI", help="merge the store's manifests/*.sqlite into "
                       "its manifest.sqlite (s3://BUCKET/PREFIX or file:///PATH)")  # fmt: skip
    merge.add_argument("--endpoint-url", help="S3 endpoint; or AWS_ENDPOINT_URL")
    merge.add_argument("--out", metavar="FILE", help="write the merge of local manifests here")
    merge.add_argument("parts", nargs="*", metavar="MANIFEST", help="worker manifests (--out)")
    add_set(merge)
    merge.set_defaults(func=cmd_merge)

    status = sub.add_parser("status", help="the archive's last runs, pending retries, backlog")
    status.add_argument("--archive", required=True, help="archive directory")
    status.add_argument("--runs", type=int, default=5, help="how many runs to show")
    status.set_defaults(func=cmd_status)

    archive_commands.add_parsers(sub)

    demo = sub.add_parser("demo", help="crawl the bundled offline demo outlets")
    demo.add_argument("--archive", default="demo-archive", help="archive directory")
    demo.add_argument("--log-level", default="WARNING")
    add_set(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (ConfigError, SettingsError) as exc:
        print(f"newsarchiver: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except lock.ArchiveLocked as exc:
        print(f"newsarchiver: {exc}", file=sys.stderr)
        return EXIT_LOCKED


if __name__ == "__main__":
    sys.exit(main())
