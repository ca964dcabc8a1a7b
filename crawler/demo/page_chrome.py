"""The HTML every demo page shares, and the demo's pages that are not articles.

:class:`Page` (where a page lives and what its chrome links to), escaping, the ``<head>`` (title,
canonical link, Open Graph tags, the CDN's requisites), the navigation and the document shell;
the hub (home and section) pages, the video page, the 404 page and the 301 page. The article
templates are :mod:`crawler.demo.templates`. Reads no settings.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime

from crawler.demo import assets
from crawler.demo.content import Story

VIDEO_CAPTION = "Drone footage: the Wendle from source to sea"
VIDEO_PATH = "/video/week-11-wendle-from-the-air"


@dataclass(frozen=True)
class Page:
    """Where a page lives and what its chrome links to."""

    site_name: str
    url: str  # canonical absolute URL
    nav: tuple[tuple[str, str], ...]  # (href, label) of the section pages
    related: tuple[str, ...] = ()  # hrefs of other linked stories, for teaser blocks
    cdn: str = ""  # base URL of the shared "CDN" host of the requisites (crawler.demo.assets)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def display_date(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%d %b, %Y %H:%M")


def jsonld(story: Story, page: Page, *, ascii_only: bool) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.title,
        "datePublished": story.published,
        "author": {"@type": "Person", "name": story.author},
        "publisher": {"@type": "Organization", "name": page.site_name},
        "mainEntityOfPage": page.url,
        "inLanguage": story.lang,
    }
    # "</" inside a script element would end it early.
    text = json.dumps(data, ensure_ascii=ascii_only).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def page_head(
    title: str,
    page: Page,
    *,
    og_type: str | None,
    charset: str = "utf-8",
    extra: tuple[str, ...] = (),
) -> str:
    if charset == "utf-8":
        charset_tag = '<meta charset="utf-8">'
    else:
        # Legacy pages declare the charset only here; the HTTP header says just text/html.
        charset_tag = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
    lines = [
        charset_tag,
        f"<title>{esc(title)} | {esc(page.site_name)}</title>",
        f'<link rel="canonical" href="{esc(page.url)}">',
        f'<meta property="og:title" content="{esc(title)}">',
        f'<meta property="og:site_name" content="{esc(page.site_name)}">',
        f'<meta property="og:url" content="{esc(page.url)}">',
    ]
    if og_type:
        lines.append(f'<meta property="og:type" content="{og_type}">')
    if page.cdn:
        lines.extend(assets.head_links(page.cdn))
    lines.extend(extra)
    return "<head>\n" + "\n".join(lines) + "\n</head>"


def article_meta(story: Story, page: Page, *, published_meta: bool) -> tuple[str, ...]:
    origin = "/".join(page.url.split("/")[:3])
    out = [
        f'<meta name="author" content="{esc(story.author)}">',
        f'<meta property="og:image" content="{esc(origin + assets.photo_path(story.path))}">',
    ]
    if published_meta:
        out.append(f'<meta property="article:published_time" content="{story.published}">')
    return tuple(out)


def nav(page: Page) -> str:
    items = "".join(f'<li><a href="{esc(h)}">{esc(label)}</a></li>' for h, label in page.nav)
    return f'<nav><ul><li><a href="/">Home</a></li>{items}</ul></nav>'


def paras(paragraphs: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)


def doc(lang: str, head: str, body_class: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n{head}\n'
        f'<body class="{body_class}">\n{body}\n</body>\n</html>\n'
    )


def render_hub(
    page: Page, heading: str, items: list[tuple[str, str, str]], *, lang: str = "en"
) -> str:
    """A home or section page: og:type website and no NewsArticle, so it is never an article.

    ``items`` are (href, headline, summary) teasers.
    """
    head = page_head(heading, page, og_type="website")
    cards = "\n".join(
        f'<li class="teaser"><a href="{esc(href)}">{esc(title)}</a><p>{esc(summary)}</p></li>'
        for href, title, summary in items
    )
    body = f"""<header><a href="/">{esc(page.site_name)}</a>{nav(page)}</header>
<main>
<h1>{esc(heading)}</h1>
<ul class="teasers">
{cards}
</ul>
</main>"""
    return doc(lang, head, "hub", body)


def render_video(page: Page) -> str:
    """The video page behind "Watch Our Video Of The Week": not an article."""
    head = page_head(VIDEO_CAPTION, page, og_type="video.other")
    body = f"""<header><a href="/">{esc(page.site_name)}</a>{nav(page)}</header>
<main><h1>{esc(VIDEO_CAPTION)}</h1><video controls preload="none"></video></main>"""
    return doc("en", head, "video", body)


def render_not_found(site_name: str, path: str) -> str:
    head = (
        f'<head>\n<meta charset="utf-8">\n<title>Page not found | {esc(site_name)}</title>\n</head>'
    )
    body = (
        f"<main><h1>Page not found</h1><p>Nothing lives at {esc(path)}.</p>"
        '<a href="/">Home</a></main>'
    )
    return doc("en", head, "not-found", body)


def render_moved(location: str) -> str:
    head = '<head>\n<meta charset="utf-8">\n<title>Moved Permanently</title>\n</head>'
    body = f'<p>This story has moved to <a href="{esc(location)}">{esc(location)}</a>.</p>'
    return doc("en", head, "moved", body)
