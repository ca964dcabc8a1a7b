"""Texts numbered across workers (pipelines.text_numbers) when the shared state is gone.

The Redis implementation (crawler.cluster.text_numbers.ClusterTextNumbers) is driven against a
real redis-server that the test kills; the text pipeline (pipelines.store_text) is built by
``from_crawler`` with ``TEXT_NUMBERS_CLASS`` naming an implementation that is unavailable, as a
worker whose Redis went away mid-crawl: the page is listed as a failure, due now, and nothing is
written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.cluster.state import ClusterState
from crawler.cluster.text_numbers import ClusterTextNumbers
from pipelines import signals as na_signals
from pipelines.article import ArticleText
from pipelines.items import ArticleItem
from pipelines.store_text import StoreTextPipeline
from pipelines.text_numbers import TextNumbersUnavailable
from storage.manifest import Manifest
from testkit.redis_server import RedisServer
from tests.helpers import finished, project_crawler, project_settings

SHA = "ab" * 32
ARTICLE = ArticleText(title="Quay closed for repairs", paragraphs=("The quay shuts on Monday.",))


def test_a_redis_that_went_away_makes_every_call_unavailable(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    ahead = project_settings()["CLUSTER_TEXT_NUMBERS_AHEAD"]
    state = ClusterState(server.url, f"n{uuid.uuid4().hex[:8]}", "w1", numbers_ahead=ahead)
    state.join("run-1", 30, "2026-03-04T09:00:00Z")
    numbers = ClusterTextNumbers(state)
    claim, seq = numbers.claim_text(SHA)  # Redis up: a number for a new text
    assert claim == "new" and numbers.text_seq() >= seq
    server.kill()
    calls: list[Callable[[], Any]] = [
        lambda: numbers.claim_text("cd" * 32),
        lambda: numbers.text_stored(SHA, seq),
        numbers.text_seq,
        lambda: numbers.sync_texts([(SHA, seq)]),
    ]
    for call in calls:
        with pytest.raises(TextNumbersUnavailable):
            call()
    state.close()


class UnavailableNumbers:
    """A TextNumbers whose shared state cannot be reached (``TEXT_NUMBERS_CLASS`` names it)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UnavailableNumbers:
        return cls()

    def _gone(self, *args: Any) -> Any:
        raise TextNumbersUnavailable("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    claim_text = text_stored = text_seq = _gone

    def sync_texts(self, stored: Iterable[tuple[str, int]]) -> int:
        return self._gone()

    def return_numbers(self) -> tuple[int, bool]:
        return self._gone()

    def mark_archived(self, urls: Iterable[str], fetched_at: str) -> None:
        pass


def test_the_text_pipeline_lists_the_page_when_the_numbers_are_unavailable(
    tmp_path: Path,
) -> None:
    crawler = project_crawler(ARCHIVE_DIR=str(tmp_path / "archive"),
                              TEXT_NUMBERS_CLASS=f"{__name__}.UnavailableNumbers")  # fmt: skip
    pipeline = StoreTextPipeline.from_crawler(crawler)
    assert isinstance(pipeline.numbers, UnavailableNumbers)

    async def here(fn: Callable[..., Any], *args: Any) -> Any:  # the writer thread's work, inline
        return fn(*args)

    pipeline._in_thread = here  # type: ignore[method-assign]
    heard: list[dict[str, Any]] = []

    def failed(**kwargs: Any) -> None:
        heard.append(kwargs)

    crawler.signals.connect(failed, signal=na_signals.page_failed)
    pipeline.store.open()  # an empty archive: nothing to tell the shared numbers
    item = ArticleItem(
        url="https://harbour.example/n/quay", final_url="https://harbour.example/n/quay",
        outlet="harbour", http_status=200, body=b"<html>", content_type="text/html",
        fetched_at="2026-03-04T09:00:00Z", article=ARTICLE,
    )  # fmt: skip
    with pytest.raises(DropItem, match="Redis unavailable"):
        finished(pipeline.process_item(item))
    assert crawler.stats is not None
    assert crawler.stats.get_value("text/failed/cluster_unavailable") == 1
    assert crawler.stats.get_value("text/written") is None
    (payload,) = heard
    assert payload["url"] == item.url and payload["reason"] == "cluster_unavailable"
    assert payload["due_now"] is True and payload["attempts"] == 1 and payload["kind"] == "page"
    assert payload["detail"].startswith("Redis: Error 111")
    assert not list((tmp_path / "archive" / "text").glob("*.txt"))
    pipeline.store.close()
    manifest = Manifest(tmp_path / "archive" / "manifest.sqlite")
    assert manifest.query("SELECT COUNT(*) AS n FROM texts")[0]["n"] == 0
    manifest.close()
