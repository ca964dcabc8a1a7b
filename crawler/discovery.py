"""What a fetched sitemap or feed says about the crawl: its entries.

Pure functions on bytes, so that the spider stays a router and each rule can be tested on a
hand-made document. (A page's article signals are :func:`pipelines.error_pages.article_signal`:
the error-page judgement reads them too.)
"""

from __future__ import annotations

import logging

from lxml import etree
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

logger = logging.getLogger(__name__)

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
