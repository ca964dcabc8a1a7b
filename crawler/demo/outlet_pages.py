"""One demo outlet's pages, feeds and sitemaps, rendered once its base URL is known.

:func:`build_outlet` turns an outlet (:class:`crawler.demo.content.OutletSpec`) and its stories
into every path it serves, each a prepared :class:`Resource`: the article pages (in the outlet's
template, :mod:`crawler.demo.templates`, with ETag and Last-Modified; a redirected story's old
URL answering 301), the home and section pages, ``robots.txt``, a sitemap index with a plain and
a gzipped Google-news sitemap, and an RSS or Atom feed; with a CDN host, the requisites of
:mod:`crawler.demo.assets` too. :mod:`crawler.demo.site` serves them. Reads no settings.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from crawler.demo import assets, templates
from crawler.demo import page_chrome as chrome
from crawler.demo.content import OutletSpec, Story

HTML_UTF8 = "text/html; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


@dataclass(frozen=True)
class Resource:
    """A prepared response; `gzip_ok` pages are compressed on the wire when the client allows."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    gzip_ok: bool = False
    etag: str | None = None


def html_resource(
    text: str,
    *,
    charset: str = "utf-8",
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (),
    etag: str | None = None,
    gzip_ok: bool = False,
) -> Resource:
    # A legacy-charset page gets a bare "text/html": its <meta> is the only charset declaration.
    ctype = HTML_UTF8 if charset == "utf-8" else "text/html"
    return Resource(status, ctype, text.encode(charset), headers, gzip_ok, etag)


def _http_date(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso).astimezone(timezone.utc), usegmt=True)


def _summary(story: Story) -> str:
    # Hubs and feeds show the standfirst's first sentence, as real teasers do.
    first = story.paragraphs[0]
    return first.split(". ")[0].rstrip(".") + "."


def _sitemap_index(base: str, newest: str) -> bytes:
    entries = "".join(
        f"<sitemap><loc>{base}{p}</loc><lastmod>{newest}</lastmod></sitemap>\n"
        for p in ("/sitemap-articles.xml", "/sitemap-news.xml.gz")
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n'
        f"{entries}</sitemapindex>\n"
    ).encode()


