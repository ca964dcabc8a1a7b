"""Following links: a page's links, and the entries of sitemaps and feeds.

:class:`LinkFollowing` is the part of :class:`crawler.spiders.outlets.OutletsSpider` that turns
what was found into requests (through :meth:`CrawlRequests._request`): the links a page's worker
identified, at the page's depth + 1, each identity requested once per run at its least depth
(one linked again at a lesser depth is read at it, or a hub read already at the outlet's depth
fetched again: :meth:`LinkFollowing._shallower`); a sitemap's or feed's entries, read in a
thread. A URL is known by its identity (:mod:`storage.url_identity`).

Settings: ``CLUSTER_ENABLED``, ``DOWNLOAD_MAXSIZE``. Stats: ``spider/links/<name>`` (the page
worker's counts), ``spider/links/repeated``, ``spider/depth/{lessened,refetched}``,
``spider/sitemap/{index,urlset,too_large}``, ``spider/feed/entries``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.crawl_requests import CrawlRequests
from crawler.discovery import SitemapTooLarge
from crawler.link_forms import count_forms, feed_base, forms_of, read_feed, read_sitemap
from crawler.outlets import OutletConfig
from crawler.page_work import PageResult
from storage.url_identity import UrlForms

LINKED_MAX = 500_000  # URLs remembered as linked (some 60 MB), then forgotten at once


class LinkFollowing(CrawlRequests):
    """Links and entries to requests (a part of OutletsSpider: it has no name)."""

    # the spider's own (crawler.spiders.outlets.OutletsSpider sets or defines them)
    _linked: dict[str, int]  # identity: the least depth a page of this run linked it at
    _capped_hubs: set[str]  # identities of hubs read at the outlet's depth
    _not_modified: Callable[[Response], bool]
    _ok: Callable[[Response], None]
    _outlet: Callable[[Response], OutletConfig]
    _fail: Callable[..., None]

    @staticmethod
    def _found_url(meta: dict[str, Any], url: str) -> str:
        return str((meta.get("redirect_urls") or [url])[0])

    def identity(self, meta: dict[str, Any], url: str) -> str:
        """The identity of the URL a request was made for (before redirects): the one this
        process made with it, else made again (a request read from the shared queue carries
        none: queue data is not trusted to say what an URL is)."""
        known = meta.get("url_identity")
        if isinstance(known, str):
            return known
        found = self._found_url(meta, url)
        try:
            outlet = self.crawl_config.outlet(str(meta.get("outlet")))
        except KeyError:  # not an outlet's request (robots.txt…)
            return found
        return forms_of(found, outlet).identity

    def _shallower(self, forms: UrlForms, depth: int, outlet: OutletConfig) -> Request | None:
        """A page linked again at a lesser depth than its request was made with. Pages are
        fetched concurrently, so a section page may first be found one hop deeper, through an
        article (its menu), than through the home page: its request, still queued or on its
        way, is read at the lesser depth (_analysed); one read already at the outlet's depth,
        its links not followed, is fetched again (a hub: an article's links are its own
        teasers). In a distributed crawl the shared queue sees to it."""
        url = forms.fetch
        if self.settings.getbool("CLUSTER_ENABLED"):
            # the shared queue takes a page again at a lesser depth (cluster/requeued_shallower)
            return self._request(url, outlet, "page", self.parse_page, forms=forms)
        if forms.identity in self._capped_hubs and depth < outlet.depth:
            self._capped_hubs.discard(forms.identity)
            self._count("spider/depth/refetched")
            return self._request(url, outlet, "page", self.parse_page, again=True, forms=forms)
        self._count("spider/depth/lessened")
        return None

    def _follow(self, page: PageResult, response: Response, outlet: OutletConfig) -> Iterator[Any]:
        """The requests for a page's links (identified by its page worker), at its depth + 1; a
        link this run made a request for already, as shallow, is counted, not requested."""
        depth, repeated = response.meta.get("depth", 0) + 1, 0
        for name, amount in page.link_stats:  # made in the page's worker
            self._count_many(f"spider/links/{name}", amount)
        for url, identity in page.identified_links():
            # the same menus on every page: a URL linked already, as shallow, is not made a
            # request again only for Scrapy's duplicate filter to drop it
            known = self._linked.get(identity)
            if known is not None and known <= depth:
                repeated += 1
                continue
            if len(self._linked) >= LINKED_MAX:
                self._linked.clear()  # bounded: a repeat then costs a request the filter drops
            self._linked[identity] = depth
            forms = UrlForms(url, identity, False, False, False)  # counted by the worker
            if known is not None:  # linked before, deeper: its request takes this depth
                if request := self._shallower(forms, depth, outlet):
                    yield request
            elif request := self._request(url, outlet, "page", self.parse_page, forms=forms):
                yield request
        if repeated:
            self._count_many("spider/links/repeated", repeated)

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Request]:
        outlet = self._outlet(response)
        if self._not_modified(response):
            return
        max_size = response.meta.get("download_maxsize", self.settings.getint("DOWNLOAD_MAXSIZE"))
        try:
            # a sitemap can run to 50,000 URLs (and gunzipped, to many MB): read in a thread
            kind, urls = await maybe_deferred_to_future(
                deferToThread(read_sitemap, response.body, max_size, outlet)
            )
        except SitemapTooLarge as exc:
            self._count("spider/sitemap/too_large")
            self._fail(response.url, response.meta, "too_large", response.status, str(exc))
            return
        self._count(f"spider/sitemap/{'index' if kind == 'sitemapindex' else 'urlset'}")
        self._ok(response)
        for url, forms in urls:
            if not outlet.owns(url) or outlet.denied(url):
                continue
            if kind == "sitemapindex":
                request = self._request(url, outlet, "sitemap", self.parse_sitemap, forms=forms)
            elif outlet.allowed_article(url) is not False:
                count_forms(forms, self._count)
                request = self._request(url, outlet, "page", self.parse_page, forms=forms)
            else:
                continue
            if request is not None:
                yield request

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        outlet = self._outlet(response)
        if self._not_modified(response):
            return
        self._ok(response)
        links = await maybe_deferred_to_future(
            deferToThread(read_feed, response.body, feed_base(response), outlet)
        )
        for url, forms in links:
            if not outlet.owns(url) or outlet.denied(url) or outlet.allowed_article(url) is False:
                continue
            self._count("spider/feed/entries")
            count_forms(forms, self._count)
            if request := self._request(url, outlet, "feed_entry", self.parse_page, forms=forms):
                yield request
