"""The spider's side of URL identity (:mod:`storage.url_identity`): the forms of the URLs it
finds itself (feed and sitemap entries, read in a thread; start URLs; failures), and the
identities of what the archive holds, under each outlet's ``keep_params``.

A page's links get their forms in its page worker (:mod:`crawler.page_work`). Reads the
outlets' ``keep_params`` (:class:`~crawler.outlets.OutletConfig`); no settings.
Stats (counted by the spider): ``spider/links/{tracking_removed,fragment_removed,params_kept}``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from urllib.parse import urljoin

from scrapy.http import Response, TextResponse
from scrapy.utils.response import get_base_url

from crawler.discovery import feed_links, sitemap_body, sitemap_entries
from crawler.outlets import CrawlConfig, OutletConfig
from crawler.page_work import LINK_STATS
from storage.url_identity import UrlForms


def forms_of(url: str, outlet: OutletConfig) -> UrlForms:
    """`url`'s fetch form and identity for `outlet`; a URL w3lib cannot read, as it is (the
    request says what is wrong with it)."""
    try:
        return outlet.url_forms(url)
    except ValueError:
        return UrlForms(url, url, False, False, False)


def count_forms(forms: UrlForms, count: Callable[[str], None]) -> None:
    """Count what making `forms` did (spider/links/<LINK_STATS name>)."""
    for name, flag in zip(LINK_STATS, forms[2:], strict=True):
        if flag:
            count(f"spider/links/{name}")


def read_sitemap(
    body: bytes, max_size: int, outlet: OutletConfig
) -> tuple[str, list[tuple[str, UrlForms]]]:
    """Thread: a sitemap's kind and entries, each with its forms (up to 50,000 of them)."""
    kind, urls = sitemap_entries(sitemap_body(body, max_size))
    return kind, [(url, forms_of(url, outlet)) for url in urls]


def feed_base(response: Response) -> str:
    """What a feed's relative links are relative to (as ``response.urljoin`` has it)."""
    return get_base_url(response) if isinstance(response, TextResponse) else response.url


def read_feed(body: bytes, base: str, outlet: OutletConfig) -> list[tuple[str, UrlForms]]:
    """Thread: a feed's entries (absolute), each with its forms."""
    urls = (urljoin(base, link) for link in feed_links(body))
    return [(url, forms_of(url, outlet)) for url in urls]


class ArchiveIdentities:
    """The identities of URLs the archive lists (articles, failures) for the crawl's outlets."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self._keeping = {o.name: o for o in config.outlets if o.keep_params}

    def kept(self, url: str, outlet_name: str | None) -> str | None:
        """An archived URL's identity under its outlet's ``keep_params``, for an outlet that
        has them (the manifest's canonical_url of a row stored before had the default rules;
        storage.known_pages); None for the others."""
        outlet = self._keeping.get(outlet_name or "")
        if outlet is None:
            return None
        with contextlib.suppress(ValueError):
            return outlet.url_forms(url).identity
        return None

    def failure(self, url: str, outlet_name: str | None) -> str:
        """A failure's URL as links are asked about: its identity for its outlet (as it is for
        an outlet not crawled now)."""
        try:
            return self.config.outlet(outlet_name or "").url_forms(url).identity
        except (KeyError, ValueError):
            return url
