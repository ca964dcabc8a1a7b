"""ClusterTextNumbers: the text pipeline's numbering (:class:`pipelines.text_numbers.TextNumbers`)
over the crawl's :class:`~crawler.cluster.state.ClusterState` in Redis.

The cluster add-on (:mod:`crawler.cluster.addon`) names this class in ``TEXT_NUMBERS_CLASS``;
the text pipeline builds it with ``build_from_crawler`` and never imports Redis. Each call is
ClusterState's own; a Redis error (a lost connection, a Redis that lost its data:
:class:`~crawler.cluster.state.StateLost`) becomes
:class:`~pipelines.text_numbers.TextNumbersUnavailable` with the same message, which the
pipeline records as ``cluster_unavailable``. Numbers are reserved a few at a time
(``CLUSTER_TEXT_NUMBERS_AHEAD``) and those unused given back at the close
(:meth:`ClusterState.return_numbers`).

Settings: those of :meth:`ClusterState.for_crawler` (``REDIS_URL``, ``CLUSTER_NAME``,
``CLUSTER_WORKER_ID``, ``CLUSTER_TEXT_NUMBERS_AHEAD``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import redis
from scrapy.crawler import Crawler

from crawler.cluster.state import ClusterState
from pipelines.text_numbers import TextNumbersUnavailable

T = TypeVar("T")


class ClusterTextNumbers:
    def __init__(self, state: ClusterState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterTextNumbers:
        return cls(ClusterState.for_crawler(crawler))  # the crawler's one, shared

    @staticmethod
    def _call(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as exc:
            raise TextNumbersUnavailable(str(exc)) from exc

    def claim_text(self, sha256: str) -> tuple[str, int]:
        return self._call(lambda: self.state.claim_text(sha256))

    def text_stored(self, sha256: str, seq: int) -> None:
        self._call(lambda: self.state.text_stored(sha256, seq))

    def text_seq(self) -> int:
        return self._call(self.state.text_seq)

    def sync_texts(self, stored: Iterable[tuple[str, int]]) -> int:
        return self._call(lambda: self.state.sync_texts(stored))

    def return_numbers(self) -> tuple[int, bool]:
        return self._call(self.state.return_numbers)

    def mark_archived(self, urls: Iterable[str], at: str) -> None:
        self.state.mark_archived(urls, at)  # in memory: written behind by the worker's flush
