"""The item a spider yields for an article page, consumed by the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticleItem:
    url: str  # the URL the crawl found (before redirects)
    final_url: str  # the URL that answered with the page
    outlet: str
    http_status: int
    body: bytes = field(repr=False)  # decoded of Content-Encoding; the WARC keeps the raw bytes
    content_type: str | None
    fetched_at: str  # ISO 8601, UTC
    # the charset the crawl decoded the page in (crawler.middlewares.charset), for extraction
    # to decode it alike; None: extraction chooses by the same rules
    encoding: str | None = None
    # storage.warc.WarcRef once written: crawler.twisted_util.Pending from WarcCapture
    warc: Any = field(default=None, repr=False)
    # filled by pipelines.extract.ExtractPipeline
    article: Any = field(default=None, repr=False)
    no_article: tuple[str, str] | None = None  # (reason, detail) when the page had no article
    # the lease of the request in a distributed crawl (crawler.cluster.leases), ended with it
    cluster_lease: str | None = None
