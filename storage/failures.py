"""Failure records: a row per URL in the manifest plus an append-only ARCHIVE/failures.jsonl.

One small API, :meth:`FailureLog.record`, for every place a URL can end without a page or an
article, and the policy for retrying it across runs: a URL that failed in a run is due again
after ``base * factor ** (runs_failed - 1)`` seconds (1 h, 4 h, 16 h… by default, or later if
the server's Retry-After asked for more); after ``max_runs`` failed runs it is ``gave_up``:
still listed, no longer retried unless asked (``newsarchiver retry --all``). A 404 or 410 is
recorded and not retried. Success removes the URL from the list (``heal``); its history stays
in the manifest's ``failure_events``. A ``url_too_long`` row is never retried: it holds the URL
shortened.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from storage.clock import iso, utc_now
from storage.manifest import Manifest

logger = logging.getLogger(__name__)

PENDING, GAVE_UP = "pending", "gave_up"
# a URL past URLLENGTH_LIMIT is recorded shortened (crawler.middlewares.url_length): its row
# names no URL to request, so it is never retried
NOT_REQUESTABLE = frozenset({"url_too_long"})
NOT_RETRIED = frozenset({"http_404", "http_410"}) | NOT_REQUESTABLE


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed URL is tried again in a later run."""

    # RETRY_RUNS_MAX, RETRY_RUN_BACKOFF, RETRY_RUN_BACKOFF_FACTOR (crawler/settings.py)
    max_runs: int
    base_seconds: float
    factor: float

    def plan(
        self, reason: str, runs_failed: int, now: datetime, retry_after: float | None = None
    ) -> tuple[str, str | None]:
        """(state, next_retry_at) after a URL failed in `runs_failed` runs."""
        if reason in NOT_RETRIED or runs_failed >= self.max_runs:
            return GAVE_UP, None
        delay = self.base_seconds * self.factor ** max(runs_failed - 1, 0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return PENDING, iso(now + timedelta(seconds=delay))


class FailureLog:
    """Not thread-safe: one writer thread owns it (the failure recorder's)."""

    def __init__(self, manifest: Manifest, jsonl_path: Path, policy: RetryPolicy,
                 run_id: str = "") -> None:  # fmt: skip
        self.manifest = manifest
        self.jsonl_path = jsonl_path
        self.policy = policy
        self.run_id = run_id

    def record(
        self,
        url: str,
        outlet: str | None,
        reason: str,
        *,
        status: int | None = None,
        detail: str = "",
        attempts: int = 1,
        kind: str | None = None,
        retry_after: float | None = None,
        due_now: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Record that `url` failed (after `attempts` tries in this run); returns the row."""
        now = now or utc_now()
        old = self.manifest.failure(url)
        # A URL counts one failed run per run, however many times it was tried in it.
        new_run = old is None or old["last_run_id"] != self.run_id
        runs_failed = (old["runs_failed"] if old else 0) + (1 if new_run else 0)
        state, next_retry_at = self.policy.plan(reason, runs_failed, now, retry_after)
        if due_now and state == PENDING:
            next_retry_at = iso(now)  # cut short by the crawl's end, not by the outlet
        row = {
            "url": url, "outlet": outlet or (old and old["outlet"]),
            "kind": kind or (old and old["kind"]), "reason": reason, "status": status,
            "attempts": (old["attempts"] if old else 0) + attempts, "runs_failed": runs_failed,
            "first_failed": old["first_failed"] if old else iso(now), "last_tried": iso(now),
            "next_retry_at": next_retry_at, "detail": detail[:2000], "state": state,
            "last_run_id": self.run_id, "attempts_now": attempts,
        }  # fmt: skip
        self.manifest.put_failure(row, self.run_id)
        del row["attempts_now"]
        line = json.dumps({**row, "run_id": self.run_id}, ensure_ascii=False, sort_keys=True)
        # One write() on an O_APPEND descriptor: concurrent appenders never interleave a line.
        fd = os.open(self.jsonl_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        logger.info("failed: %s (%s, %d attempt(s)) %s", url, reason, attempts, detail[:200])
        return row

    def heal(self, url: str) -> bool:
        healed = self.manifest.heal(url)
        if healed:
            logger.info("healed: %s", url)
        return healed


def requeue_plan(
    manifest: Manifest,
    outlets: list[str],
    now: datetime,
    mode: str = "due",
    shared: list[dict[str, Any]] | None = None,
    identity: Callable[[str, str | None], str] | None = None,
) -> tuple[list[dict[str, Any]], set[str]]:
    """(failures to request again, URLs to leave alone) for a run starting at `now`; the URLs
    left alone as `identity(url, outlet)` gives them (the crawl's: their canonical URLs).

    mode "due": the failures whose next_retry_at has passed; the others (not yet due, or
    gave_up) are left alone even when discovery finds them again. mode "pending": every
    pending failure now (``newsarchiver retry``); "all": gave_up ones too (``--all``).
    `shared`: failure rows of a distributed crawl's other workers; for a URL listed both here
    and in the manifest, the row tried last counts.
    """
    rows = {f["url"]: f for f in manifest.failures(outlets, states=(PENDING, GAVE_UP))
            if f["reason"] not in NOT_REQUESTABLE}  # fmt: skip
    for row in shared or ():
        if row.get("reason") in NOT_REQUESTABLE:
            continue
        if row.get("outlet") in outlets and row.get("state") in (PENDING, GAVE_UP):
            mine = rows.get(row["url"])
            if mine is None or (row.get("last_tried") or "") > (mine.get("last_tried") or ""):
                rows[row["url"]] = row
    listed = sorted(rows.values(), key=lambda f: (f.get("outlet") or "", f["url"]))
    if mode == "due":
        at = iso(now)
        due = [f for f in listed if f["state"] == PENDING and f.get("next_retry_at")
               and f["next_retry_at"] <= at]  # fmt: skip
        due_urls = {f["url"] for f in due}
        alone = [f for f in listed if f["url"] not in due_urls]
        if identity is None:
            return due, {f["url"] for f in alone}
        return due, {identity(f["url"], f.get("outlet")) for f in alone}
    states = (PENDING, GAVE_UP) if mode == "all" else (PENDING,)
    return [f for f in listed if f["state"] in states], set()
