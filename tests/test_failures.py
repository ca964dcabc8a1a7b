"""Failure records and the across-run retry policy (storage.failures), on a real manifest."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from storage.clock import iso
from storage.failures import FailureLog, RetryPolicy, requeue_plan
from storage.manifest import Manifest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def log_for(tmp_path: Path, run_id: str, max_runs: int = 3) -> FailureLog:
    manifest = Manifest(tmp_path / "manifest.sqlite")
    policy = RetryPolicy(max_runs=max_runs, base_seconds=3600, factor=4)
    return FailureLog(manifest, tmp_path / "failures.jsonl", policy, run_id)


def test_backoff_grows_per_failed_run_and_gives_up_after_max_runs(tmp_path: Path) -> None:
    url = "https://a.example/news/1"
    rows = []
    for run, hours in enumerate((0, 2, 7), start=1):
        log = log_for(tmp_path, f"run{run}")
        now = T0 + timedelta(hours=hours)
        rows.append(log.record(url, "a", "http_403", status=403, attempts=4, kind="page", now=now))
        log.manifest.close()
    assert [r["runs_failed"] for r in rows] == [1, 2, 3]
    assert [r["attempts"] for r in rows] == [4, 8, 12]
    assert rows[0]["next_retry_at"] == iso(T0 + timedelta(hours=1))
    assert rows[1]["next_retry_at"] == iso(T0 + timedelta(hours=2 + 4))
    assert rows[2]["state"] == "gave_up" and rows[2]["next_retry_at"] is None
    assert rows[2]["first_failed"] == iso(T0)
    lines = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert [x["run_id"] for x in lines] == ["run1", "run2", "run3"]
    assert {"url", "outlet", "reason", "status", "attempts", "first_failed", "last_tried",
            "next_retry_at", "detail"} <= set(lines[0])  # fmt: skip


def test_several_failures_in_one_run_count_one_run(tmp_path: Path) -> None:
    log = log_for(tmp_path, "run1")
    log.record("https://a.example/x", "a", "timeout", attempts=4, now=T0)
    row = log.record("https://a.example/x", "a", "http_5xx", status=503, attempts=4, now=T0)
    assert (row["runs_failed"], row["attempts"], row["reason"]) == (1, 8, "http_5xx")


def test_404_is_recorded_and_not_retried_and_retry_after_is_respected(tmp_path: Path) -> None:
    log = log_for(tmp_path, "run1")
    gone = log.record("https://a.example/gone", "a", "http_404", status=404, now=T0)
    assert (gone["state"], gone["next_retry_at"], gone["attempts"]) == ("gave_up", None, 1)
    slow = log.record("https://a.example/slow", "a", "http_429", status=429, retry_after=7200,
                      now=T0)  # fmt: skip
    assert slow["next_retry_at"] == iso(T0 + timedelta(hours=2))


def test_heal_removes_from_the_list_and_keeps_the_history(tmp_path: Path) -> None:
    log = log_for(tmp_path, "run1")
    log.record("https://a.example/x", "a", "http_403", status=403, attempts=4, now=T0)
    assert log.heal("https://a.example/x")
    assert log.manifest.failures() == []
    events = log.manifest.query("SELECT url, reason, attempts FROM failure_events")
    assert [tuple(e) for e in events] == [("https://a.example/x", "http_403", 4)]
    assert not log.heal("https://a.example/x")


def test_requeue_plan_takes_due_failures_and_leaves_the_rest_alone(tmp_path: Path) -> None:
    log = log_for(tmp_path, "run1")
    log.record("https://a.example/due", "a", "timeout", kind="page", now=T0 - timedelta(hours=2))
    log.record("https://a.example/later", "a", "timeout", kind="sitemap", now=T0)
    log.record("https://a.example/gone", "a", "http_404", status=404, now=T0 - timedelta(days=9))
    log.record("https://b.example/other", "b", "timeout", now=T0 - timedelta(hours=2))
    m = log.manifest
    due, leave = requeue_plan(m, ["a"], T0, "due")
    assert [(f["url"], f["kind"]) for f in due] == [("https://a.example/due", "page")]
    assert leave == {"https://a.example/later", "https://a.example/gone"}
    pending = {f["url"] for f in requeue_plan(m, ["a"], T0, "pending")[0]}
    assert pending == {"https://a.example/due", "https://a.example/later"}
    assert len(requeue_plan(m, ["a", "b"], T0, "all")[0]) == 4
