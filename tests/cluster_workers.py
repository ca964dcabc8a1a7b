"""Cluster workers for the distributed-crawling tests: `newsarchiver crawl --redis` processes.

A :class:`Worker` is one worker process crawling into an archive of its own, as one machine of N
would; :func:`spawn` starts one, the ``start_worker`` fixture (tests/conftest.py imports it)
starts them and stops every one after the test. The checks read the workers' archives: every
article once across them, every WARC readable.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import FAST, Crawl

ROBOTS = "/robots.txt"


class Worker:
    def __init__(self, archive: Path, proc: subprocess.Popen[str], worker_id: str) -> None:
        self.archive = archive
        self.proc = proc
        self.worker_id = worker_id
        self.out = ""
        self.err = ""

    def wait(self, timeout: float = 180) -> int:
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    @property
    def summary(self) -> dict[str, Any]:
        (path,) = (self.archive / "runs").glob("*.json")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return sqlite_rows(self.archive, sql)

    def fetched(self) -> set[str]:
        rows = self.query("SELECT url FROM captures WHERE record_type IN ('response', 'revisit')")
        return {url for (url,) in rows if not url.endswith(ROBOTS)}

    def texts(self) -> dict[str, str]:
        """sha256 -> stem of the texts this worker stored (its files are on its disk)."""
        return dict(self.query("SELECT sha256, stem FROM texts WHERE state = 'stored'"))


def spawn(root: Path, config: Path, redis_url: str, worker_id: str, cluster: str,
          *extra: str) -> Worker:  # fmt: skip
    """`newsarchiver crawl --redis …` in a process of its own, its archive under `root`."""
    archive = root / f"archive-{worker_id}"
    command = [
        sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config),
        "--archive", str(archive), "--redis", redis_url, "--worker-id", worker_id,
        "--cluster", cluster, *FAST, "-s", "CONCURRENT_REQUESTS=4",
        "-s", "CLUSTER_HEARTBEAT=0.5", "-s", "CLUSTER_WORKER_TTL=3", *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Worker(archive, proc, worker_id)


def stop_all(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.communicate()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(*args: Any) -> Worker:
        started.append(spawn(tmp_path, *args))
        return started[-1]

    yield start
    stop_all(started)


def cluster_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def check_archive_once(workers: list[Worker], expected: Crawl) -> None:
    """Across the workers: each text of a one-machine crawl stored once, numbers unique."""
    expected_shas = {sha for (sha,) in sqlite_rows(expected.archive, "SELECT sha256 FROM texts")}
    stored = [(sha, stem, w) for w in workers for sha, stem in w.texts().items()]
    shas = [sha for sha, _, _ in stored]
    assert sorted(shas) == sorted(set(shas)), "a text stored by two workers"
    assert set(shas) == expected_shas
    numbers = [stem.split("_")[0] for _, stem, _ in stored]
    assert len(numbers) == len(set(numbers)), f"an NNN used twice: {sorted(numbers)}"
    for sha, stem, worker in stored:
        text = worker.archive / "text" / f"{stem}.txt"
        sidecar = json.loads((worker.archive / "text" / f"{stem}.json").read_text())
        assert sidecar["sha256"] == sha and text.exists()


def sqlite_rows(archive: Path, sql: str) -> list[tuple[Any, ...]]:
    return sqlite_rows_at(archive / "manifest.sqlite", sql)


def check_warcs(worker: Worker) -> int:
    files = sorted((worker.archive / "warc").glob("*.warc.gz"))
    assert not list((worker.archive / "warc").glob("*.open")), "a WARC left open"
    records = 0
    for path in files:
        assert f"_{worker.worker_id}-" in path.name  # the worker id is in the prefix
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                record.content_stream().read()
                records += 1
    return records


def sqlite_rows_at(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()
