"""LeasingScheduler: scrapy-redis's scheduler, with requests leased instead of popped.

scrapy-redis pops a request off the shared queue and forgets it: a worker killed with requests
in flight loses them. Here a pop moves the request into this worker's lease hash in the same
Lua step (:meth:`ClusterState.pop`) and tags it ``meta["cluster_lease"]``; the lease ends when
the page is archived or recorded as failed (:mod:`crawler.cluster.leases`), or when the request
goes back into the queue (a retry, a redirect: :meth:`enqueue_request` ends it once the new
request is queued). A dead worker's leases return to the queue (:meth:`ClusterState.reclaim`).

Redis errors on the reactor are counted and survived: a pop that fails returns no request (the
cluster extension decides whether Redis is gone for good); a request that cannot be queued is
recorded as a failure due at once, so the next run asks for it again.

Settings: scrapy-redis's ``REDIS_URL``, ``SCHEDULER_*`` and ``DUPEFILTER_*`` (set by
:mod:`crawler.cluster.addon`), ``CLUSTER_NAME``, ``CLUSTER_WORKER_ID``.
Stats: scrapy-redis's ``scheduler/enqueued/redis``, ``scheduler/dequeued/redis``, and
``cluster/leases/{taken,released}``, ``cluster/requeued_shallower``, ``cluster/enqueue_failed``,
``cluster/redis_errors/{pop,enqueue,len}``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.misc import load_object
from scrapy.utils.request import request_from_dict
from scrapy_redis.scheduler import Scheduler

from crawler import signals as na_signals
from crawler.cluster.state import ClusterState
from crawler.requisite_links import REQUISITE

logger = logging.getLogger(__name__)

LOCAL_SEEN_MAX = 200_000  # fingerprints this worker remembers adding to the shared filter


class LeasingScheduler(Scheduler):
    state: ClusterState
    crawler: Crawler
    df: Any  # scrapy-redis's RFPDupeFilter
    seed_only: bool = False
    _added_here: dict[str, int]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeasingScheduler:
        instance: LeasingScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.state = ClusterState.for_crawler(crawler)
        instance.seed_only = crawler.settings.getbool("CLUSTER_SEED_ONLY")
        instance._added_here = {}
        return instance

    def open(self, spider: Spider) -> None:
        # scrapy-redis's open(), but its "Resuming crawl" goes through Spider.log(), which
        # Scrapy deprecated; nothing here flushes: the last worker out clears the run
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )  # fmt: skip
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if queued := len(self):
            logger.info("%d request(s) waiting in the shared queue", queued)

    def _inc(self, key: str) -> None:
        if self.stats:
            self.stats.inc_value(key)

    def __len__(self) -> int:
        try:
            return int(super().__len__())
        except redis.RedisError:
            self._inc("cluster/redis_errors/len")
            return 0

    def enqueue_request(self, request: Request) -> bool:
        lease = request.meta.pop("cluster_lease", None)
        try:
            queued = self._enqueue(request)
        except (redis.RedisError, TypeError) as exc:
            self._lost(request, exc)
            queued = False
        if queued:  # (not queued: the engine sends request_dropped)
            self.crawler.signals.send_catch_log(na_signals.request_queued, request=request)
        if lease is not None:
            # the request is in the queue again (or seen, or recorded): this lease is done
            self._complete(lease)
            self._inc("cluster/leases/released")
        return queued

    def _enqueue(self, request: Request) -> bool:
        # scrapy-redis's enqueue_request, without its `spider=` argument to inc_value(), which
        # Scrapy 2.13 deprecated for removal (tests/test_cluster.py fails on such warnings)
        if not request.dont_filter and self._seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        self._inc("scheduler/enqueued/redis")
        return True

    def _seen(self, request: Request) -> bool:
        """The shared filter's answer (:meth:`ClusterState.admit`: by fingerprint, and a URL
        found again at a smaller depth than before goes again); a fingerprint this worker
        added already at that depth is not asked again (pages link the same URLs over and over:
        half the Redis commands of a crawl)."""
        fp = self.df.request_fingerprint(request)
        # a requisite is wanted once whatever page names it: never again for a shallower one
        depth = 0 if request.meta.get("kind") == REQUISITE else int(request.meta.get("depth", 0))
        known = self._added_here.get(fp)
        if known is not None and known <= depth:
            return True
        admitted = self.state.admit(fp, depth)
        if not admitted:
            return True
        if admitted == 2:
            self._inc("cluster/requeued_shallower")
            logger.info("found again at depth %d, less than before, queued again: %s", depth,
                        request.url)  # fmt: skip
        if len(self._added_here) >= LOCAL_SEEN_MAX:
            self._added_here.clear()  # a cache, not the filter: memory stays bounded
        self._added_here[fp] = depth
        return False

    def _lost(self, request: Request, exc: Exception) -> None:
        reason = "cluster_unavailable" if isinstance(exc, redis.RedisError) else "unqueueable"
        self._inc("cluster/enqueue_failed")
        self._inc("cluster/redis_errors/enqueue" if reason == "cluster_unavailable" else
                  "cluster/unqueueable")  # fmt: skip
        logger.error("could not queue %s in Redis (%s): recorded as a failure", request.url, exc)
        meta = request.meta
        self.crawler.signals.send_catch_log(
            na_signals.page_failed, url=(meta.get("redirect_urls") or [request.url])[0],
            outlet=meta.get("outlet"), reason=reason, status=None,
            attempts=meta.get("retry_times", 0) + 1, detail=str(exc)[:500],
            kind=meta.get("kind"), due_now=True,
        )  # fmt: skip

    def _complete(self, lease: str) -> None:
        try:
            self.state.complete(lease)
        except redis.RedisError:
            # left in the hash: requeued when this worker leaves or dies; a duplicate fetch,
            # deduplicated by text hash, is the worst that comes of it
            self._inc("cluster/redis_errors/complete")

    def next_request(self) -> Request | None:
        if self.seed_only:
            return None  # newsarchiver seed: queue, never take
        try:
            popped = self.state.pop()
        except redis.RedisError:
            self._inc("cluster/redis_errors/pop")
            return None
        if popped is None:
            return None
        lease, data = popped
        try:
            request = request_from_dict(self.serializer.loads(data), spider=self.spider)
        except Exception:
            # a request no worker can run: drop the lease so it does not come back forever
            logger.exception("unreadable request in the Redis queue, dropped: %r", data[:200])
            self._complete(lease)
            self._inc("cluster/unreadable")
            return None
        request.meta["cluster_lease"] = lease
        self._inc("scheduler/dequeued/redis")
        self._inc("cluster/leases/taken")
        return request

    def has_pending_requests(self) -> bool:
        return not self.seed_only and len(self) > 0
