"""What a fetched page says about the crawl: sitemap and feed entries, article signals.

Pure functions on bytes and parsel selectors, so that the spider stays a router and each rule
can be tested on a hand-made page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from lxml import etree
from parsel import Selector
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

logger = logging.getLogger(__name__)

ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
    "liveblogposting", "report",
}  # fmt: skip
ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
GZIP_MAGIC = b"\x1f\x8b"


class SitemapTooLarge(ValueError):
    pass


def sitemap_body(body: bytes, max_size: int) -> bytes:
    """The XML of a sitemap, gunzipped when it is a .xml.gz file served as such.

    A sitemap served with ``Content-Encoding: gzip`` was already decoded by Scrapy's
    HttpCompressionMiddleware; a ``.xml.gz`` file served as application/gzip still is gzip here.
    """
    if body[:2] != GZIP_MAGIC:
        return body
    try:
        return gunzip(body, max_size=max_size)
    except Exception as exc:  # scrapy raises its private _DecompressionMaxSizeExceeded
        raise SitemapTooLarge(f"gzipped sitemap larger than {max_size} bytes: {exc}") from exc


def sitemap_entries(body: bytes) -> tuple[str, list[str]]:
    """(kind, urls): kind is 'sitemapindex' or 'urlset'; urls are the <loc> of each entry."""
    sitemap = Sitemap(body)
    urls = [entry["loc"] for entry in sitemap if entry.get("loc")]
    return sitemap.type or "", urls


def feed_links(body: bytes) -> list[str]:
    """Article links of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, in feed order."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    links: list[str] = []
    for item in root.iter("item", f"{RSS1}item"):
        link = item.findtext("link") or item.findtext(f"{RSS1}link")
        if not link:
            guid = item.find("guid")
            if guid is not None and guid.get("isPermaLink", "true") != "false":
                link = guid.text
        if link and link.strip():
            links.append(link.strip())
    for entry in root.iter(f"{ATOM}entry"):
        for link_el in entry.iter(f"{ATOM}link"):
            if link_el.get("rel", "alternate") == "alternate" and link_el.get("href"):
                links.append(link_el.get("href", "").strip())
                break
    return links


def _jsonld_types(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for child in node:
            yield from _jsonld_types(child)
    elif isinstance(node, dict):
        kind = node.get("@type")
        for value in kind if isinstance(kind, list) else [kind]:
            if isinstance(value, str):
                yield value.lower()
        yield from _jsonld_types(node.get("@graph", []))
        yield from _jsonld_types(node.get("mainEntity", []))


OG_TYPE = etree.XPath("//meta[@property='og:type']/@content", smart_strings=False)
JSON_LD = etree.XPath("//script[@type='application/ld+json']/text()", smart_strings=False)


def article_signal(page: Selector | etree._Element) -> str | None:
    """Why the page is an article ('og:type', 'json-ld'), or None when it does not say so.

    `page` is a parsel selector or the lxml tree it wraps (``response.selector.root``, as the
    retry middleware reads it): one or two XPath queries, JSON-LD parsed only when there is some.
    """
    return next(_article_signals(page), None)


def article_signals(page: Selector | etree._Element) -> list[str]:
    """Every way the page says it is an article: 'og:type', 'json-ld', in that order."""
    return list(_article_signals(page))


def _article_signals(page: Selector | etree._Element) -> Iterator[str]:
    root = page.root if isinstance(page, Selector) else page
    if any(str(value).strip().lower() == "article" for value in OG_TYPE(root)[:1]):
        yield "og:type"
    for script in JSON_LD(root):
        try:
            data = json.loads(str(script))
        except ValueError:
            continue
        if any(t in ARTICLE_TYPES for t in _jsonld_types(data)):
            yield "json-ld"
            return
