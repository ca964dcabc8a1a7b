"""The JSON queue serializer and the leasing scheduler of the cluster, on real Redis.

A queued request keeps what a request needs; the scheduler leases what it hands out, ends a
lease when the request is requeued or when all its page gave is safe, and keeps and sends again
what Redis did not take. ClusterState's own steps: tests/test_cluster_state.py.
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
from testkit.redis_server import RedisServer


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

    from crawler.cluster.leases import LeaseMiddleware
    from pipelines import signals as na_signals
    from pipelines.items import ArchivedArticle, ArticleItem

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
