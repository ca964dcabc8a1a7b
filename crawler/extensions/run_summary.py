"""RunSummary: per-outlet counts of a crawl, written to ``ARCHIVE/runs/<run-id>.json``.

Counts what each outlet gave (discovered, fetched, articles, archived, duplicates, syndicated,
failed by reason, retried, elapsed) from the crawl's stats and signals, records the run in the
manifest's ``runs`` table, and writes the summary atomically when the spider closes. The CLI
prints it. An outlet's ``archived`` + ``duplicates`` are its pages of this run whose text the
archive has (new, or stored already); ``syndicated``, how many of those another outlet published
too (:mod:`pipelines.store_text`): a story two outlets ran counts for both, whichever was first.

Settings: ``ARCHIVE_DIR``, ``ARCHIVE_RUN_ID``.
Stats it keeps: ``outlet/<name>/discovered``, ``outlet/<name>/fetched``, ``outlet/<name>/retried``,
``runs/killed`` (earlier runs found still "running": killed, now marked so).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler.redaction import mask_data
from crawler.requisite_links import REQUISITE
from pipelines.run_id import run_id_for
from storage.atomic import write_atomic
from storage.clock import iso, utc_now
from storage.diskspace import is_disk_full
from storage.layout import ArchiveLayout
from storage.manifest import Manifest

logger = logging.getLogger(__name__)

COUNTS = ("discovered", "fetched", "articles", "archived", "duplicates", "syndicated", "retried")


class RunSummary:
    def __init__(self, layout: ArchiveLayout, run_id: str, stats: StatsCollector) -> None:
        self.layout = layout
        self.run_id = run_id
        self.stats = stats
        self.started = utc_now()
        self._last_seen: dict[str, datetime] = {}
        self.summary: dict[str, Any] = {}
        self._closed: tuple[Spider, str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunSummary:
        assert crawler.stats is not None
        ext = cls(
            ArchiveLayout(crawler.settings["ARCHIVE_DIR"]), run_id_for(crawler), crawler.stats
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(ext.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(ext.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.started = utc_now()
        self.layout.ensure()
        config = getattr(spider, "crawl_config", None)
        manifest = Manifest(self.layout.manifest_path)
        try:
            killed = manifest.start_run(
                self.run_id, iso(self.started), mask_data(config.as_dict() if config else {})
            )
        finally:
            manifest.close()
        if killed:
            self.stats.inc_value("runs/killed", killed)
            logger.warning("%d earlier run(s) never finished (killed): marked 'killed'", killed)
        logger.info("run %s started; archive %s", self.run_id, self.layout.root)

    @staticmethod
    def _outlet(request: Request) -> str | None:
        """The outlet whose page `request` is; None for a page requisite (counted apart,
        requisites/*: an outlet's figures are its pages')."""
        if request.meta.get("kind") == REQUISITE:
            return None
        outlet: str | None = request.meta.get("outlet")
        return outlet

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        if outlet := self._outlet(request):
            self.stats.inc_value(f"outlet/{outlet}/discovered")

    def request_dropped(self, request: Request, spider: Spider) -> None:
        # the duplicate filter turned it away: it was discovered before
        if outlet := self._outlet(request):
            self.stats.inc_value(f"outlet/{outlet}/discovered", -1)

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        if outlet := self._outlet(request):
            self.stats.inc_value(f"outlet/{outlet}/fetched")
            if request.meta.get("retry_times"):
                self.stats.inc_value(f"outlet/{outlet}/retried")
            self._last_seen[outlet] = utc_now()

    def build(self, spider: Spider, reason: str) -> dict[str, Any]:
        finished = utc_now()
        stats = self.stats.get_stats()
        config = getattr(spider, "crawl_config", None)
        names = [o.name for o in config.outlets] if config else []
        outlets: dict[str, Any] = {}
        for name in names:
            prefix = f"outlet/{name}/"
            entry: dict[str, Any] = {key: int(stats.get(prefix + key, 0)) for key in COUNTS}
            entry["failed"] = {
                key.removeprefix(prefix + "failed/"): int(value)
                for key, value in sorted(stats.items())
                if key.startswith(prefix + "failed/")
            }
            last = self._last_seen.get(name, self.started)
            entry["elapsed_seconds"] = round((last - self.started).total_seconds(), 3)
            outlets[name] = entry
        totals: dict[str, Any] = {key: sum(o[key] for o in outlets.values()) for key in COUNTS}
        totals["failed"] = sum(sum(o["failed"].values()) for o in outlets.values())
        totals["warc_files"] = int(stats.get("warc/files", 0))
        totals["warc_records"] = sum(
            int(v) for k, v in stats.items()
            if k.startswith("warc/records/") and k != "warc/records/revisit"
        )  # fmt: skip
        # the pages' requisites, apart from the outlets' figures (crawler.requisites)
        totals["requisites"] = {
            "fetched": sum(int(v) for k, v in stats.items()
                           if k.startswith("requisites/fetched/")),
            "bytes": int(stats.get("requisites/bytes", 0)),
            "failed": {k.removeprefix("requisites/failed/"): int(v)
                       for k, v in sorted(stats.items())
                       if k.startswith("requisites/failed/")},
        }  # fmt: skip
        return {
            "run_id": self.run_id,
            "archive": str(self.layout.root),
            "config": config.source if config else None,
            "started_at": iso(self.started),
            "finished_at": iso(finished),
            "elapsed_seconds": round((finished - self.started).total_seconds(), 3),
            "finish_reason": reason,
            "outlets": outlets,
            "totals": totals,
            "stats": {k: v if isinstance(v, int | float) else str(v) for k, v in stats.items()},
        }

    def spider_closed(self, spider: Spider, reason: str) -> None:
        # written at engine_stopped, when the last failures of the run have been counted
        self._closed = (spider, reason)

    def engine_stopped(self) -> None:
        if self._closed is None:
            return  # the spider never opened
        spider, reason = self._closed
        self.summary = mask_data(self.build(spider, reason))  # a stat may quote a secret
        path = self.layout.run_summary_path(self.run_id)
        data = (json.dumps(self.summary, indent=2, sort_keys=True) + "\n").encode("utf-8")
        try:
            write_atomic(path, data, self.layout.tmp_dir)
            manifest = Manifest(self.layout.manifest_path)
            try:
                status = "completed" if reason == "finished" else reason
                summary = {k: v for k, v in self.summary.items() if k != "stats"}
                manifest.finish_run(self.run_id, self.summary["finished_at"], status, summary)
            finally:
                manifest.close()
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            # the summary stays in memory for the CLI to print; the run shows as killed later
            logger.error("could not write the run summary %s: %s", path, exc)
        t = self.summary["totals"]
        logger.info(
            "run %s %s: %d fetched, %d archived, %d duplicates, %d failed; summary in %s",
            self.run_id,
            reason,
            t["fetched"],
            t["archived"],
            t["duplicates"],
            t["failed"],
            path,
        )
