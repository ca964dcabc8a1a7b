"""ClusterState's Lua steps, the JSON queue serializer and the leasing scheduler, on real Redis.

The crawl tests (tests/test_cluster.py) show the whole; these pin down each rule the workers
agree by: a text number handed out once, a dead worker's claims and leases taken over, a worker
id held by one process, the run ended by the last worker out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from scrapy import Request, Spider
from scrapy import signals as scrapy_signals
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawler.cluster import serializer
from crawler.cluster.addon import ClusterAddon
from crawler.cluster.scheduler import LeasingScheduler
from crawler.cluster.state import ClusterError, ClusterState, redact
from tests.redis_server import RedisServer

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
    assert a.claim_text("sha3") == ("new", 2)


def test_a_dropped_text_is_forgotten_but_its_number_stays_taken(
    joined: tuple[ClusterState, ClusterState],
) -> None:
    a, b = joined
    assert a.claim_text("sha1") == ("new", 0)
    a.text_stored("sha1", 0)
    a.mark_archived(["http://x/1", "http://x/1?amp"], NOW)
    # its WARC record did not survive a crash: a drops the text; the next fetch must write it
    a.forget_text("sha1", 0, ["http://x/1", "http://x/1?amp"])
    assert b.archived_at("http://x/1") is None and b.archived_at("http://x/1?amp") is None
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


def test_the_seen_filter_lets_a_url_found_again_at_a_smaller_depth_through(
    make_state: Callable[[str], ClusterState],
) -> None:
    a = make_state("a")
    assert a.admit("fp", 2) == 1  # new
    assert a.admit("fp", 2) == 0  # seen at that depth
    assert a.admit("fp", 3) == 0  # deeper: nothing more to find through it
    assert a.admit("fp", 1) == 2  # shallower: crawl it again, its links reach further
    assert a.admit("fp", 1) == 0


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
    assert redact("redis://:s3cret@host:6379/0") == "redis://***@host:6379/0"
    assert redact("redis://user:s3cret@host/0") == "redis://***@host/0"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"


def test_unreachable_redis_is_a_clear_error() -> None:
    state = ClusterState("redis://:pw@127.0.0.1:1/0", "x", "w")
    with pytest.raises(ClusterError, match=r"Redis at redis://\*\*\*@127.0.0.1:1/0 is unreachable"):
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
    ns = f"u{uuid.uuid4().hex[:8]}"
    # the add-on sets scrapy-redis's keys and the serializer, as in a crawl
    settings = {"CLUSTER_ENABLED": True, "REDIS_URL": redis_server.url, "CLUSTER_NAME": ns,
                "CLUSTER_WORKER_ID": "w", "WARC_PREFIX": "na", "ADDONS": {ClusterAddon: 0},
                "CLUSTER_HEARTBEAT": 5, "CLUSTER_WORKER_TTL": 30, "CLUSTER_IDLE_POLL": 0.5,
                "CLUSTER_REDIS_LOST_TIMEOUT": 60}  # fmt: skip
    crawler = get_crawler(_Spider, settings)
    assert crawler.settings["WARC_PREFIX"] == "na_w"
    spider = _Spider.from_crawler(crawler)
    scheduler = LeasingScheduler.from_crawler(crawler)
    scheduler.open(spider)
    assert scheduler.enqueue_request(Request("https://example.org/1", callback=spider.parse))
    assert not scheduler.enqueue_request(Request("https://example.org/1"))  # seen
    taken = scheduler.next_request()
    assert taken is not None and taken.meta["cluster_lease"]
    assert scheduler.state.leases() == 1 and not scheduler.has_pending_requests()
    # a retry of it goes back into the queue and the lease ends with it
    assert scheduler.enqueue_request(taken.replace(dont_filter=True))
    assert scheduler.state.leases() == 0 and len(scheduler) == 1
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert stats["cluster/leases/taken"] == 1 and stats["cluster/leases/released"] == 1
    # an unreadable entry (not JSON) is dropped with its lease, not retried forever
    scheduler.next_request()
    scheduler.state.redis.zadd(scheduler.state.keys["requests"], {b"\x80garbage": 0})
    assert scheduler.next_request() is None
    assert scheduler.state.leases() == 1  # only the one still taken
    scheduler.close("finished")


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
    assert state.leases() == 0
    assert crawler.stats.get_value("cluster/leases/completed") == 1  # type: ignore[union-attr]
