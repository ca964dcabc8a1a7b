"""Sitemaps (index, gzipped, news), feeds (RSS 2.0, RSS 1.0, Atom) and article signals."""

from __future__ import annotations

import gzip

import pytest
from parsel import Selector

from crawler.discovery import (
    SitemapTooLarge,
    feed_links,
    sitemap_body,
    sitemap_entries,
)
from pipelines.error_pages import article_signal

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://a.example/sitemap-news.xml.gz</loc></sitemap>
  <sitemap><loc>https://a.example/sitemap-2026.xml</loc></sitemap>
</sitemapindex>"""

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://a.example/news/1-flood</loc>
    <news:news><news:publication><news:name>A</news:name><news:language>en</news:language>
    </news:publication><news:title>Flood</news:title></news:news></url>
  <url><loc>https://a.example/news/2-bridge</loc></url>
</urlset>"""


def test_sitemap_index_and_gzipped_news_sitemap() -> None:
    assert sitemap_entries(sitemap_body(INDEX, 10_000)) == (
        "sitemapindex",
        ["https://a.example/sitemap-news.xml.gz", "https://a.example/sitemap-2026.xml"],
    )
    kind, urls = sitemap_entries(sitemap_body(gzip.compress(NEWS), 10_000))
    assert kind == "urlset"
    assert urls == ["https://a.example/news/1-flood", "https://a.example/news/2-bridge"]


def test_gzipped_sitemap_larger_than_the_limit_is_refused() -> None:
    bomb = gzip.compress(NEWS + b" " * 50_000)
    with pytest.raises(SitemapTooLarge):
        sitemap_body(bomb, max_size=10_000)


def test_rss2_rss1_and_atom_feeds() -> None:
    rss2 = b"""<rss version="2.0"><channel><title>A</title>
      <item><title>One</title><link>https://a.example/news/1</link></item>
      <item><title>Two</title><guid>https://a.example/news/2</guid></item>
      <item><title>Three</title><guid isPermaLink="false">tag:a,3</guid></item>
    </channel></rss>"""
    assert feed_links(rss2) == ["https://a.example/news/1", "https://a.example/news/2"]
    rss1 = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/"><item rdf:about="x"><link>https://a.example/n/9</link>
      </item></rdf:RDF>"""
    assert feed_links(rss1) == ["https://a.example/n/9"]
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title>
      <link rel="enclosure" href="https://a.example/a.mp3"/>
      <link href="https://a.example/n/7"/></entry></feed>"""
    assert feed_links(atom) == ["https://a.example/n/7"]
    assert feed_links(b"<html>not a feed") == []


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta property="og:type" content="article">', "og:type"),
        ('<meta property="og:type" content="website">', None),
        ('<script type="application/ld+json">{"@type": "NewsArticle"}</script>', "json-ld"),
        (
            '<script type="application/ld+json">{"@graph": [{"@type": "WebPage"},'
            ' {"@type": ["ReportageNewsArticle"]}]}</script>',
            "json-ld",
        ),
        ('<script type="application/ld+json">{"@type": "WebSite"}</script>', None),
        ('<script type="application/ld+json">{broken</script>', None),
    ],
)
def test_article_signals(head: str, expected: str | None) -> None:
    page = Selector(text=f"<html><head>{head}</head><body><p>x</p></body></html>")
    assert article_signal(page) == expected
