"""Worker ids: two workers on one machine, each with its own archive, need no --worker-id.

The default id is the host name and a hash of the archive's path (crawler.cluster.identity):
two real workers on this host crawl the demo outlets through one real Redis to completion, each
under its own id, and together archive every article once; the same explicit id twice is still
exit 2, and an id that is no safe token is exit 2 naming its option.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.cluster.identity import check_worker_id, default_worker_id
from crawler.demo import DemoSite
from storage.layout import safe_hostname
from testkit.mockserver import MockServer
from testkit.redis_server import RedisServer
from tests.cluster_workers import Worker, check_archive_once, check_warcs, cluster_name, stop_all
from tests.conftest import FAST, Crawl


@pytest.fixture(scope="module")
def slow_site(mockserver: MockServer) -> DemoSite:
    # 50 ms a response: both workers get a share (as in tests/test_cluster.py)
    return mockserver.site("slow", delay=0.05)


def spawn(archive: Path, config: Path, url: str, cluster: str, *extra: str) -> Worker:
    command = [
        sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config),
        "--archive", str(archive), "--redis", url, "--cluster", cluster, *FAST,
        "-s", "CONCURRENT_REQUESTS=4", "-s", "CLUSTER_HEARTBEAT=0.5", "-s", "CLUSTER_WORKER_TTL=3",
        "-s", "CLUSTER_PREFETCH=4",  # as many ahead as at once: both get a share of the demo
        *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Worker(archive, proc, "")


def test_the_default_id_is_the_host_and_the_archive(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first = default_worker_id(a)
    assert first == default_worker_id(a) == default_worker_id(tmp_path / "x" / ".." / "a")
    assert first != default_worker_id(b)
    assert first.startswith(f"{safe_hostname()}_") and len(first) <= 64
    assert check_worker_id(first, "x") == first  # a safe token: it goes into WARC names
    # an archive whose WARCs carry the bare host name (an earlier version's default) keeps it
    (a / "warc").mkdir(parents=True)
    (a / "warc" / f"newsarchiver_{safe_hostname()}-20260101000000-00000.warc.gz").touch()
    assert default_worker_id(a, "newsarchiver") == safe_hostname()
    assert default_worker_id(b, "newsarchiver") == default_worker_id(b)


@pytest.mark.parametrize("bad", ["a-b", "../x", "a/b", ".x", "", "a" * 65, "a b", "é"])
def test_an_unsafe_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="--worker-id must be"):
        check_worker_id(bad, "--worker-id")


def test_two_workers_on_one_host_need_no_worker_id(
    slow_site: DemoSite, demo_crawl: Crawl, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = slow_site.write_config(tmp_path / "outlets.yaml")
    name = cluster_name()
    a = spawn(tmp_path / "archive-a", config, redis_server.url, name)
    b = spawn(tmp_path / "archive-b", config, redis_server.url, name)
    try:
        assert a.wait() == 0, a.err[-3000:]
        assert b.wait() == 0, b.err[-3000:]
    finally:
        stop_all([a, b])
    ids = [w.summary["stats"]["cluster/worker"] for w in (a, b)]
    assert ids[0] != ids[1]
    for worker, worker_id in zip((a, b), ids, strict=True):
        assert worker_id == default_worker_id(worker.archive, "newsarchiver")
        worker.worker_id = worker_id
        check_warcs(worker)  # the id is in the WARC names
    assert all(w.summary["stats"].get("cluster/leases/taken", 0) > 0 for w in (a, b))
    check_archive_once([a, b], demo_crawl)


def test_the_same_explicit_id_twice_is_exit_2(
    slow_site: DemoSite, redis_server: RedisServer, tmp_path: Path
) -> None:
    config = slow_site.write_config(tmp_path / "outlets.yaml")
    name = cluster_name()
    a = spawn(tmp_path / "archive-a", config, redis_server.url, name, "--worker-id", "same")
    try:
        client = redis_server.client()
        deadline = time.monotonic() + 60
        while not client.exists(f"{name}:alive:same") and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a condition: A has joined
        assert client.exists(f"{name}:alive:same"), a.err
        b = spawn(tmp_path / "archive-b", config, redis_server.url, name, "--worker-id", "same")
        assert b.wait() == 2
        assert "worker id 'same' is in use" in b.err
        assert a.wait() == 0, a.err[-3000:]
    finally:
        stop_all([a])
