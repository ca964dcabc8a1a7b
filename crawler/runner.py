"""Running a crawl or a push from the command line: settings, the crawl process, exit codes.

Shared by the CLI (:mod:`crawler.cli.crawl_commands`, :mod:`crawler.cli.cluster_commands`) and
``scrapy crawl outlets`` (:mod:`crawler.commands.crawl`). ``build_settings`` layers the
project's settings (:mod:`crawler.settings`), the command's own and ``-s`` overrides, and checks
them;
``run_crawl`` runs :class:`OutletsSpider` in a ``CrawlerProcess`` under the archive lock and
returns the run summary; ``crawl_archive`` is a whole ``crawl``: the free-space check, the lock,
the crawl, its exit code and the push after it; ``run_push`` pushes an archive (a distributed
crawl's worker: its part of it); ``reported`` turns the errors a command reports into one
``newsarchiver: …`` line and its exit code. Exit codes: 0 done, 1 a crash, 2 a configuration or
settings error, 3 the archive is locked, 4 the push failed, 5 the archive's disk is full (or
below ``ARCHIVE_MIN_FREE_MB``). Secrets (:mod:`crawler.redaction`): ``build_settings`` reads the
``*_ENV`` settings and masks every secret of the settings and the environment in the process's
logs, before Scrapy logs a setting; what ``reported`` prints is masked too.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.cluster.extension import STATE_LOST_MESSAGE, STATE_LOST_REASON
from crawler.extensions.disk_guard import FINISH_REASON as DISK_FULL
from crawler.extensions.run_summary import RunSummary
from crawler.outlets import ConfigError, CrawlConfig
from crawler.redaction import apply_env_settings, mask, protect
from crawler.settings_check import SettingsError, check_settings
from crawler.spiders.outlets import OutletsSpider
from storage import lock
from storage.clock import new_run_id
from storage.diskspace import check_free, full_error, is_disk_full
from storage.layout import ArchiveLayout
from storage.object_store import PushError
from storage.push import Pusher
from storage.s3 import TransferSettings, store_for

if TYPE_CHECKING:
    from scrapy.crawler import CrawlerProcessBase

EXIT_OK, EXIT_CRASH, EXIT_CONFIG, EXIT_LOCKED, EXIT_PUSH, EXIT_DISK_FULL = 0, 1, 2, 3, 4, 5
T = TypeVar("T")
# credentials a push reads from the settings; kept out of the crawl's settings, which Scrapy logs
CREDENTIAL_SETTINGS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


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
        try:
            settings.set(name.strip(), value, priority="cmdline")
        except ValueError as exc:  # a dict setting (DEFAULT_REQUEST_HEADERS…) is parsed as JSON
            raise SettingsError(f"{name.strip()} must be JSON here: {exc}") from None
    prepare_secrets(settings)
    check_settings(settings)
    return settings


def prepare_secrets(settings: Settings) -> None:
    """The ``*_ENV`` settings read (a SettingsError when their variable is unset), then every
    secret of the settings and the environment masked in this process's logs from now on
    (:mod:`crawler.redaction`)."""
    protect(settings)  # the values given so far, before a message may quote one
    apply_env_settings(settings)
    protect(settings)


def check_disk(settings: Settings) -> None:
    """DiskFull (exit 5) when the archive's disk is below ARCHIVE_MIN_FREE_MB: checked before
    the lock file, itself a write, is touched."""
    check_free(Path(settings["ARCHIVE_DIR"]), int(settings.getfloat("ARCHIVE_MIN_FREE_MB") * 1e6))


def crawl_archive(
    config: CrawlConfig,
    settings: Settings,
    *,
    target: str | None = None,
    part: str | None = None,
    process: CrawlerProcessBase | None = None,
    out: TextIO | None = sys.stdout,
    **spider_args: Any,
) -> int:
    """A whole crawl of `config` into the settings' archive, then a push to `target` if the
    crawl completed; the exit code. `out` gets the run summary (None: not printed)."""
    push_settings = settings.copy()
    for name in CREDENTIAL_SETTINGS:  # Scrapy logs the crawl's settings: none of these there
        settings.set(name, None, priority="cmdline")
    layout = ArchiveLayout(settings["ARCHIVE_DIR"])
    check_disk(settings)
    with lock.held(layout.lock_path):  # held through the push too
        code = finish(run_crawl(config, settings, process, **spider_args), out)
        if code == EXIT_OK and target:
            # with the summary, or on stderr when stdout is not the user's (a feed, -o -)
            code = run_push(layout, target, push_settings, part=part, out=out or sys.stderr)
    return code


def run_crawl(
    config: CrawlConfig,
    settings: Settings,
    process: CrawlerProcessBase | None = None,
    **spider_args: Any,
) -> dict[str, Any] | None:
    """Run one crawl to its end (in `process`, else a CrawlerProcess of `settings`); returns the
    run summary, or None when the crawl crashed. The crawl itself brings the index up to date
    (crawler.extensions.index_update)."""
    run_id = settings.get("ARCHIVE_RUN_ID") or new_run_id()
    settings.set("ARCHIVE_RUN_ID", run_id, priority="cmdline")
    layout = ArchiveLayout(settings["ARCHIVE_DIR"])
    check_disk(settings)
    with lock.held(layout.lock_path):  # ArchiveLocked: exit 3 before Scrapy starts
        return _run_process(config, settings, run_id, process, **spider_args)


def _run_process(
    config: CrawlConfig,
    settings: Settings,
    run_id: str,
    process: CrawlerProcessBase | None,
    **spider_args: Any,
) -> dict[str, Any] | None:
    protect(settings)  # before Scrapy logs its settings; again: a caller may have changed some
    if process is None:
        process = CrawlerProcess(settings)
    errors: list[Any] = []  # Failures
    crawler = process.create_crawler(OutletsSpider)
    _on_error(process.crawl(crawler, crawl_config=config, **spider_args), errors.append)
    process.start()
    if errors:
        failure = errors[0]
        if failure.check(SettingsError, ConfigError):
            raise failure.value
        print(mask(f"newsarchiver: the crawl crashed: {failure.getErrorMessage()}"),
              file=sys.stderr)  # fmt: skip
        print(mask(failure.getTraceback()), file=sys.stderr, end="")
        return None
    path = ArchiveLayout(settings["ARCHIVE_DIR"]).run_summary_path(run_id)
    if not path.exists():
        # a full disk can keep the summary from its file; the crawl still made it
        ext = _extension(crawler, RunSummary)
        return ext.summary if ext is not None and ext.summary else None
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def _on_error(started: Any, record: Callable[[Failure], object]) -> None:
    """`record` the failure of a crawl started by CrawlerProcess (a Deferred) or by
    AsyncCrawlerProcess, which `scrapy crawl` uses (an asyncio task)."""
    if isinstance(started, Deferred):
        started.addErrback(record)
        return

    def done(task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            record(Failure(task.exception()))

    started.add_done_callback(done)


def _extension(crawler: Crawler, cls: type[T]) -> T | None:
    manager = getattr(crawler, "extensions", None)
    return next((e for e in getattr(manager, "middlewares", ()) if isinstance(e, cls)), None)


def print_summary(summary: dict[str, Any], out: TextIO = sys.stdout) -> None:
    cols = ("discovered", "fetched", "articles", "archived", "duplicates", "syndicated", "failed",
            "elapsed")  # fmt: skip
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
                o["syndicated"],
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
            t["syndicated"],
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
            str(c).ljust(w) if i in (0, len(header) - 1) else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=out)
    print(f"WARC: {t['warc_files']} file(s), {t['warc_records']} records", file=out)
    req = t.get("requisites") or {}
    if req.get("fetched") or req.get("failed"):
        failed = req.get("failed") or {}
        why = ", ".join(f"{k} {v}" for k, v in failed.items())
        print(
            f"page requisites: {req['fetched']} fetched ({req['bytes'] / 1024:.0f} KB), "
            f"{sum(failed.values())} failed" + (f" ({why})" if why else ""),
            file=out,
        )


def finish(summary: dict[str, Any] | None, out: TextIO | None = sys.stdout) -> int:
    """Print a crawl's summary to `out` (None: not at all); its exit code."""
    if summary is None:
        return EXIT_CRASH
    if out is not None:
        print_summary(summary, out)
    if summary["finish_reason"] == DISK_FULL:
        detail = summary.get("stats", {}).get("disk/error") or "the archive's disk is full"
        print(f"newsarchiver: {detail}; the crawl stopped (free space, then crawl again: it "
              "resumes)", file=sys.stderr)  # fmt: skip
        return EXIT_DISK_FULL
    if summary["finish_reason"] == STATE_LOST_REASON:  # the last line a user reads says why
        print(f"newsarchiver: {STATE_LOST_MESSAGE}", file=sys.stderr)
    return EXIT_OK if summary["finish_reason"] in ("finished", "shutdown") else EXIT_CRASH


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
            connect_timeout=settings.getfloat("PUSH_CONNECT_TIMEOUT"),
            read_timeout=settings.getfloat("PUSH_READ_TIMEOUT"),
            retries=settings.getint("PUSH_RETRIES"),
            object_timeout=settings.getfloat("PUSH_OBJECT_TIMEOUT"),
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
    out: TextIO = sys.stdout,
) -> int:
    """Push the archive (a distributed crawl's worker: its `part` of it); prints one line of
    outcome to `out`. Exit code 0 or EXIT_PUSH."""
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
        print(mask(f"newsarchiver: push to {target} failed: {exc}"), file=sys.stderr)
        return EXIT_PUSH
    if dry_run:
        for rel in report.planned:
            print(f"would push {rel}", file=out)
        print(f"{len(report.planned)} file(s) would be pushed to {report.target}; "
              f"{report.skipped} already there", file=out)  # fmt: skip
    else:
        print(report.line() + (f"; deleted {len(report.deleted)} local WARC file(s)"
                               if report.deleted else ""), file=out)  # fmt: skip
    return EXIT_OK


