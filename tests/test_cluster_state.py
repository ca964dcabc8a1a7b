"""ClusterState's Lua steps on real Redis.

The crawl tests (tests/test_cluster.py) show the whole; these pin down each rule the workers
agree by: a text number handed out once, a dead worker's claims and leases taken over, a worker
id held by one process, the run ended by the last worker out. The JSON queue serializer and the
leasing scheduler: tests/test_cluster_scheduler.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import redis

from crawler.cluster.queue_state import Push
from crawler.cluster.state import ClusterError, ClusterState, redact
from testkit.redis_server import RedisServer
from tests.helpers import project_settings

NOW = "2026-11-22T00:00:00Z"


@pytest.fixture
def make_state(redis_server: RedisServer) -> Callable[[str], ClusterState]:
    ns = f"u{uuid.uuid4().hex[:8]}"
    ahead = project_settings()["CLUSTER_TEXT_NUMBERS_AHEAD"]
    return lambda worker: ClusterState(redis_server.url, ns, worker, numbers_ahead=ahead)


@pytest.fixture
def joined(make_state: Callable[[str], ClusterState]) -> tuple[ClusterState, ClusterState]:
    """Two workers, a and b, that have joined the crawl (each its own run)."""
    a, b = make_state("a"), make_state("b")
    a.join("run-a", 30, NOW)
    b.join("run-b", 30, NOW)
    return a, b


def test_text_numbers_are_handed_out_once_and_a_dead_writers_claim_is_taken_over(
    joined: tuple[ClusterState, ClusterState],
) -> None:
    a, b = joined
    assert a.claim_text("sha1") == ("new", 0)
    assert b.claim_text("sha2") == ("new", 1)
    assert b.claim_text("sha1") == ("elsewhere", 0)  # a is writing it: a duplicate for b
    assert a.claim_text("sha1") == ("mine", 0)  # a again (a retry): same number
    a.text_stored("sha1", 0)
    assert b.claim_text("sha1") == ("stored", 0)
    # b dies with sha2 claimed: a takes it over under b's number, no new number is used
    b.redis.delete(b.alive_key)
    assert a.claim_text("sha2") == ("mine", 1)
    # numbers are reserved ahead, 1, 2, 4 … at a time: 2 and 3 were b's (a gap now), 4 is a's
    assert a.claim_text("sha3") == ("new", 4)


def test_a_dropped_text_is_forgotten_but_its_number_stays_taken(
    joined: tuple[ClusterState, ClusterState],
) -> None:
    a, b = joined
    assert a.claim_text("sha1") == ("new", 0)
    a.text_stored("sha1", 0)
    a.mark_archived(["http://x/1", "http://x/1?amp"], NOW)
    a.flush()
    assert b.archived_at("http://x/1") == NOW
    # its WARC record did not survive a crash: a drops the text; the next fetch must write it
    a.forget_text("sha1", 0, ["http://x/1", "http://x/1?amp"])
    assert b.archived_at("http://x/1") is None and b.archived_at("http://x/1?amp") is None
    assert a.archived_at_cached("http://x/1") is None
    assert a.claim_text("sha1") == ("new", 1)  # a new number: 0 is never handed out again
    a.text_stored("sha1", 1)
    a.forget_text("sha1", 0, [])  # a stale forget leaves the text stored under its new number
    assert b.claim_text("sha1") == ("stored", 1)


def test_sync_texts_never_lets_a_number_be_handed_out_twice(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    assert a.sync_texts([("old1", 0), ("old2", 7)]) == 8
    assert a.claim_text("old2") == ("stored", 7)
    assert a.claim_text("fresh") == ("new", 8)
    assert a.sync_texts([("old1", 0)]) == 9  # never lowered


def test_a_dead_workers_leases_go_back_to_the_queue(
    make_state: Callable[[str], ClusterState],
) -> None:
    a, b = make_state("a"), make_state("b")
    a.join("r", 30, NOW)
    b.join("r", 30, NOW)
    a.seeded()
    a.sync()
    for n, priority in ((1, 0), (2, 5)):
        a.redis.zadd(a.keys["requests"], {f"req{n}".encode(): -priority})
    lease, data = a.pop() or ("", b"")
    assert data == b"req2"  # the higher priority first
    assert a.queued() == 1 and a.leases() == 1
    assert b.reclaim() == 0  # a is alive
    assert b.run_state() == "queued"
    a.pop()
    assert b.run_state() == "busy"  # a holds requests that may find more
    a.redis.delete(a.alive_key)  # a stops beating
    assert b.reclaim() == 2
    assert b.queued() == 2 and a.leases() == 0
    assert set(b.redis.smembers(b.keys["workers"])) == {b"b"}
    assert not a.complete(lease)  # too late: it is someone else's now


def push(url: str, depth: int = 0, release: str = "", filtered: bool = True) -> Push:
    return Push(url if filtered else "", depth, 0, url.encode(), release)


def test_the_seen_filter_lets_a_url_found_again_at_a_smaller_depth_through(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    # one batched step: new, seen in the same batch, deeper, unfiltered
    result = a.sync(
        pushes=[push("fp", 2), push("fp", 2), push("fp", 3), push("x", 5, filtered=False)]
    )
    assert result.admitted == [1, 0, 0, 1]
    assert a.sync(pushes=[push("fp", 2), push("fp", 3)]).admitted == [0, 0]  # seen at that depth
    # shallower: crawl it again, its links reach further (and twice in a batch: once)
    assert a.sync(pushes=[push("fp", 1), push("fp", 1), push("fp", 0)]).admitted == [2, 0, 2]
    assert a.sync(pushes=[push("fp", 0)]).admitted == [0]
    assert a.queued() == 2  # the same request queued again is one entry of the queue


def test_a_batched_step_queues_ends_and_takes_in_a_few_commands(
    make_state: Callable[[str], ClusterState], redis_server: RedisServer
) -> None:
    a, b = make_state("a"), make_state("b")
    a.join("r", 30, NOW)
    b.join("r", 30, NOW)
    client = redis_server.client()
    a.sync()  # its connection made (redis-py's own commands at connect)
    before = commands(client)
    result = a.sync(pushes=[push(f"u{n}", 1) for n in range(50)], lease_ids=a.lease_ids(10))
    # EVALSHA, GET of the epoch (Redis still holds this cluster's state), then HMGET, HSET and
    # ZADD for the 50, ZRANGE, ZREM and HSET for the 10 taken
    assert since(client, before) == 8
    assert result.admitted == [1] * 50 and len(result.taken) == 10 and a.leases() == 10
    leases = [lease for lease, _ in result.taken]
    # a retry of one goes back into the queue and ends its lease in the same step; finished
    # leases end with the next step; one of another worker's is not this one's to end
    for lease in leases[:4]:
        assert a.lease_done(lease)
    assert not a.lease_done(leases[0]) and not b.lease_done(leases[5])
    assert a.release(leases[4])
    ended = a.take_done()
    assert len(ended) == 4 and a.leases() == 10  # nothing asked of Redis yet
    result = a.sync(ended, [push("retry", 1, release=leases[4], filtered=False)])
    assert result.ended == 5 and a.leases() == 5 and a.queued() == 41
    # no lease id twice, even across processes of the same worker id
    assert len(set(leases) | set(make_state("a").lease_ids(10))) == 20


def test_seeded_is_written_once_the_seeds_are_queued(
    make_state: Callable[[str], ClusterState],
) -> None:
    a, b = make_state("a"), make_state("b")
    a.join("r", 30, NOW)
    b.join("r", 30, NOW)
    a.seeded()
    assert b.run_state() == "seeding"  # said, not yet written: the seeds are on their way
    a.sync(pushes=[push("seed1")], drained=False)
    assert b.run_state() == "queued"
    a.redis.delete(a.keys["requests"])
    assert b.run_state() == "seeding"
    a.sync(pushes=[push("seed2")])  # the last seeds: written with them
    a.redis.delete(a.keys["requests"])
    assert b.run_state() == "done" and not a.seeded_waiting()


def test_what_a_failed_step_took_is_found_again(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    a.sync(pushes=[push("u1"), push("u2"), push("u3")])
    ids = a.lease_ids(2)
    # Redis ran the step, its answer was lost (a timeout): the requests are in a's lease hash
    a._sync(keys=[a.keys["requests"], a.keys["dupefilter"], a.leases_key, a.keys["run"],
                  a.keys["epoch"]], args=[0, 0, len(ids), *ids, "0", a.epoch])  # fmt: skip
    found = a.recover([*ids, "nope.1"])
    assert sorted(data for _, data in found) == [b"u1", b"u2"]
    assert {lease for lease, _ in found} == set(ids)
    assert all(a.lease_done(lease) for lease in ids)  # this process's to end


def commands(client: redis.Redis) -> int:
    """Redis commands run so far (those of Lua scripts too), this INFO aside."""
    return int(client.info("stats")["total_commands_processed"])


def since(client: redis.Redis, before: int) -> int:
    """Redis commands run since `before` (`commands()`), the INFOs aside."""
    return commands(client) - before - 1


def test_archived_urls_are_known_from_memory_and_shared_in_batches(
    make_state: Callable[[str], ClusterState], redis_server: RedisServer
) -> None:
    a, b = make_state("a"), make_state("b")
    a.redis.hset(a.keys["archived"], mapping={"http://x/old": "2026-01-01T00:00:00Z"})
    assert a.load_archived() == 1 and b.load_archived() == 1  # at the start, every worker's
    assert b.archived_at_cached("http://x/old") == "2026-01-01T00:00:00Z"
    client = redis_server.client()
    before = commands(client)
    for n in range(20):
        a.mark_archived([f"http://x/{n}", f"http://x/{n}?amp"], NOW)
    # known here at once, without a word to Redis; the others hear of it with their flush
    assert a.archived_at_cached("http://x/7?amp") == NOW and since(client, before) == 0
    assert b.archived_at_cached("http://x/7") is None and a.archived_at("http://x/7") is None
    before = commands(client)
    result = a.flush()  # one HSET, one XADD, one XREAD for the 40
    assert (result.shared, since(client, before)) == (40, 3)
    assert a.archived_at("http://x/7") == NOW
    assert b.flush().pulled == 40 and b.archived_at_cached("http://x/19?amp") == NOW
    # a text dropped at a's restart: its URLs are fetched again, the others hear so too
    a.forget_text("sha", 0, ["http://x/3"])
    b.flush()
    assert b.archived_at_cached("http://x/3") is None and b.archived_at_cached("http://x/4")
    # a worker that starts now reads the hash; what was forgotten is not in it
    c = make_state("c")
    assert c.load_archived() == 40 and c.archived_at_cached("http://x/3") is None


def test_a_heal_never_deletes_a_failure_recorded_after_it(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    row = {"url": "http://x/1", "reason": "http_503"}
    a.put_failure(row)
    a.heal("http://x/1")  # healed: written behind
    assert a.failures() == [row]
    a.flush()
    assert a.failures() == []
    a.heal("http://x/1")
    a.put_failure(row)  # failed again before the flush: the heal is void
    a.flush()
    assert a.failures() == [row]


def test_text_numbers_are_reserved_ahead_and_unused_ones_given_back(
    make_state: Callable[[str], ClusterState],
) -> None:
    a, b = make_state("a"), make_state("b")
    got = [a.claim_text(f"a{n}")[1] for n in range(4)]
    assert got == [0, 1, 2, 3]  # blocks of 1, 2, then 4 (of which 3 and 4..6 unused)
    assert b.claim_text("b0") == ("new", 7)
    assert a.claim_text("a4") == ("new", 4)  # from its block: numbers stay unique
    assert a.return_numbers() == (2, False)  # 5, 6: b reserved after them, skipped
    assert b.return_numbers() == (0, True)  # b's block of 1 is used up
    c = make_state("c")
    c.claim_text("c0")  # 8
    assert c.claim_text("c1") == ("new", 9)  # its block of 2: 10 unused, given back
    assert c.return_numbers() == (1, True)
    c.claim_text("c2")  # a block of 4: 10 used, 11..13 given back
    assert c.return_numbers() == (3, True)
    assert make_state("d").claim_text("d0") == ("new", 11)
    one = ClusterState(c.url, c.ns, "e", numbers_ahead=1)
    assert [one.claim_text(f"e{n}")[1] for n in range(3)] == [12, 13, 14]


def test_a_worker_id_is_held_by_one_process(make_state: Callable[[str], ClusterState]) -> None:
    first, second = make_state("w1"), make_state("w1")
    assert first.join("r", 30, NOW)[0] == "seeder"
    with pytest.raises(ClusterError, match="worker id 'w1' is in use"):
        second.join("r", 30, NOW)
    assert not second.heartbeat(30)
    assert first.heartbeat(30)


def test_roles_and_the_last_worker_out_ends_the_run(
    make_state: Callable[[str], ClusterState],
) -> None:
    a, b = make_state("a"), make_state("b")
    assert a.join("run-1", 30, NOW) == ("seeder", "run-1")
    assert a.should_seed() and not b.should_seed()
    assert b.join("run-2", 30, NOW) == ("joiner", "run-1")
    assert b.run_state() == "seeding"  # b waits while a seeds, even with an empty queue
    a.seeded()
    a.sync()
    assert b.run_state() == "done"
    a.redis.sadd(a.keys["dupefilter"], "fp")
    assert a.leave(requeue=True) == (0, False)
    assert b.leave(requeue=True) == (0, True)
    assert not a.redis.exists(a.keys["run"], a.keys["dupefilter"], a.keys["workers"])


def test_a_run_whose_workers_all_died_is_resumed_with_its_queue(
    make_state: Callable[[str], ClusterState],
) -> None:
    a, b = make_state("a"), make_state("b")
    a.join("run-1", 30, NOW)
    a.redis.zadd(a.keys["requests"], {b"req1": 0, b"req2": 0})
    a.pop()
    a.redis.delete(a.alive_key)  # killed
    assert b.join("run-2", 30, NOW) == ("resumer", "run-2")
    assert b.queued() == 2  # a's lease came back
    assert not b.should_seed()


def test_redact_hides_the_password() -> None:
    # crawler.redaction's redact_url (tests/test_redaction.py has the rest)
    assert redact("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert redact("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert redact("redis://host:6379/0?password=s3cret") == "redis://host:6379/0?password=***"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"


def test_unreachable_redis_is_a_clear_error() -> None:
    state = ClusterState(
        "redis://:pw@127.0.0.1:1/0", "x", "w",
        numbers_ahead=project_settings()["CLUSTER_TEXT_NUMBERS_AHEAD"],
    )  # fmt: skip
    with pytest.raises(
        ClusterError, match=r"Redis at redis://:\*\*\*@127.0.0.1:1/0 is unreachable"
    ):
        state.ping()
