"""What the outlets spider requests: its seeds and each URL the archive needs.

:class:`CrawlRequests` is the part of :class:`crawler.spiders.outlets.OutletsSpider` that
decides what is requested: the seeds (the not-found probes first, then the due failures of
earlier runs, then every outlet's start pages, sitemaps and feeds; in a distributed crawl the
seeding worker puts them all in the shared queue, :meth:`CrawlRequests._seed_cluster`), and for
each URL found, its request or none (:meth:`CrawlRequests._request`): a failure not yet due, an
article archived already, here or by any worker (unless ``--refresh`` or the outlet's
``recrawl_after``), or a conditional request for a page the archive has a copy of.

Settings: ``CLUSTER_ENABLED``, ``CLUSTER_SEED_ONLY``, ``DOWNLOAD_TIMEOUT`` (how long the probes'
answers are waited for), ``ARCHIVE_DIR``. Stats: ``spider/requeued``, ``spider/known_urls``,
``spider/skipped/{archived,failed_not_due}``, ``outlet/<name>/skipped/archived``,
``spider/conditional``, ``cluster/seeds/{queued,not_mine}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler.cluster.admission import admitted_failures
from crawler.cluster.state import ClusterState
from crawler.failure_reasons import failed_request
from crawler.link_forms import ArchiveIdentities, count_forms, forms_of
from crawler.outlets import CrawlConfig, OutletConfig
from crawler.probes import NotFoundProbes
from pipelines import signals as na_signals
from storage.clock import utc_now
from storage.failures import requeue_plan
from storage.known_pages import KnownPages
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.url_identity import UrlForms

ARTICLE_KINDS = {"page", "feed_entry"}  # what may be an article; hubs, sitemaps, feeds are not


class CrawlRequests(Spider):
    """Seeds and requests (a part of OutletsSpider, not a spider of its own: it has no name)."""

    # the spider's own (crawler.spiders.outlets.OutletsSpider sets or defines them)
    crawl_config: CrawlConfig
    retry_mode: str | None  # None: a crawl; "pending" / "all": retry failures only
    refresh: bool
    probes: NotFoundProbes
    _leave_alone: set[str]
    _manifest: Manifest | None
    _known: KnownPages | None
    _cluster: ClusterState | None
    on_error: Callable[[Failure], None]
    parse_page: Callable[[Response], AsyncIterator[Any]]
    parse_sitemap: Callable[[Response], AsyncIterator[Any]]
    parse_feed: Callable[[Response], AsyncIterator[Any]]

    async def start(self) -> AsyncIterator[Any]:
        if self.settings.getbool("CLUSTER_ENABLED"):
            await self._seed_cluster()
            return
        async for request in self._seeds():
            yield request

    async def _seed_cluster(self) -> None:
        """A distributed crawl: the seeding worker puts every seed into the shared queue at
        once (not as fast as its own downloader takes them: a worker killed while seeding would
        lose the rest), then says so; the other workers only take from the queue."""
        self._cluster = ClusterState.for_crawler(self.crawler)
        seed_only = self.settings.getbool("CLUSTER_SEED_ONLY")  # newsarchiver seed
        if not seed_only and not self._cluster.should_seed():
            self._count("cluster/seeds/not_mine")
            await self._load_known()
            return
        assert self.crawler.engine is not None
        async for request in self._seeds():
            self.crawler.engine.crawl(request)
            self._count("cluster/seeds/queued")
        self._cluster.seeded()  # the other workers may now close once the queue is empty

    async def _seeds(self) -> AsyncIterator[Any]:
        await self._load_known()
        failures = await maybe_deferred_to_future(deferToThread(self._failures_to_retry))
        # the probes first: the pages after them are judged by their answers
        probed = {f["outlet"] for f in failures} if self.retry_mode else None
        for outlet in self.crawl_config.outlets:
            if probed is None or outlet.name in probed:
                probe = self.probes.request(outlet, self.parse_probe, self.on_probe_error)
                if probe is not None:
                    yield probe
        if not self.settings.getbool("CLUSTER_ENABLED"):  # there, any worker may take a probe
            await self.probes.answers(self.settings.getfloat("DOWNLOAD_TIMEOUT") + 5)
        for failure in failures:
            outlet = self.crawl_config.outlet(failure["outlet"])
            kind = failure["kind"] or "page"
            if kind not in self._callbacks:  # not a page (a requisite listed by an older version)
                continue
            self._count("spider/requeued")
            # at the URL recorded (it heals by that URL), known by its identity
            forms = forms_of(failure["url"], outlet)._replace(fetch=failure["url"])
            yield self._request(failure["url"], outlet, kind, self._callbacks[kind], force=True,
                                forms=forms)  # fmt: skip
        if self.retry_mode:
            return
        for outlet in self.crawl_config.outlets:
            for kind, urls in (("hub", outlet.start_urls), ("sitemap", outlet.sitemaps),
                               ("feed", outlet.feeds)):  # fmt: skip
                for url in urls:
                    if request := self._request(url, outlet, kind, self._callbacks[kind]):
                        yield request

    def parse_probe(self, response: Response) -> list[Any]:
        """The probe's answer was read on arrival (NotFoundProbes.answered): nothing to follow."""
        return []

    def on_probe_error(self, failure: Failure) -> None:
        request = failed_request(failure)
        self.probes.failed(request)
        if request is not None:
            self._signal(na_signals.request_done, request=request)

    @property
    def _callbacks(self) -> dict[str, Any]:
        return {"hub": self.parse_page, "page": self.parse_page, "feed_entry": self.parse_page,
                "sitemap": self.parse_sitemap, "feed": self.parse_feed}  # fmt: skip

    def _open_manifest(self) -> Manifest:
        layout = ArchiveLayout(self.settings["ARCHIVE_DIR"]).ensure()
        # read-only use for the life of the crawl: "archived already?", validators, failures
        self._manifest = Manifest(layout.manifest_path)
        return self._manifest

    async def _load_known(self) -> None:
        """What the archive holds, read into memory once, in a thread: the reactor makes no
        sqlite query per link (storage.known_pages)."""
        manifest = self._open_manifest()
        self._known = await maybe_deferred_to_future(
            deferToThread(KnownPages.load, manifest, ArchiveIdentities(self.crawl_config).kept)
        )
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("spider/known_urls", len(self._known))

    def _failures_to_retry(self) -> list[dict[str, Any]]:
        """Thread: failures of earlier runs to request again now; the others are left alone.
        In a distributed crawl, those every worker recorded (shared through Redis)."""
        assert self._manifest is not None
        manifest = self._manifest
        names = [o.name for o in self.crawl_config.outlets]
        mode = self.retry_mode or "due"
        shared = None
        if self._cluster is not None:  # rows out of their outlet's scope are not retried
            shared = admitted_failures(self._cluster.failure_values(), self.crawl_config.outlets,
                                       self._count)  # fmt: skip
        identity = ArchiveIdentities(self.crawl_config).failure  # links are asked by identity
        due, self._leave_alone = requeue_plan(manifest, names, utc_now(), mode, shared, identity)
        return due

    def _request(
        self,
        url: str,
        outlet: OutletConfig,
        kind: str,
        callback: Any,
        force: bool = False,
        again: bool = False,
        forms: UrlForms | None = None,
    ) -> Request | None:
        """The request for a URL the crawl found, or None when the archive does not need it:
        a failure not yet due, or an article archived already (unless --refresh or the
        outlet's recrawl_after has passed). Pages the archive has a copy of are asked for
        conditionally (If-None-Match / If-Modified-Since); a 304 is a revisit record.
        `forms`: the URL's fetch form and identity, made where it was found (else here, and
        counted); the request is for the fetch form."""
        if forms is None:
            forms = forms_of(url, outlet)
            count_forms(forms, self._count)
        url, identity = forms.fetch, forms.identity
        meta: dict[str, Any] = {"outlet": outlet.name, "kind": kind}
        if identity != url:
            meta["url_identity"] = identity
        headers: dict[str, str] = {}
        if not force and identity in self._leave_alone:
            self._count("spider/skipped/failed_not_due")  # backing off across runs
            return None
        if not force and not self.refresh and self._known is not None:
            if kind in ARTICLE_KINDS and self._archived_recently(identity, outlet):
                self._count("spider/skipped/archived")
                self._count("skipped/archived", outlet)  # it saw an article (crawler/cli/quiet.py)
                return None
            if (original := self._known.validators(url)) is not None:
                if original.etag:
                    headers["If-None-Match"] = original.etag
                if original.last_modified:
                    headers["If-Modified-Since"] = original.last_modified
                meta["handle_httpstatus_list"] = [304]
                # a 304 is read from this capture (NotModifiedMiddleware): its links still count
                meta["original_capture"] = {"url": url,
                                            "warc_file": original.warc_file,
                                            "warc_offset": original.warc_offset}  # fmt: skip
                self._count("spider/conditional")
        # again: fetched already in this run, and wanted once more (past the duplicate filter)
        return Request(url, callback=callback, errback=self.on_error, meta=meta, headers=headers,
                       dont_filter=again)  # fmt: skip

    def _archived_recently(self, url: str, outlet: OutletConfig) -> bool:
        """Whether `url` (an identity) was archived, here or by any worker, and is not due."""
        assert self._known is not None
        at = self._known.archived_at(url)
        if self._cluster is not None:  # archived by any worker: from memory, kept fresh in a
            # thread (ClusterState.archived_at_cached), no Redis call per link
            shared = self._cluster.archived_at_cached(url)
            at = max(filter(None, (at, shared)), default=None)
        if at is None:
            return False
        if outlet.recrawl_after is None:
            return True
        age = (utc_now() - datetime.fromisoformat(at.replace("Z", "+00:00"))).total_seconds()
        return age < outlet.recrawl_after

    def _signal(self, signal: object, **kwargs: Any) -> None:
        self.crawler.signals.send_catch_log(signal, **kwargs)

    def _count_many(self, key: str, amount: int) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, amount)

    def _count(self, key: str, outlet: OutletConfig | None = None) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key if outlet is None else f"outlet/{outlet.name}/{key}")
