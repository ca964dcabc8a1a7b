"""The fault outlet's crawl cut short: SIGTERM while a retry waits records the page due for the
next run, which fetches it before discovery; a crashing or hanging extraction worker costs one
page. Each on a fault site of its own of the mock server (the attempt counts are its state)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from crawler.demo.faults import (
    BRIEF,
    LINKED_ARTICLE,
    article_title,
)
from storage.manifest import Manifest
from testkit.mockserver import MockServer
from tests.conftest import cli
from tests.test_faults import SETTINGS


def test_sigterm_while_a_retry_waits_records_it_due_for_the_next_run(
    mockserver: MockServer, tmp_path: Path
) -> None:
    import signal
    import sys
    import time

    site = mockserver.faults("faults-sigterm", fresh=True)
    config = site.write_config(tmp_path / "faults.yaml")
    archive = tmp_path / "archive"
    # /f/503-once answers 503 first; its retry is set to wait 30-60 s
    args = ["crawl", "--config", str(config), "--archive", str(archive), *SETTINGS,
            "-s", "RETRY_BASE_DELAY=60", "-s", "RETRY_MAX_DELAY=60"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(r.path == "/f/503-once" for r in site.requests):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    log = next((archive / "logs").glob("*.log"))
    while "retrying " + site.url("/f/503-once") not in log.read_text():  # the retry waits
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    manifest = Manifest(archive / "manifest.sqlite")
    row = manifest.failure(site.url("/f/503-once"))
    manifest.close()
    assert row is not None and row["reason"] == "http_5xx"
    assert "while the retry waited" in row["detail"]
    assert row["next_retry_at"] <= row["last_tried"]  # due at once, not in an hour
    site.clear_requests()
    rerun = cli(*args[:-4])  # with the test's quick retries
    assert rerun.returncode == 0
    asked = [r.path for r in site.requests]
    assert asked.index("/f/503-once") < asked.index("/")  # due failures before discovery
    titles = {json.loads(p.read_text())["title"] for p in (archive / "text").glob("*.json")}
    assert article_title("/f/503-once") in titles


def test_a_crashing_or_hanging_extraction_worker_costs_one_page(
    mockserver: MockServer, tmp_path: Path
) -> None:
    site = mockserver.faults("faults-crashy", fresh=True)
    config = site.write_config(tmp_path / "faults.yaml")
    archive = tmp_path / "archive"
    result = cli("crawl", "--config", str(config), "--archive", str(archive), *SETTINGS,
                 "-s", "EXTRACT_FUNCTION=tests.crashy_extractor.extract",
                 # the timeout also covers starting a worker (trafilatura's import): after
                 # a pool breaks, each page in flight starts one of its own at once
                 "-s", "EXTRACT_TIMEOUT=20", "-s", "EXTRACT_WORKERS=2")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = Manifest(archive / "manifest.sqlite")
    crashed = manifest.failure(site.url("/f/ok"))
    hung = manifest.failure(site.url("/f/bad-charset"))
    manifest.close()
    assert crashed is not None and crashed["reason"] == "extraction_crashed"
    assert hung is not None and hung["reason"] == "extraction_timeout"
    titles = {json.loads(p.read_text())["title"] for p in (archive / "text").glob("*.json")}
    # the pages in flight when the workers died were extracted again in a new pool
    assert titles == {article_title(p) for p in ("/f/403-twice", "/f/429-retry-after",
                                                   "/f/503-once", "/f/utf16-header",
                                                   LINKED_ARTICLE, BRIEF)}  # fmt: skip
    (summary,) = [json.loads(p.read_text()) for p in (archive / "runs").glob("*.json")]
    assert summary["finish_reason"] == "finished"
    assert summary["stats"]["extract/worker_died"] >= 1
    assert summary["stats"]["extract/timeout"] == 1