def _plain_sitemap(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    # Hubs are listed too, as on real sites: the crawler must not take them for articles.
    urls = [f"<url><loc>{base}/</loc><changefreq>hourly</changefreq></url>"]
    urls += [f"<url><loc>{base}{path}</loc></url>" for path, _ in spec.sections]
    urls += [
        f"<url><loc>{base}{s.path}</loc><lastmod>{s.published}</lastmod></url>" for s in stories
    ]
    body = "\n".join(urls)
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">'
    return f"{head}\n{body}\n</urlset>\n".encode()


def _news_sitemap(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    urls = "\n".join(
        f"<url><loc>{base}{s.path}</loc><news:news><news:publication>"
        f"<news:name>{xml_escape(spec.site_name)}</news:name>"
        f"<news:language>{s.lang}</news:language></news:publication>"
        f"<news:publication_date>{s.published}</news:publication_date>"
        f"<news:title>{xml_escape(s.title)}</news:title></news:news></url>"
        for s in stories
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">\n{urls}\n</urlset>\n'
    )
    return gzip.compress(xml.encode(), mtime=0)


def _rss(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    items = "\n".join(
        f"<item><title>{xml_escape(s.title)}</title><link>{base}{s.path}</link>"
        f'<guid isPermaLink="true">{base}{s.path}</guid>'
        f"<pubDate>{_http_date(s.published).replace('GMT', '+0000')}</pubDate>"
        f"<dc:creator>{xml_escape(s.author)}</dc:creator>"
        f"<description>{xml_escape(_summary(s))}</description></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{xml_escape(spec.site_name)}</title><link>{base}/</link>"
        f"<description>Latest stories from {xml_escape(spec.site_name)}</description>"
        f"<language>{spec.language}</language>"
        f'<atom:link href="{base}/rss.xml" rel="self" type="application/rss+xml"/>\n'
        f"{items}\n</channel>\n</rss>\n"
    ).encode()


def _atom(base: str, spec: OutletSpec, stories: list[Story]) -> bytes:
    updated = max(s.published for s in stories)
    entries = "\n".join(
        f'<entry><title>{xml_escape(s.title)}</title><link rel="alternate" href="{base}{s.path}"/>'
        f"<id>{base}{s.path}</id><published>{s.published}</published>"
        f"<updated>{s.published}</updated><author><name>{xml_escape(s.author)}</name></author>"
        f"<summary>{xml_escape(_summary(s))}</summary></entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<title>{xml_escape(spec.site_name)}</title><id>{base}/</id><updated>{updated}</updated>"
        f'<link rel="self" href="{base}/atom.xml"/><link rel="alternate" href="{base}/"/>\n'
        f"{entries}\n</feed>\n"
    ).encode()


def _robots(base: str, spec: OutletSpec) -> bytes:
    rules = "".join(f"Disallow: {p}\n" for p in spec.robots_disallow)
    return (
        f"# robots.txt for {spec.site_name}\nUser-agent: *\n{rules}\n"
        f"Sitemap: {base}/sitemap_index.xml\n"
    ).encode()


def static_resources(files: dict[str, tuple[str, bytes]]) -> dict[str, Resource]:
    # a year's caching, as outlets serve their static files
    cache = (("Cache-Control", "public, max-age=31536000"),)
    return {path: Resource(200, ctype, body, cache) for path, (ctype, body) in files.items()}


def build_outlet(
    spec: OutletSpec, base: str, stories: list[Story], cdn: str = ""
) -> dict[str, Resource]:
    """Every path of one outlet, rendered for the outlet's base URL; pages name their requisites
    (:mod:`crawler.demo.assets`) when the base URL of the CDN host is given."""
    render = templates.ARTICLE_TEMPLATES[spec.template]
    linked = sorted((s for s in stories if s.linked), key=lambda s: s.published, reverse=True)
    # The robots-disallowed draft is linked from the home page only.
    public = [s for s in linked if "robots_disallowed" not in s.features]
    res: dict[str, Resource] = static_resources(assets.outlet_assets(spec.name)) if cdn else {}
    if cdn and spec.template == "iconfont":
        loop = base + assets.LOOPING_CSS
        res[assets.LOOPING_CSS] = html_resource(chrome.render_moved(loop), status=301,
                                        headers=(("Location", loop),))  # fmt: skip

    def page(path: str, related: tuple[str, ...] = ()) -> chrome.Page:
        return chrome.Page(spec.site_name, base + path, spec.sections, related, cdn)

    # a section-only story is linked from its section page alone: not home, not related links
    listed = [s for s in public if "section_only" not in s.features]
    for story in stories:
        if cdn:
            res.update(static_resources(assets.photo_assets(story.path)))
        related = tuple(s.link_path for s in listed if s is not story)
        body = render(story, page(story.path, related))
        etag = '"' + hashlib.sha1(body.encode("utf-8")).hexdigest()[:20] + '"'
        headers = (("Last-Modified", _http_date(story.published)), ("ETag", etag))
        res[story.path] = html_resource(
            body,
            charset=story.charset,
            headers=headers,
            etag=etag,
            gzip_ok="gzip" in story.features,
        )
        if story.old_path:
            location = base + story.path
            res[story.old_path] = html_resource(
                chrome.render_moved(location), status=301, headers=(("Location", location),)
            )

    items = [(s.link_path, s.title, _summary(s)) for s in linked]
    dead = [(path, "Withdrawn story", "This story was withdrawn.") for path in spec.dead_links]
    home = [i for s, i in zip(linked, items, strict=True) if "section_only" not in s.features]
    res["/"] = html_resource(chrome.render_hub(page("/"), "Top stories", home + dead))
    for path, label in spec.sections:
        section_items = [
            i for s, i in zip(linked, items, strict=True) if s.section == path and s in public
        ]
        res[path] = html_resource(
            chrome.render_hub(page(path), f"{label} | {spec.site_name}", section_items)
        )
    if spec.template == "regional":
        res[chrome.VIDEO_PATH] = html_resource(chrome.render_video(page(chrome.VIDEO_PATH)))

    in_sitemap = [s for s in stories if s.in_sitemap]
    plain = [s for s in in_sitemap if s.linked or spec.sitemap_only_in == "plain"]
    news = [s for s in in_sitemap if s.linked or spec.sitemap_only_in == "news"]
    newest = max(s.published for s in stories)
    xml = "application/xml; charset=utf-8"
    res["/robots.txt"] = Resource(200, "text/plain; charset=utf-8", _robots(base, spec))
    res["/sitemap_index.xml"] = Resource(200, xml, _sitemap_index(base, newest))
    res["/sitemap-articles.xml"] = Resource(200, xml, _plain_sitemap(base, spec, plain))
    # A gzipped sitemap is a gzip *file*: no Content-Encoding, the client unpacks it itself.
    res["/sitemap-news.xml.gz"] = Resource(
        200, "application/x-gzip", _news_sitemap(base, spec, news)
    )
    in_feed = sorted((s for s in stories if s.in_feed), key=lambda s: s.published, reverse=True)
    if spec.feed == "atom":
        res["/atom.xml"] = Resource(
            200, "application/atom+xml; charset=utf-8", _atom(base, spec, in_feed)
        )
    else:
        res["/rss.xml"] = Resource(
            200, "application/rss+xml; charset=utf-8", _rss(base, spec, in_feed)
        )
    return res
