"""LeaseMiddleware: end a request's lease once what it brought is safe, not before.

A leased request (``meta["cluster_lease"]``, from :class:`~crawler.cluster.scheduler.
LeasingScheduler`) is finished when
- its callback's output has all been handed on and is safe: every request it found is in the
  shared queue or was dropped (``request_queued`` from the scheduler, ``request_dropped``), and
  its article item, if any, has left the pipelines (stored, a duplicate, or dropped as no article
  and recorded: ``item_scraped`` / ``item_dropped`` / ``item_error``);
- or its errback recorded the failure (``request_done`` from the spider; a retry that is only
  scheduled is not an end: the retry request takes the lease over when it is queued).

A worker killed before that leaves the lease in Redis and the request is fetched again by
another worker: at least once, never lost; the text hash keeps the archive free of duplicates.
Ending a lease asks nothing of Redis here: :meth:`ClusterState.lease_done` hands it to the
scheduler's next batched step, which deletes every lease finished since the one before.

Settings: ``CLUSTER_ENABLED``. Stats: ``cluster/leases/completed``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler.cluster.state import ClusterState
from pipelines import signals as na_signals
from pipelines.items import ArchivedArticle, ArticleItem

logger = logging.getLogger(__name__)


@dataclass
class _Output:
    """What a leased response's callback gave, until all of it is safe."""

    requests: int = 0  # handed on, not yet in the shared queue (or dropped)
    items: int = 0  # article items handed on, not yet out of the pipelines
    exhausted: bool = False  # the callback has given everything


class LeaseMiddleware:
    def __init__(self, state: ClusterState, stats: StatsCollector) -> None:
        self.state = state
        self.stats = stats
        self._open: dict[str, _Output] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseMiddleware:
        if not crawler.settings.getbool("CLUSTER_ENABLED"):
            raise NotConfigured("CLUSTER_ENABLED is off")
        assert crawler.stats is not None
        mw = cls(ClusterState.for_crawler(crawler), crawler.stats)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(mw.item_done, signal=signal)
        crawler.signals.connect(mw.request_settled, signal=na_signals.request_queued)
        crawler.signals.connect(mw.request_settled, signal=signals.request_dropped)
        crawler.signals.connect(mw.request_done, signal=na_signals.request_done)
        return mw

    def _track(self, lease: str | None, element: Any) -> Any:
        out = self._open.get(lease) if lease else None
        if out is not None:
            if isinstance(element, Request):
                element.meta["cluster_parent"] = lease
                out.requests += 1
            elif isinstance(element, ArticleItem):
                element.cluster_lease = lease  # the item ends it, after the pipelines
                out.items += 1
        return element

    def _opened(self, response: Response) -> str | None:
        lease: str | None = response.meta.get("cluster_lease")
        if lease:
            self._open.setdefault(lease, _Output())
        return lease

    def _exhausted(self, lease: str | None) -> None:
        if lease and lease in self._open:
            self._open[lease].exhausted = True
            self._settle(lease)

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        lease = self._opened(response)
        try:
            for element in result:
                yield self._track(lease, element)
        finally:
            self._exhausted(lease)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        lease = self._opened(response)
        try:
            async for element in result:
                yield self._track(lease, element)
        finally:
            self._exhausted(lease)

    def _settle(self, lease: str, requests: int = 0, items: int = 0) -> None:
        out = self._open.get(lease)
        if out is None:
            return
        out.requests -= requests
        out.items -= items
        # Scrapy hands a callback's output on through a queue of its own (up to twice
        # CONCURRENT_ITEMS deep): the callback can be done while requests it found are not yet
        # in Redis. Ending the lease then would lose them to a kill.
        if out.exhausted and out.requests <= 0 and out.items <= 0:
            del self._open[lease]
            self.complete(lease)

    def item_done(self, item: Any, response: Response | None = None, **_: Any) -> None:
        lease = None
        if isinstance(item, ArticleItem):  # dropped (or kept as such by a user's pipelines)
            lease = item.cluster_lease
        elif isinstance(item, ArchivedArticle) and response is not None:
            # the plain item of pipelines.output_item carries no lease: its page's response does
            lease = response.meta.get("cluster_lease")
        if lease:
            self._settle(lease, items=1)

    def request_settled(self, request: Request, **_: Any) -> None:
        """A request a leased page found is in the shared queue, or was dropped."""
        parent = request.meta.pop("cluster_parent", None)
        if parent:
            self._settle(parent, requests=1)

    def request_done(self, request: Request, **_: Any) -> None:
        self.complete(request.meta.get("cluster_lease"))

    def complete(self, lease: str | None) -> None:
        # ended by the scheduler's next step; until then a kill requeues it (a refetch)
        if lease and self.state.lease_done(lease):
            self.stats.inc_value("cluster/leases/completed")