def reported(command: Callable[[], int], archive: str | Path | None = None) -> int:
    """Run `command`; the errors a user can mend are one ``newsarchiver: …`` line on stderr
    and their exit code, not a traceback. Any other error is a crash (exit 1): its traceback,
    masked (Python's own printer knows no secrets: a botocore error quotes its endpoint URL)."""
    try:
        return _reported(command, archive)
    except Exception:
        print(mask(traceback.format_exc()), file=sys.stderr, end="")
        return EXIT_CRASH


def _reported(command: Callable[[], int], archive: str | Path | None) -> int:
    try:
        return command()
    except (ConfigError, SettingsError) as exc:
        # one line, whatever the message quotes (an import error of EXTRACT_FUNCTION…)
        print(mask(f"newsarchiver: {' '.join(str(exc).splitlines())}"), file=sys.stderr)
        return EXIT_CONFIG
    except lock.ArchiveLocked as exc:
        print(mask(f"newsarchiver: {exc}"), file=sys.stderr)
        return EXIT_LOCKED
    except (OSError, sqlite3.Error) as exc:
        if not is_disk_full(exc):
            raise
        print(mask(f"newsarchiver: {full_error(exc, Path(archive or '.'))}"), file=sys.stderr)
        return EXIT_DISK_FULL
