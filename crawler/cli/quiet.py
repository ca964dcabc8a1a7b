"""``newsarchiver crawl --quiet``: silent when the run went as expected, a short report when not.

For cron: a run that needs nobody prints nothing (stdout and stderr empty: the log goes to
``ARCHIVE/logs/<run-id>.log`` only, Scrapy's stderr log is off, the summary and the push line are
kept back), so that cron mails only the runs a person should look at. Those get a few lines on
stderr (:func:`report`): what went wrong, the run's counts, where its log and summary are. A run
needs a person when

* it crashed or its exit code is not 0 (a full disk, a lost Redis, a failed push: each also
  prints its own ``newsarchiver: …`` line first);
* an outlet saw no article at all this run: none stored, none a duplicate, none skipped as
  archived already (every page failed, or its hubs link nothing its rules call an article: a
  template change). An hourly run that finds only archived articles and 304 hubs saw them: silent;
* an outlet's failures are at least ``QUIET_FAILURE_MIN`` and more than ``QUIET_FAILURE_RATIO``
  of the URLs it requested this run (``discovered``).

Settings: ``QUIET_ENABLED`` (what ``--quiet`` sets), ``QUIET_FAILURE_RATIO``,
``QUIET_FAILURE_MIN``, ``ARCHIVE_DIR``, ``ARCHIVE_RUN_ID``.
Stats read (of the summary): ``outlet/<name>/skipped/archived`` (the spider's).
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any, TextIO

from scrapy.settings import Settings

from crawler.outlets import CrawlConfig
from crawler.runner import EXIT_OK, crawl_archive
from storage.layout import ArchiveLayout


def quiet_crawl(config: CrawlConfig, settings: Settings, err: TextIO = sys.stderr,
                **crawl_args: Any) -> int:  # fmt: skip
    """:func:`crawler.runner.crawl_archive` in silence; the report on `err` when the run needs a
    person. The exit code is the crawl's."""
    settings.set("LOG_ENABLED", False, priority="cmdline")  # the run log file still gets it all
    held_back = io.StringIO()  # the summary table and the push's line: not for a run gone well
    code = crawl_archive(config, settings, out=held_back, **crawl_args)
    layout = ArchiveLayout(settings["ARCHIVE_DIR"])
    run_id = settings.get("ARCHIVE_RUN_ID") or ""
    summary = _summary(layout, run_id)
    problems = needs_person(summary, code, settings)
    if problems:
        err.write(report(layout, run_id, summary, code, problems))
    return code


def _summary(layout: ArchiveLayout, run_id: str) -> dict[str, Any] | None:
    path = layout.run_summary_path(run_id) if run_id else None
    if path is None or not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def needs_person(summary: dict[str, Any] | None, code: int, settings: Settings) -> list[str]:
    """What in this run a person should look at (one line each); [] for a run gone well."""
    problems: list[str] = []
    if code != EXIT_OK or summary is None:
        why = summary["finish_reason"] if summary else "no run summary: the crawl crashed"
        problems.append(f"exit {code} ({why})")
    if summary is None:
        return problems
    ratio = settings.getfloat("QUIET_FAILURE_RATIO")
    minimum = settings.getint("QUIET_FAILURE_MIN")
    stats = summary.get("stats", {})
    for name, o in summary["outlets"].items():
        failed = sum(o["failed"].values())
        reasons = ", ".join(f"{k} {v}" for k, v in o["failed"].items())
        skipped = int(stats.get(f"outlet/{name}/skipped/archived", 0))
        if not (o["articles"] or o["archived"] or o["duplicates"] or skipped):
            problems.append(
                f"outlet {name}: no article this run (none stored, none a duplicate, none "
                f"archived already); fetched {o['fetched']}, failed {failed}"
                + (f": {reasons}" if reasons else "")
            )
        elif failed >= minimum and failed > ratio * max(o["discovered"], 1):
            problems.append(
                f"outlet {name}: {failed} of {o['discovered']} URL(s) failed (more than "
                f"QUIET_FAILURE_RATIO {ratio:g}): {reasons}"
            )
    return problems


def report(layout: ArchiveLayout, run_id: str, summary: dict[str, Any] | None, code: int,
           problems: list[str]) -> str:  # fmt: skip
    """The few lines a quiet run prints when it needs a person."""
    lines = [f"newsarchiver: run {run_id or '?'} of {layout.root} needs a look:"]
    lines += [f"  {p}" for p in problems]
    if summary is not None:
        t = summary["totals"]
        how = f"{summary['finish_reason']}, {summary['elapsed_seconds']:.0f}s"
        lines.append(f"  run: fetched {t['fetched']}, articles {t['articles']}, archived "
                     f"{t['archived']}, duplicates {t['duplicates']}, failed {t['failed']} "
                     f"({how})")  # fmt: skip
    if run_id:
        lines.append(f"  log: {layout.run_log_path(run_id)}")
        if summary is not None:
            lines.append(f"  summary: {layout.run_summary_path(run_id)}")
    return "\n".join(lines) + "\n"
