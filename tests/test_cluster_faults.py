"""Distributed crawling when things go wrong: `newsarchiver crawl --redis` workers, one Redis.

A worker killed midway costs nothing; Redis unreachable at start is exit 2 with a clear message
and no password in it; a worker id in use and bad cluster options are refused; Redis lost
midway stops the workers cleanly and a later worker finishes; failures are shared between the
workers and retried by the next run, whichever worker runs it. The workers are
tests/cluster_workers.py's, on the demo outlets of the mock server.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.demo import DemoSite
from testkit.mockserver import MockServer
from testkit.redis_server import RedisServer, free_port
from tests.cluster_workers import (
    Worker,
    check_archive_once,
    check_warcs,
    cluster_name,
)
from tests.conftest import FAST, Crawl, cli


def test_a_killed_worker_loses_nothing(
    mockserver: MockServer,
    demo_crawl: Crawl,
    redis_server: RedisServer,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    # slow: the kill lands with requests in flight
    site = mockserver.site("in-flight", delay=0.3)
    config = site.write_config(tmp_path / "outlets.yaml")
    name = cluster_name()
    client = redis_server.client()
    a = start_worker(config, redis_server.url, "wa", name)
    deadline = time.monotonic() + 60
    while not client.hlen(f"{name}:leases:wa") and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition: A has requests in flight
    b = start_worker(config, redis_server.url, "wb", name)
    # B in the run before A dies (else B, joining a run with no live worker, resumes it)
    while not client.sismember(f"{name}:workers", "wb") and time.monotonic() < deadline:
        time.sleep(0.05)
    while client.hlen(f"{name}:leases:wa") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    in_flight = client.hlen(f"{name}:leases:wa")
    assert in_flight >= 1
    a.proc.send_signal(signal.SIGKILL)
    a.wait()
    assert b.wait() == 0, b.err[-3000:]

    check_archive_once([a, b], demo_crawl)
    stats = b.summary["stats"]
    assert stats.get("cluster/leases/reclaimed", 0) >= 1  # A's requests came back to the queue
    assert not client.exists(f"{name}:leases:wa")
    assert check_warcs(b) > 0


def test_redis_unreachable_at_start_is_exit_2(demo_site: DemoSite, tmp_path: Path) -> None:
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    result = cli("crawl", "--config", str(config), "--archive", str(tmp_path / "a"),
                 "--redis", url, *FAST)  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Redis at redis://:***@127.0.0.1:" in result.stderr
    assert "unreachable" in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout
    assert not list((tmp_path / "a").glob("warc/*.warc.gz"))


def test_password_protected_redis_and_the_password_never_logged(
    demo_site: DemoSite,
    redis_server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> None:
    server = redis_server_factory(password="p4ss-w0rd-xyz")
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    archive = tmp_path / "archive"
    wrong = server.url.replace("p4ss-w0rd-xyz", "not-it")
    result = cli("crawl", "--config", str(config), "--archive", str(archive), "--redis", wrong)
    assert result.returncode == 2
    assert "refused" in result.stderr and "not-it" not in result.stderr

    result = cli("crawl", "--config", str(config), "--archive", str(archive), "--redis",
                 server.url, "-s", "LOG_LEVEL=DEBUG", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    logs = "".join(p.read_text() for p in (archive / "logs").glob("*.log"))
    assert "joined run" in logs
    for text in (result.stdout, result.stderr, logs):
        assert "p4ss-w0rd-xyz" not in text


def test_a_worker_id_in_use_is_refused(
    demo_site: DemoSite, redis_server: RedisServer, tmp_path: Path
) -> None:
    name = cluster_name()
    redis_server.client().set(f"{name}:alive:w1", "otherhost:123:abc", ex=60)
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    result = cli("crawl", "--config", str(config), "--archive", str(tmp_path / "a"), "--redis",
                 redis_server.url, "--worker-id", "w1", "--cluster", name)  # fmt: skip
    assert result.returncode == 2
    assert "worker id 'w1' is in use by otherhost:123:abc" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--worker-id", "w1"], "--worker-id and --cluster need --redis URL"),
        (["--redis", "http://x"], "REDIS_URL must be redis://"),
        (["--redis", "redis://h", "--worker-id", "a-b"], "--worker-id must be letters"),
        (["--redis", "redis://h", "--worker-id", "../x"], "--worker-id must be letters"),
        (["--redis", "redis://h", "--worker-id", "a" * 65], "--worker-id must be letters"),
        (["--redis", "redis://h", "-s", "CLUSTER_WORKER_ID=a/b"], "CLUSTER_WORKER_ID must be"),
        (["--redis", "redis://h", "-s", "CLUSTER_WORKER_TTL=1"], "CLUSTER_WORKER_TTL must be"),
        (["--redis", "redis://h", "-s", "CLUSTER_PREFETCH=0"], "CLUSTER_PREFETCH must be at least"),
        (
            ["--redis", "redis://h", "-s", "CLUSTER_PREFETCH=5000"],
            "CLUSTER_PREFETCH must be at most",
        ),
        (
            ["--redis", "redis://h", "-s", "CLUSTER_SYNC_INTERVAL=x"],
            "CLUSTER_SYNC_INTERVAL must be",
        ),
        (["--redis", "redis://h", "-s", "CLUSTER_FLUSH_INTERVAL=0"], "CLUSTER_FLUSH_INTERVAL must"),
        (
            ["--redis", "redis://h", "-s", "CLUSTER_TEXT_NUMBERS_AHEAD=0"],
            "CLUSTER_TEXT_NUMBERS_AHEAD must be at least",
        ),
    ],
)
def test_bad_cluster_options_are_exit_2(
    demo_site: DemoSite, tmp_path: Path, args: list[str], message: str
) -> None:
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    result = cli("crawl", "--config", str(config), "--archive", str(tmp_path / "a"), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_redis_lost_midway_stops_cleanly_and_a_later_worker_finishes(
    mockserver: MockServer,
    demo_crawl: Crawl,
    redis_server_factory: Callable[..., RedisServer],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    server = redis_server_factory(persist=True)  # Redis with its AOF on, as in production
    name = cluster_name()
    site = mockserver.site("in-flight", delay=0.3)
    config = site.write_config(tmp_path / "outlets.yaml")
    a = start_worker(config, server.url, "wa", name, "-s", "CLUSTER_REDIS_LOST_TIMEOUT=2")
    client = server.client()
    deadline = time.monotonic() + 60
    while client.hlen(f"{name}:leases:wa") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition: requests in flight
    server.kill()
    assert a.wait() == 1, a.err[-3000:]  # not a success: the run did not end
    assert a.summary["finish_reason"] == "cluster_redis_lost"
    assert "Redis lost" in a.err

    # consistent: no open WARC, nothing half-written, every text beside its sidecar
    check_warcs(a)
    assert not list((a.archive / "tmp").iterdir())
    for text in (a.archive / "text").glob("*.txt"):
        assert text.with_suffix(".json").exists()
    assert not a.query("SELECT stem FROM texts WHERE state = 'writing'")

    # Redis back: a worker resumes the run's queue; together nothing is missing
    server.start()
    b = start_worker(config, server.url, "wb", name)
    assert b.wait() == 0, b.err[-3000:]
    assert b.summary["stats"].get("cluster/role/resumer") == 1
    # what A had taken and not finished was still leased in Redis: the resumed run took it
    check_archive_once([a, b], demo_crawl)


def test_failures_are_shared_and_retried_by_the_next_run_whichever_worker(
    mockserver: MockServer,
    redis_server: RedisServer,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    name = cluster_name()
    fast_retries = [
        "-s", "RETRY_BASE_DELAY=0.2", "-s", "RETRY_MAX_DELAY=1", "-s", "DOWNLOAD_TIMEOUT=1",
        "-s", "DOWNLOAD_MAXSIZE=1048576", "-s", "RETRY_RUN_BACKOFF=0",
    ]  # fmt: skip
    site = mockserver.faults("cluster-faults", hang_seconds=3, fresh=True)
    config = site.write_config(tmp_path / "faults.yaml")
    a = start_worker(config, redis_server.url, "wa", name, *fast_retries)
    assert a.wait() == 0, a.err[-3000:]
    challenge = site.base_url + "/f/challenge"
    shared = redis_server.client().hget(f"{name}:failures", challenge)
    assert shared is not None and json.loads(shared)["reason"] == "http_403"
    # in-run retries went back through the shared queue, each taking over its lease
    stats = a.summary["stats"]
    assert stats["cluster/leases/released"] >= stats["retry/count"] > 0

    site.heal("/f/challenge")
    # another worker, another archive, a later run: it retries what A listed, now due
    b = start_worker(config, redis_server.url, "wb", name, *fast_retries)
    assert b.wait() == 0, b.err[-3000:]
    assert b.summary["stats"].get("spider/requeued", 0) >= 1
    titles = {json.loads(p.read_text())["url"] for p in (b.archive / "text").glob("*.json")}
    assert challenge in titles
    assert redis_server.client().hget(f"{name}:failures", challenge) is None  # healed
