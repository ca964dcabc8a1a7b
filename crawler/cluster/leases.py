"""LeaseMiddleware: end a request's lease once what it brought is safe, not before.

A leased request (``meta["cluster_lease"]``, from :class:`~crawler.cluster.scheduler.
LeasingScheduler`) is finished when
- its callback's output has all been handed on (the requests it found are in the shared queue),
  unless the output had an article: then when that item has left the pipelines (stored, a
  duplicate, or dropped as no article and recorded) — ``item_scraped`` / ``item_dropped`` /
  ``item_error``;
- or its errback recorded the failure (``request_done`` from the spider; a retry that is only
  scheduled is not an end: the retry request takes the lease over when it is queued).

A worker killed before that leaves the lease in Redis and the request is fetched again by
another worker: at least once, never lost; the text hash keeps the archive free of duplicates.

Settings: ``CLUSTER_ENABLED``. Stats: ``cluster/leases/completed``,
``cluster/redis_errors/complete``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler import signals as na_signals
from crawler.cluster.state import ClusterState
from crawler.items import ArticleItem

logger = logging.getLogger(__name__)


class LeaseMiddleware:
    def __init__(self, state: ClusterState, stats: StatsCollector) -> None:
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseMiddleware:
        if not crawler.settings.getbool("CLUSTER_ENABLED"):
            raise NotConfigured("CLUSTER_ENABLED is off")
        assert crawler.stats is not None
        mw = cls(ClusterState.for_crawler(crawler), crawler.stats)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(mw.item_done, signal=signal)
        crawler.signals.connect(mw.request_done, signal=na_signals.request_done)
        return mw

    def _hand_on(self, response: Response, element: Any, state: dict[str, bool]) -> Any:
        lease = response.meta.get("cluster_lease")
        if lease and not state["handed"] and isinstance(element, ArticleItem):
            element.cluster_lease = lease  # the item ends the lease, after the pipelines
            state["handed"] = True
        return element

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        state = {"handed": False}
        try:
            for element in result:
                yield self._hand_on(response, element, state)
        finally:
            if not state["handed"]:
                self.complete(response.meta.get("cluster_lease"))

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        state = {"handed": False}
        try:
            async for element in result:
                yield self._hand_on(response, element, state)
        finally:
            if not state["handed"]:
                self.complete(response.meta.get("cluster_lease"))

    def item_done(self, item: Any, **_: Any) -> None:
        if isinstance(item, ArticleItem):
            self.complete(item.cluster_lease)

    def request_done(self, request: Request, **_: Any) -> None:
        self.complete(request.meta.get("cluster_lease"))

    def complete(self, lease: str | None) -> None:
        if not lease:
            return
        try:
            if self.state.complete(lease):
                self.stats.inc_value("cluster/leases/completed")
        except redis.RedisError as exc:
            # stays leased: requeued when this worker leaves or is found dead (a refetch)
            self.stats.inc_value("cluster/redis_errors/complete")
            logger.warning("could not end lease %s: %s", lease, exc)
