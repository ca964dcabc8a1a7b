"""A Redis that comes back empty is not a finished run: the cluster's epoch, on real Redis.

Unit tests pin down the marker (``{ns}:epoch``, checked inside the scripts a worker runs anyway)
and its false positives: a fresh cluster, the normal end of a run, a late joiner, ``seed``, a tool
that never joined. The crawl test kills redis-server mid-crawl under two real workers, restarts it
without persistence (empty) and checks that both stop with ``cluster_state_lost`` (exit 1, the
message, the counter), their archives consistent, and that a re-seeded run completes the archive.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.cluster.connection import StateLost
from crawler.cluster.queue_state import Push
from crawler.cluster.state import ClusterState
from testkit.mockserver import MockServer
from testkit.redis_server import RedisServer
from tests.cluster_workers import Worker, check_warcs, cluster_name, spawn, sqlite_rows, stop_all
from tests.conftest import Crawl, cli
from tests.helpers import project_settings

NOW = "2026-11-22T00:00:00Z"


@pytest.fixture
def make_state(redis_server: RedisServer) -> Callable[[str], ClusterState]:
    ns = f"l{uuid.uuid4().hex[:8]}"
    ahead = project_settings()["CLUSTER_TEXT_NUMBERS_AHEAD"]
    return lambda worker: ClusterState(redis_server.url, ns, worker, numbers_ahead=ahead)


def forget_everything(state: ClusterState) -> None:
    """What a Redis restarted without persistence holds of the cluster: nothing."""
    keys = list(state.redis.scan_iter(f"{state.ns}:*"))
    if keys:
        state.redis.delete(*keys)


def test_no_false_positive_fresh_cluster_end_of_run_late_joiner_and_tools(
    make_state: Callable[[str], ClusterState],
) -> None:
    tool = make_state("tool")  # never joins: nothing is checked (tools, tests)
    assert tool.run_state() == "done" and not tool.lost
    a, b = make_state("a"), make_state("b")
    assert a.join("run-a", 30, NOW)[0] == "seeder"  # a fresh cluster: the epoch is written
    assert a.epoch and a.redis.get(f"{a.ns}:epoch").decode() == a.epoch
    a.seeded()
    a.sync(pushes=[Push("fp1", 0, 0, b'{"url": "http://x/"}')])
    assert b.join("run-b", 30, NOW)[0] == "joiner"  # a late joiner learns the same epoch
    assert b.epoch == a.epoch
    (lease, _), *_ = b.sync(lease_ids=b.lease_ids(1)).taken
    b.lease_done(lease)
    b.sync(ended=b.take_done())
    assert a.heartbeat(30) and b.heartbeat(30) and a.run_state() == "done"
    # the normal end: the last worker out deletes the run's keys, never the epoch
    assert a.leave(False) == (0, False) and b.leave(False) == (0, True)
    assert not a.redis.exists(f"{a.ns}:run")
    assert a.run_state() == "done" and a.claim_text("sha1")[0] == "new"
    assert not (a.lost or b.lost)
    # a new run of the same cluster (seed, or a worker): same epoch
    c = make_state("c")
    assert c.join("run-c", 30, NOW)[0] == "seeder" and c.epoch == a.epoch


def test_an_empty_redis_is_state_lost_and_nothing_is_written(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    a.join("run-a", 30, NOW)
    a.sync(pushes=[Push("fp1", 0, 0, b'{"url": "http://x/"}')])
    forget_everything(a)
    for call in (
        lambda: a.sync(pushes=[Push("fp2", 0, 0, b'{"url": "http://y/"}')], lease_ids=["l1"]),
        lambda: a.heartbeat(30),
        a.run_state,  # not "done": that is what made the workers exit 0
        lambda: a.claim_text("sha1"),  # an empty text_seq would hand out used numbers
    ):
        with pytest.raises(StateLost, match="no longer holds cluster"):
            call()
    assert a.lost
    assert list(a.redis.scan_iter(f"{a.ns}:*")) == []  # the checks wrote nothing
    # a worker that joins the empty Redis first writes a new epoch: still lost for a
    b = make_state("b")
    assert b.join("run-b", 30, NOW)[0] == "seeder" and b.epoch != a.epoch
    with pytest.raises(StateLost):
        a.heartbeat(30)
    assert b.heartbeat(30) and b.run_state() == "seeding"  # a new run, not lost


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Worker]]:
    workers: list[Worker] = []
    yield workers
    stop_all(workers)


def run_summaries(worker: Worker) -> list[dict[str, Any]]:
    paths = sorted((worker.archive / "runs").glob("*.json"))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def test_redis_restarted_empty_mid_crawl_stops_the_workers_and_a_new_run_completes(
    mockserver: MockServer,
    demo_crawl: Crawl,
    redis_server_factory: Callable[..., RedisServer],
    started: list[Worker],
    tmp_path: Path,
) -> None:
    server = redis_server_factory(persist=False)  # comes back empty after a kill
    name = cluster_name()
    client = server.client()
    expected = {sha for (sha,) in sqlite_rows(demo_crawl.archive, "SELECT sha256 FROM texts")}
    site = mockserver.site("in-flight", delay=0.2)
    config = site.write_config(tmp_path / "outlets.yaml")
    started += [spawn(tmp_path, config, server.url, w, name) for w in ("wa", "wb")]
    a, b = started
    deadline = time.monotonic() + 90
    # a condition: both in the run, texts stored, and requests in flight (leased)
    while time.monotonic() < deadline and not (
        client.scard(f"{name}:workers") == 2
        and client.hlen(f"{name}:texts") >= 3
        and client.hlen(f"{name}:leases:wa") + client.hlen(f"{name}:leases:wb") >= 1
    ):
        time.sleep(0.05)
    assert time.monotonic() < deadline, "the workers never got going"
    server.kill()
    server.start()  # at once: the workers never see it down for long, only empty
    codes = [a.wait(), b.wait()]

    for w, code in zip((a, b), codes, strict=True):
        assert code == 1, w.err[-3000:]  # never 0: the run did not finish
        summary = w.summary
        assert summary["finish_reason"] == "cluster_state_lost"
        assert summary["stats"]["cluster/state_lost"] == 1
        assert "Redis lost the cluster's state" in w.err and "appendonly yes" in w.err
        assert "re-seed and run again" in w.err.splitlines()[-1]  # the last line says why
        assert not summary["stats"].get("cluster/run_ended")
        # consistent: no open WARC, nothing half-written, every text beside its sidecar
        check_warcs(w)
        assert not list((w.archive / "tmp").iterdir())
        for text in (w.archive / "text").glob("*.txt"):
            assert text.with_suffix(".json").exists()
        assert not w.query("SELECT stem FROM texts WHERE state = 'writing'")
    first = set().union(*(w.texts() for w in (a, b)))
    assert first and first < expected  # stopped midway: a new run has work left

    # re-seed and run again: the workers skip what their archives hold, nothing is lost
    seed = cli("seed", "--config", str(config), "--redis", server.url, "--cluster", name)
    assert seed.returncode == 0, seed.stderr[-3000:]
    again = [spawn(tmp_path, config, server.url, w, name) for w in ("wa", "wb")]
    started += again
    for w in again:
        assert w.wait() == 0, w.err[-3000:]
    assert set().union(*(w.texts() for w in again)) >= expected
    second = [run_summaries(w)[-1]["stats"] for w in again]
    assert sum(s.get("spider/skipped/archived", 0) for s in second) >= 1
    # the first run's texts were not stored again (each worker tells the empty Redis of its
    # texts when it opens, and skips the articles its archive holds)
    assert sum(s.get("text/written", 0) for s in second) == len(expected - first)
