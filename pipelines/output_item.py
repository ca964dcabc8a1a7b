"""OutputItemPipeline: the last pipeline; an archived article leaves the crawl as plain values.

An :class:`~pipelines.items.ArticleItem` carries what the pipelines need and no feed can write
(the page's bytes, the WARC capture's Pending, the extracted text object). Past the text store,
nothing downstream needs them: this pipeline replaces the item with an
:class:`~pipelines.items.ArchivedArticle` (URL, outlet, title, the text file relative to the
archive and its SHA-256, whether it was a duplicate, the WARC file and offset of the page's
record, …; str, int and bool only), which is what Scrapy's feed exports
(``scrapy crawl outlets … -o items.jsonl``, ``.csv``, ``.xml``) write and what ``item_scraped``
listeners get. Pipelines of a user's own that want the ArticleItem run before it (below 900).

A page without article text never gets here: the text store records it as a failure and drops
it (``DropItem``, as Scrapy drops an item it will not export). With ``TEXT_ENABLED`` off there is
no text store: an article is passed on without the text fields, and a page without text is
dropped here.

Settings: none (remove it from ``ITEM_PIPELINES`` to keep ArticleItems to the end).
Stats: ``output/items``, ``output/dropped/no_article``, ``output/no_warc`` (an article passed
on without a WARC record to name: capture off, or its write failed).
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future

from pipelines.items import ArchivedArticle, ArticleItem
from pipelines.run_id import run_id_for
from storage.warc import WarcRef


class OutputItemPipeline:
    def __init__(self, run_id: str, stats: StatsCollector) -> None:
        self.run_id = run_id
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutputItemPipeline:
        assert crawler.stats is not None
        return cls(run_id_for(crawler), crawler.stats)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if item.article is None:  # only without the text store, which drops these itself
            self.stats.inc_value("output/dropped/no_article")
            reason = item.no_article[0] if item.no_article else "extraction_empty"
            raise DropItem(f"no article text in {item.final_url} ({reason})")
        ref = item.stored.warc if item.stored is not None else await self._warc_ref(item)
        if ref is None:
            self.stats.inc_value("output/no_warc")
        self.stats.inc_value("output/items")
        return archived_article(item, ref, self.run_id)

    async def _warc_ref(self, item: ArticleItem) -> WarcRef | None:
        """The page's record without the text store (which waits for it itself)."""
        if item.warc is None:
            return None
        try:
            ref: WarcRef = await maybe_deferred_to_future(item.warc.wait())
        except Exception:  # counted and logged by WarcCapture
            return None
        return ref


def archived_article(item: ArticleItem, ref: WarcRef | None, run_id: str) -> ArchivedArticle:
    """The plain item of a stored (or, without the text store, extracted) article; values the
    page or the crawl did not give are left unset."""
    article, stored = item.article, item.stored
    values: dict[str, Any] = {
        "url": item.url, "final_url": item.final_url, "canonical_url": item.identity,
        "outlet": item.outlet, "title": article.title, "author": article.author,
        "published": article.published, "language": article.language,
        "text_file": stored.text_file if stored else None,
        "sha256": stored.sha256 if stored else None,
        "duplicate": stored.duplicate if stored else None,
        "warc_file": ref.warc_file if ref else None,
        "warc_offset": ref.offset if ref else None,
        "warc_record_id": ref.record_id if ref else None,
        "warc_record_type": ref.record_type if ref else None,
        "http_status": item.http_status, "content_type": item.content_type,
        "fetched_at": item.fetched_at, "run_id": run_id,
    }  # fmt: skip
    return ArchivedArticle({k: v for k, v in values.items() if v is not None})
