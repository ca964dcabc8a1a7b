"""The identity of one crawl run, shared by every component of a crawler."""

from __future__ import annotations

from scrapy.crawler import Crawler

from storage.clock import new_run_id

_ATTR = "_newsarchiver_run_id"


def run_id_for(crawler: Crawler) -> str:
    """``ARCHIVE_RUN_ID`` when the CLI set it, else one id made on first use for this crawler."""
    run_id = getattr(crawler, _ATTR, None)
    if run_id is None:
        run_id = crawler.settings.get("ARCHIVE_RUN_ID") or new_run_id()
        setattr(crawler, _ATTR, run_id)
    return str(run_id)
