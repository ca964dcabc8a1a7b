"""The items of a crawl: ArticleItem, what the spider yields for an article page and the
pipelines work on, and ArchivedArticle, what the last pipeline hands Scrapy's feed exports
(``scrapy crawl … -o items.jsonl``) and ``item_scraped`` listeners: plain values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import scrapy

from storage.texts import StoredText
from storage.url_identity import canonical_or_none


@dataclass
class ArticleItem:
    url: str  # the URL the crawl found (before redirects)
    final_url: str  # the URL that answered with the page
    outlet: str
    http_status: int
    body: bytes = field(repr=False)  # decoded of Content-Encoding; the WARC keeps the raw bytes
    content_type: str | None
    fetched_at: str  # ISO 8601, UTC
    # the identity of `url` (storage.url_identity: its canonical URL); None: made elsewhere
    # (reextract, tests), taken as url's by the default rules
    canonical_url: str | None = None
    # the charset the crawl decoded the page in (crawler.middlewares.charset), for extraction
    # to decode it alike; None: extraction chooses by the same rules
    encoding: str | None = None
    # storage.warc.WarcRef once written: pipelines.twisted_util.Pending from WarcCapture
    warc: Any = field(default=None, repr=False)
    # filled by the page worker that read the page (crawler.page_work), else by
    # pipelines.extract.ExtractPipeline
    article: Any = field(default=None, repr=False)
    no_article: tuple[str, str] | None = None  # (reason, detail) when the page had no article
    analysed: bool = False  # article/no_article are the page worker's: nothing left to extract
    extract_error: bool = False  # no_article is the extractor's exception (extract/error)
    # filled by pipelines.store_text.StoreTextPipeline (storage.texts.TextStore's answer)
    stored: StoredText | None = None
    text_id: int | None = None  # the manifest's texts.id of the text stored (the text writer's)
    # the lease of the request in a distributed crawl (crawler.cluster.leases), ended with it
    cluster_lease: str | None = None

    @property
    def identity(self) -> str:
        """`canonical_url`, or `url`'s by the default rules (no outlet's ``keep_params``)."""
        return self.canonical_url or canonical_or_none(self.url) or self.url


class ArchivedArticle(scrapy.Item):
    """One archived article as plain values (str, int, bool), fields in the order feeds write
    them. A value the page or the crawl did not give (no author, WARC capture off) is not set,
    as Scrapy's convention is: JSON and XML feeds leave it out, CSV has an empty cell."""

    url = scrapy.Field()
    final_url = scrapy.Field()
    canonical_url = scrapy.Field()  # the identity of `url` (storage.url_identity)
    outlet = scrapy.Field()
    title = scrapy.Field()
    author = scrapy.Field()
    published = scrapy.Field()  # as the page gives it: an ISO 8601 date or date-time
    language = scrapy.Field()
    text_file = scrapy.Field()  # relative to the archive: text/NNN_HASH.txt
    sha256 = scrapy.Field()  # of the text file's bytes
    duplicate = scrapy.Field()  # True: the same text was stored before (this URL beside it)
    warc_file = scrapy.Field()  # the WARC file's name, in ARCHIVE/warc/
    warc_offset = scrapy.Field()  # where the page's record starts in it
    warc_record_id = scrapy.Field()
    warc_record_type = scrapy.Field()  # response, or revisit (the payload was archived before)
    http_status = scrapy.Field()
    content_type = scrapy.Field()
    fetched_at = scrapy.Field()  # ISO 8601, UTC
    run_id = scrapy.Field()
