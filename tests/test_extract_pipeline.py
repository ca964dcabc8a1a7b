"""The extraction and output pipelines, built by ``from_crawler`` with the project's settings
and fed hand-made items: what each item leaves with, and the stats counters a user reads.

The page worker pool is replaced by :class:`~tests.helpers.InlinePool`: what is tested is what
the pipeline makes of the worker's answer."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import defer

from crawler.outlets import CrawlConfig, parse_config
from crawler.spiders.outlets import OutletsSpider
from pipelines.article import ArticleText, NoArticle
from pipelines.extract import ExtractPipeline, extractor_kwargs
from pipelines.items import ArchivedArticle, ArticleItem
from pipelines.output_item import OutputItemPipeline
from pipelines.run_id import run_id_for
from pipelines.twisted_util import Pending
from pipelines.worker_pool import WorkTimeout
from storage.warc import WarcRef
from tests.helpers import InlinePool, finished, project_crawler, run_coroutine

CONFIG = CrawlConfig(parse_config({"outlets": [
    {"name": "harbour", "start_urls": ["https://harbour.example/"], "drop": [".ad"],
     "keep": ["article"]},
]}).outlets)  # fmt: skip
PROSE = "".join(
    f"<p>Paragraph {n}: the ferry ran again on Monday after three days tied up at the quay, "
    f"and the harbour master said the new timetable would hold all winter.</p>"
    for n in range(5)
)
BODY = (f"<html><head><title>Ferry</title></head><body><article><h1>Ferry resumes</h1>"
        f"<p class=standfirst>Back after the storm.</p>{PROSE}<div class=ad>Buy a boat</div>"
        f"</article><aside>Weather: rain</aside></body></html>").encode()  # fmt: skip
TEXT = ArticleText("Ferry resumes", ("The ferry ran again.",), language="en")


def extract_pipeline(pool: InlinePool, **settings: Any) -> tuple[ExtractPipeline, Crawler]:
    crawler = project_crawler(OutletsSpider, spider_args={"crawl_config": CONFIG}, **settings)
    pipeline = ExtractPipeline.from_crawler(crawler)
    pipeline.pool = pool  # type: ignore[assignment]
    return pipeline, crawler


def item(**extra: Any) -> ArticleItem:
    values: dict[str, Any] = {
        "url": "https://harbour.example/n/1", "final_url": "https://harbour.example/news/1",
        "outlet": "harbour", "http_status": 200, "body": BODY,
        "content_type": "text/html; charset=utf-8", "fetched_at": "2026-03-02T09:00:00Z",
        "encoding": "utf-8", **extra,
    }  # fmt: skip
    return ArticleItem(**values)


def stats(crawler: Crawler) -> dict[str, Any]:
    assert crawler.stats is not None
    return {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("extract/")}


def test_an_item_a_page_worker_read_is_only_counted() -> None:
    pool = InlinePool()
    pipeline, crawler = extract_pipeline(pool)
    read = finished(pipeline.process_item(item(article=TEXT, analysed=True)))
    none = finished(pipeline.process_item(item(no_article=("too_short", "42"), analysed=True)))
    failed = finished(pipeline.process_item(
        item(no_article=("extraction_crashed", "died"), analysed=True)))  # fmt: skip
    assert (read.article, none.article, failed.article) == (TEXT, None, None)
    assert pool.calls == []
    # a worker's death is counted by the page analysis, not as a page without an article
    assert stats(crawler) == {"extract/ok": 1, "extract/no_article/too_short": 1}


def test_an_item_no_worker_read_is_extracted_with_its_outlets_rules() -> None:
    pool = InlinePool()
    pipeline, crawler = extract_pipeline(pool, EXTRACT_MIN_CHARS=100)
    out = finished(pipeline.process_item(item()))
    assert out.article.title == "Ferry resumes"
    text = out.article.render()
    assert "Back after the storm." in text and "Paragraph 4" in text
    assert "Buy a boat" not in text and "Weather" not in text  # the outlet's drop and keep
    ((_, args, kwargs),) = pool.calls
    assert args == (BODY, "https://harbour.example/news/1", "text/html; charset=utf-8")
    assert kwargs == {"drop": (".ad",), "keep": ("article",), "min_chars": 100,
                      "encoding": "utf-8"}  # fmt: skip
    assert stats(crawler) == {"extract/ok": 1}


def test_a_page_without_an_article_keeps_the_reason_for_the_text_store() -> None:
    pipeline, crawler = extract_pipeline(InlinePool(NoArticle("too_short", "12 characters")))
    out = finished(pipeline.process_item(item()))
    assert out.article is None and out.no_article == ("too_short", "12 characters")
    assert stats(crawler) == {"extract/no_article/too_short": 1}


@pytest.mark.parametrize(
    ("error", "reason", "counter"),
    [
        (BrokenProcessPool("worker died"), "extraction_crashed", "extract/worker_died"),
        (WorkTimeout("no result after 60 s"), "extraction_timeout", "extract/timeout"),
        (ValueError("a bug"), "extraction_error", "extract/error"),
    ],
)
def test_a_worker_that_dies_hangs_or_fails_costs_that_page_only(
    error: BaseException, reason: str, counter: str
) -> None:
    pipeline, crawler = extract_pipeline(InlinePool(error))
    out = finished(pipeline.process_item(item()))
    assert out.article is None and out.no_article[0] == reason
    assert out.extract_error is (reason == "extraction_error")
    assert stats(crawler) == {counter: 1}


def test_other_items_pass_and_extract_enabled_off_leaves_the_pipeline_out() -> None:
    pipeline, _ = extract_pipeline(InlinePool())
    other = {"url": "https://harbour.example/"}
    assert finished(pipeline.process_item(other)) is other
    with pytest.raises(NotConfigured):
        ExtractPipeline.from_crawler(project_crawler(EXTRACT_ENABLED=False))


def test_the_encoding_goes_only_to_an_extractor_that_takes_it() -> None:
    def old(body: bytes, url: str, content_type: str | None, *, drop: Any, keep: Any,
            min_chars: int) -> ArticleText:  # fmt: skip
        return TEXT

    def new(body: bytes, url: str, content_type: str | None, **kwargs: Any) -> ArticleText:
        return TEXT

    assert "encoding" not in extractor_kwargs(old, (), (), 200, "cp1252")
    assert extractor_kwargs(new, (".ad",), (), 200, "cp1252") == {
        "drop": (".ad",), "keep": (), "min_chars": 200, "encoding": "cp1252"}  # fmt: skip
    assert "encoding" not in extractor_kwargs(new, (), (), 200, None)


# --- OutputItemPipeline ---------------------------------------------------------------------


REF = WarcRef("crawl-20260302090000-00001-host.warc.gz", 1234, 900, "<urn:uuid:1>", "sha1:X")


def test_without_the_text_store_the_warc_record_is_waited_for_and_named() -> None:
    crawler = project_crawler(TEXT_ENABLED=False)
    pipeline = OutputItemPipeline.from_crawler(crawler)
    captured = item(article=TEXT, warc=Pending(defer.succeed(REF)))
    out = run_coroutine(pipeline.process_item(captured))
    assert isinstance(out, ArchivedArticle)
    assert (out["warc_file"], out["warc_offset"], out["warc_record_id"]) == (
        REF.warc_file, 1234, "<urn:uuid:1>")  # fmt: skip
    assert out["run_id"] == run_id_for(crawler) and "text_file" not in out
    assert crawler.stats is not None
    assert crawler.stats.get_value("output/items") == 1
    assert crawler.stats.get_value("output/no_warc") is None


def test_a_warc_write_that_failed_leaves_the_article_without_a_record() -> None:
    crawler = project_crawler(TEXT_ENABLED=False)
    pipeline = OutputItemPipeline.from_crawler(crawler)
    lost = item(article=TEXT, warc=Pending(defer.fail(OSError("disk full"))))
    out = run_coroutine(pipeline.process_item(lost))
    assert "warc_file" not in out and out["title"] == "Ferry resumes"
    assert crawler.stats is not None and crawler.stats.get_value("output/no_warc") == 1
