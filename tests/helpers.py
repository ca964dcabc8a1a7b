"""Shared test helpers: components built the way Scrapy builds them, with the project's settings."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings_module
from crawler.extensions.failures import retry_policy
from crawler.page_work import PageJob, analyse_page
from pipelines.error_pages import NotFoundFingerprint, Verdict
from pipelines.items import ArticleItem
from storage.clock import iso, new_run_id
from storage.failures import RetryPolicy
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.texts import SharedNumbers, TextStore
from storage.warc import Exchange, WarcFileWriter, WarcRef, capture_row

T = TypeVar("T")


def project_settings(**overrides: Any) -> dict[str, Any]:
    """crawler.settings as a dict, with overrides: what `scrapy crawl` would run with."""
    values = {
        name: getattr(project_settings_module, name)
        for name in dir(project_settings_module)
        if name.isupper()
    }
    values.update(overrides)
    return values


def warc_writer_settings() -> dict[str, Any]:
    """The project's WARC writer options (WARC_GZIP_LEVEL, WARC_FSYNC), for a WarcFileWriter
    made by hand as WarcCapture would make it."""
    settings = project_settings()
    return {"gzip_level": settings["WARC_GZIP_LEVEL"],
            "fsync_each": settings["WARC_FSYNC"] == "record"}  # fmt: skip


def project_retry_policy() -> RetryPolicy:
    """The project's RETRY_RUN* settings as the failure recorder reads them."""
    return retry_policy(Settings(project_settings()))


def project_crawler(
    spidercls: type[Spider] = Spider, *, spider_args: dict[str, Any] | None = None,
    **settings: Any,
) -> Crawler:  # fmt: skip
    """A crawler as Scrapy's ``get_crawler`` makes it, but with crawler/settings.py's values
    (get_crawler alone gives Scrapy's defaults) and `settings` over them; its spider made by
    the spider's ``from_crawler`` with `spider_args` (an OutletsSpider: ``crawl_config``).
    Components are then built with ``Cls.from_crawler(crawler)``, as Scrapy builds them."""
    # get_crawler builds every extension in EXTENSIONS: the project's would lock ARCHIVE_DIR
    # (./archive unless the test names one), add a run log handler to the root logger for the
    # rest of the session, and answer signals the test sends to the one component it builds.
    # A test that wants them passes EXTENSIONS itself.
    settings = {"EXTENSIONS_BASE": {}, "EXTENSIONS": {}, **settings}
    crawler = get_crawler(spidercls, project_settings(**settings))
    if spider_args is None:
        crawler.spider = crawler._create_spider("test")
    else:
        crawler.spider = crawler._create_spider(**spider_args)
    return crawler


class InlinePool:
    """A stand-in for the crawl's page worker pool (``pipelines.worker_pool.WorkerPool``): each
    call runs here, in the test's process, or raises `raises` as a worker that died
    (BrokenProcessPool), hung (WorkTimeout) or failed would; the calls are kept."""

    def __init__(self, raises: BaseException | None = None) -> None:
        self.raises = raises
        self.calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.calls.append((fn, args, kwargs))
        if self.raises is not None:
            raise self.raises
        return fn(*args, **kwargs)


def closed_warc(layout: ArchiveLayout, urls: list[str], manifest: Manifest,
                when: datetime = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc),
                ) -> tuple[Path, dict[str, WarcRef]]:  # fmt: skip
    """One closed WARC file holding a 200 exchange for each URL (body ``<p>URL</p>``), with its
    ``captures`` rows in `manifest`, and where each response record is."""
    writer = WarcFileWriter(layout, "test", 1 << 30, {"isPartOf": "run-1"}, "host",
                            **warc_writer_settings())  # fmt: skip
    refs = {}
    for url in urls:
        refs[url] = writer.write_exchange(Exchange(
            url=url, method="GET", request_headers=[], request_body=b"", status=200,
            response_headers=[("Content-Type", "text/html")],
            response_body=f"<p>{url}</p>".encode(), fetched_at=when,
        ))  # fmt: skip
    writer.close()
    (warc,) = layout.closed_warcs()
    manifest.add_captures([
        capture_row(ref, run_id="run-1", url=url, method="GET", status=200,
                    fetched_at=iso(when), headers={})
        for url, ref in refs.items()
    ])  # fmt: skip
    return warc, refs


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to its end on an event loop of its own, in a thread: the browser tests'
    Playwright (a session fixture) keeps a loop running in the main thread, where asyncio.run
    refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def finished(coro: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that awaits nothing that waits (a middleware's async method
    on a response it answers at once); what it raises is raised."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coro.close()
    raise AssertionError("the coroutine waited")


def judging_spider(crawler: Crawler, fingerprint: NotFoundFingerprint | None = None) -> list[str]:
    """Give the crawler's spider the ``judged`` OutletsSpider answers the retry middleware with,
    the page read by :func:`crawler.page_work.analyse_page` here, in the test's process; returns
    the list of URLs it is asked about."""
    asked: list[str] = []

    async def judged(request: Request, response: HtmlResponse) -> Verdict:
        asked.append(response.url)
        urls = (*request.meta.get("redirect_urls", ()), response.url)
        job = PageJob(response.url, response.body, "text/html", response.encoding, judge=True,
                      urls=urls, fingerprint=fingerprint,
                      hub=request.meta.get("kind") == "hub")  # fmt: skip
        return analyse_page(job).verdict

    crawler.spider.judged = judged  # type: ignore[union-attr]
    return asked


def normalised(text: str) -> str:
    """Text as a reader compares it: entities decoded, whitespace runs one space."""
    return " ".join(html.unescape(text).split())


# --- the text store, as the text pipeline drives it -----------------------------------------


class Counts(dict[str, int]):
    """The store's counts, as a crawl's stats would hold them (None: never counted)."""

    def __call__(self, key: str, n: int) -> None:
        self[key] = self.get(key, 0) + n


def text_store(archive: Path, numbers: SharedNumbers | None = None) -> TextStore:
    """An open store, as one crawl's text pipeline opens it (a run id of its own)."""
    return TextStore(archive, new_run_id(), fsync=True, numbers=numbers, count=Counts()).open()


def store(p: TextStore, item: ArticleItem, ref: WarcRef) -> tuple[str, str, str]:
    """Store `item`'s text as the text pipeline does: (outcome, stem, sha256)."""
    stored = p.put(
        item.article, url=item.url, final_url=item.final_url, canonical_url=item.identity,
        outlet=item.outlet, http_status=item.http_status, fetched_at=item.fetched_at, warc=ref,
    )  # fmt: skip
    return stored.outcome, stored.stem, stored.sha256
