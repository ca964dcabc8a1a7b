"""ClusterState's Lua steps, the JSON queue serializer and the leasing scheduler, on real Redis.

The crawl tests (tests/test_cluster.py) show the whole; these pin down each rule the workers
agree by: a text number handed out once, a dead worker's claims and leases taken over, a worker
id held by one process, the run ended by the last worker out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import redis
from scrapy import Request, Spider
from scrapy import signals as scrapy_signals
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawler.cluster import serializer
from crawler.cluster.addon import ClusterAddon
from crawler.cluster.scheduler import LeasingScheduler
from crawler.cluster.state import ClusterError, ClusterState, Push, redact
from testkit.redis_server import RedisServer

NOW = "2026-11-22T00:00:00Z"


@pytest.fixture
def make_state(redis_server: RedisServer) -> Callable[[str], ClusterState]:
    ns = f"u{uuid.uuid4().hex[:8]}"
    return lambda worker: ClusterState(redis_server.url, ns, worker)


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
    state = ClusterState("redis://:pw@127.0.0.1:1/0", "x", "w")
    with pytest.raises(
        ClusterError, match=r"Redis at redis://:\*\*\*@127.0.0.1:1/0 is unreachable"
    ):
        state.ping()


class _Spider(Spider):
    name = "s"

    def parse(self, response: object) -> None:
        pass

    def on_error(self, failure: object) -> None:
        pass


def test_queued_requests_are_json_and_keep_what_a_request_needs() -> None:
    spider = _Spider()
    request = Request(
        "https://example.org/a?x=1", callback=spider.parse, errback=spider.on_error,
        method="POST", body=b"\xff\x00body", headers={"If-None-Match": '"etag"'}, priority=3,
        meta={"outlet": "o", "kind": "page", "depth": 2, "warc": object(), "cluster_lease": "9"},
    )  # fmt: skip
    data = serializer.dumps(request.to_dict(spider=spider))
    assert b"__reduce__" not in data and data.startswith(b"{")  # JSON, not pickle
    back = request_from_dict(serializer.loads(data), spider=spider)
    assert (back.url, back.method, back.body, back.priority) == (
        request.url, "POST", b"\xff\x00body", 3,
    )  # fmt: skip
    assert back.headers[b"If-None-Match"] == b'"etag"'
    assert back.meta == {"outlet": "o", "kind": "page", "depth": 2}  # process-local keys left
    assert back.callback == spider.parse and back.errback == spider.on_error
    with pytest.raises(TypeError, match="cannot put a set"):
        serializer.dumps({"meta": {"x": {1, 2}}})


def test_the_scheduler_leases_and_a_requeued_request_ends_its_lease(
    redis_server: RedisServer,
) -> None:
    crawler = get_crawler(_Spider, scheduler_settings(redis_server.url, f"u{uuid.uuid4().hex[:8]}"))
    assert crawler.settings["WARC_PREFIX"] == "na_w"
    spider = _Spider.from_crawler(crawler)
    scheduler = LeasingScheduler.from_crawler(crawler)
    scheduler.open(spider)
    state = scheduler.state
    assert scheduler.enqueue_request(Request("https://example.org/1", callback=spider.parse))
    assert not scheduler.enqueue_request(Request("https://example.org/1"))  # seen, at once
    assert state.queued() == 0 and len(scheduler) == 1  # held for the next step
    scheduler.sync_now()  # queued, and taken ahead in the same step
    taken = scheduler.next_request()
    assert taken is not None and taken.meta["cluster_lease"]
    assert state.leases() == 1 and not scheduler.has_pending_requests()
    # a retry of it goes back into the queue and the lease ends in the step that queues it
    assert scheduler.enqueue_request(taken.replace(dont_filter=True))
    scheduler.sync_now()
    again = scheduler.next_request()
    assert again is not None and again.url == taken.url
    assert again.meta["cluster_lease"] != taken.meta["cluster_lease"] and state.leases() == 1
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert stats["cluster/leases/taken"] == 2 and stats["cluster/leases/released"] == 1
    assert stats["scheduler/enqueued/redis"] == 2
    # an unreadable entry (not JSON) is dropped with its lease, not retried forever
    state.redis.zadd(state.keys["requests"], {b"\x80garbage": 0})
    scheduler.sync_now()
    assert state.leases() == 2
    assert scheduler.next_request() is None
    scheduler.sync_now()
    assert state.leases() == 1  # only the one still taken


def test_the_scheduler_keeps_what_redis_did_not_take_and_sends_it_again(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    # with its AOF: Redis comes back with the cluster's state (empty, it is StateLost)
    server = redis_server_factory(persist=True)
    crawler = get_crawler(_Spider, scheduler_settings(server.url, f"u{uuid.uuid4().hex[:8]}"))
    spider = _Spider.from_crawler(crawler)
    scheduler = LeasingScheduler.from_crawler(crawler)
    scheduler.open(spider)
    dropped: list[Request] = []
    crawler.signals.connect(lambda request, spider: dropped.append(request),
                            signal=scrapy_signals.request_dropped, weak=False)  # fmt: skip
    for n in range(3):
        assert scheduler.enqueue_request(Request(f"https://example.org/{n}"))
    server.kill()
    with pytest.raises(redis.RedisError):
        scheduler.sync_now()
    stats = crawler.stats  # type: ignore[union-attr]
    assert stats.get_value("cluster/redis_errors/sync") == 1
    assert len(scheduler) == 3 and scheduler.has_pending_requests()  # kept
    server.start()
    scheduler.sync_now()
    assert scheduler.state.queued() + scheduler.state.leases() == 3
    assert not dropped and stats.get_value("scheduler/enqueued/redis") == 3
    # a step that failed after Redis took requests: they are found in the lease hash
    scheduler._recover = scheduler.state.lease_ids(1)
    state = scheduler.state
    state.redis.zadd(state.keys["requests"], {b'{"url": "https://example.org/9"}': 0})
    state._sync(keys=[state.keys["requests"], state.keys["dupefilter"], state.leases_key,
                      state.keys["run"], state.keys["epoch"]],
                args=[0, 0, 1, *scheduler._recover, "0", state.epoch])  # fmt: skip
    taken = len(scheduler._ready)
    scheduler.sync_now()
    assert len(scheduler._ready) == taken + 1
    assert stats.get_value("cluster/leases/recovered") == 1


def scheduler_settings(url: str, ns: str) -> dict[str, object]:
    # the add-on sets scrapy-redis's keys and the serializer, as in a crawl
    return {"CLUSTER_ENABLED": True, "REDIS_URL": url, "CLUSTER_NAME": ns,
            "CLUSTER_WORKER_ID": "w", "WARC_PREFIX": "na", "ADDONS": {ClusterAddon: 0},
            "CLUSTER_HEARTBEAT": 5, "CLUSTER_WORKER_TTL": 30, "CLUSTER_IDLE_POLL": 0.5,
            "CLUSTER_REDIS_LOST_TIMEOUT": 60, "CLUSTER_SYNC_INTERVAL": 0.5,
            "CLUSTER_PREFETCH": 16, "CLUSTER_FLUSH_INTERVAL": 1.0}  # fmt: skip


# The item leaves the pipelines as the spider's ArticleItem (dropped: no article) or as the last
# pipeline's ArchivedArticle, which carries no lease: the page's response does.
@pytest.mark.parametrize("leaves_as", ["article_item", "output_item"])
def test_a_lease_ends_only_when_all_its_page_gave_is_safe(
    redis_server: RedisServer, leaves_as: str
) -> None:
    from scrapy.http import HtmlResponse

    from crawler import signals as na_signals
    from crawler.cluster.leases import LeaseMiddleware
    from crawler.items import ArchivedArticle, ArticleItem

    ns = f"u{uuid.uuid4().hex[:8]}"
    crawler = get_crawler(_Spider, {"CLUSTER_ENABLED": True, "REDIS_URL": redis_server.url,
                                    "CLUSTER_NAME": ns, "CLUSTER_WORKER_ID": "w"})  # fmt: skip
    mw = LeaseMiddleware.from_crawler(crawler)
    state = mw.state
    state.redis.zadd(state.keys["requests"], {b"page": 0})
    lease, _ = state.pop() or ("", b"")
    request = Request("https://example.org/p", meta={"cluster_lease": lease})
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    item = ArticleItem("u", "u", "o", 200, b"", None, "t")
    found = [Request("https://example.org/a"), Request("https://example.org/b"), item]
    out = list(mw.process_spider_output(response, iter(found)))
    assert out == found and item.cluster_lease == lease
    # the callback is done, but its requests are not in the queue yet, nor its item stored
    assert state.leases() == 1
    signals = crawler.signals
    signals.send_catch_log(na_signals.request_queued, request=found[0])
    signals.send_catch_log(scrapy_signals.request_dropped, request=found[1], spider=None)
    assert state.leases() == 1
    left = item if leaves_as == "article_item" else ArchivedArticle(url="u", outlet="o")
    signals.send_catch_log(scrapy_signals.item_scraped, item=left, response=response, spider=None)
    assert crawler.stats.get_value("cluster/leases/completed") == 1  # type: ignore[union-attr]
    assert state.take_done() == [lease]  # for the scheduler's next step, which ends it
    mw.request_done(request)  # said twice: ended once
    assert not state.take_done()
