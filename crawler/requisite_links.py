"""What a page needs to render: the URLs of its stylesheets, scripts, images, fonts and icons.

:func:`page_requisites` reads them from an HTML page: ``<link rel=stylesheet|icon|preload>``,
``<script src>``, ``<img src|srcset>`` (and the ``data-src`` / ``data-srcset`` a lazy loader
swaps in), ``<picture><source srcset>``, ``<video poster>``, ``og:image`` / ``twitter:image``,
and the ``url(...)`` of its ``<style>`` blocks and ``style`` attributes, resolved against
``<base href>``. :func:`css_requisites` reads a stylesheet: ``@import`` (a stylesheet again),
``url(...)`` and ``image-set()`` anywhere (fonts inside ``@font-face``, images elsewhere).

CSS goes through tinycss2, a CSS Syntax Level 3 tokenizer: comments, escapes, quoted URLs and
``@charset`` are where regular expressions over the raw text go wrong. Every URL is http(s),
without its fragment; ``data:``, ``blob:`` and ``#id`` references are not fetched. Pure
functions: :mod:`crawler.requisites` runs them off the reactor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urldefrag, urljoin

import lxml.html
import tinycss2
from w3lib.url import safe_url_string

from pipelines.article import NoArticle, parse_html

REQUISITE = "requisite"  # meta["kind"] of a requisite's request (crawler.requisites)
# what each requisite is, also the stats' last part: requisites/requested/<kind>
STYLESHEET, SCRIPT, IMAGE, FONT, ICON = "stylesheet", "script", "image", "font", "icon"
# fetched first when a page names more than a run allows: what the layout needs before photos
ORDER = {STYLESHEET: 0, SCRIPT: 1, FONT: 2, ICON: 3, IMAGE: 4}

_ICON_RELS = {"icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon"}
_PRELOAD_AS = {"style": STYLESHEET, "script": SCRIPT, "font": FONT, "image": IMAGE}
_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".otf", ".eot")
_IMAGE_META = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
_IMG_ATTRS = ("src", "data-src")
_SRCSET_ATTRS = ("srcset", "data-srcset")


# the elements that may name a requisite, found by libxml2 rather than a walk in Python
_CANDIDATES = lxml.etree.XPath(
    "//link | //script[@src] | //img | //source | //video[@poster] | //input[@src]"
    " | //meta[@content] | //style | //*[@style]"
)
# CSS that names nothing to fetch is not tokenized: inline "critical" CSS runs to tens of KB a
# page, and tinycss2 (pure Python) would take most of a page's time on it
_CSS_URL_MARKERS = ("url(", "image-set(", "@import", "\\")


def _names_urls(css: str) -> bool:
    lowered = css.lower()
    return any(marker in lowered for marker in _CSS_URL_MARKERS)


class Requisite(NamedTuple):
    url: str
    kind: str


def _absolute(base: str, value: str | None) -> str | None:
    """`value` resolved against `base`, if it names an http(s) resource."""
    if not value:
        return None
    value = value.strip()
    if not value or value.startswith("#"):
        return None
    try:
        url = urldefrag(urljoin(base, safe_url_string(value)))[0]
    except ValueError:  # not a URL at all ("http://[::1/x.png"): nothing to fetch
        return None
    return url if url.startswith(("http://", "https://")) else None


def srcset_urls(value: str) -> list[str]:
    """The image candidates of a ``srcset``, by the HTML spec's parsing rules: a URL runs to the
    next whitespace (trailing commas end it), its descriptors to the next comma outside
    parentheses. A URL may hold commas itself (``/c_fill,w_300/x.jpg``)."""
    urls, pos, n = [], 0, len(value)
    while pos < n:
        while pos < n and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < n and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # skip the descriptors ("640w", "2x") up to the comma that ends the candidate
            depth = 0
            while pos < n and (value[pos] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[pos], 0)
                pos += 1
        if url:
            urls.append(url)
    return urls


def _link_kind(link: Any) -> str | None:
    rels = set((link.get("rel") or "").lower().split())
    if "stylesheet" in rels and "alternate" not in rels:
        return STYLESHEET
    if rels & _ICON_RELS:
        return ICON
    if "modulepreload" in rels:
        return SCRIPT
    if "preload" in rels:
        return _PRELOAD_AS.get((link.get("as") or "").lower())
    return None


def page_requisites(body: bytes, url: str, encoding: str | None = None) -> list[Requisite]:
    """The requisites of an HTML page, in document order, each URL once, from its bytes
    parsed as a page worker parses them (:func:`pipelines.article.parse_html`)."""
    try:
        root = parse_html(body, "text/html", encoding, strict=False)
    except NoArticle:  # empty, or not a document
        return []
    return requisites_in(root, url)


def requisites_in(root: Any, url: str) -> list[Requisite]:
    """The requisites of a parsed HTML page (an lxml tree, not changed), in document order,
    each URL once: what :func:`page_requisites` reads, for a page parsed already."""
    base = url
    for tag in root.iter("base"):
        base = _absolute(url, tag.get("href")) or url
        break
    found: list[tuple[str | None, str]] = []
    for el in _CANDIDATES(root):  # in document order; the rest of the tree is not walked
        tag = el.tag
        if tag == "link":
            if kind := _link_kind(el):
                found.append((el.get("href"), kind))
        elif tag == "script":
            found.append((el.get("src"), SCRIPT))
        elif tag in ("img", "source"):
            if (
                tag == "source"
                and el.getparent() is not None
                and el.getparent().tag
                in (
                    "video",
                    "audio",
                )
            ):
                continue  # media files: not what a page needs to render, and large
            found.extend((el.get(attr), IMAGE) for attr in _IMG_ATTRS)
            for attr in _SRCSET_ATTRS:
                found.extend((u, IMAGE) for u in srcset_urls(el.get(attr) or ""))
        elif tag == "video":
            found.append((el.get("poster"), IMAGE))
        elif tag == "input" and (el.get("type") or "").lower() == "image":
            found.append((el.get("src"), IMAGE))
        elif tag == "meta":
            name = (el.get("property") or el.get("name") or "").lower()
            if name in _IMAGE_META:
                found.append((el.get("content"), IMAGE))
        elif tag == "style" and el.text and _names_urls(el.text):
            found.extend((r.url, r.kind) for r in css_requisites(el.text, base))
        if (style := el.get("style")) and _names_urls(style):
            found.extend((r.url, r.kind) for r in inline_style_requisites(style, base))
    return _unique(((_absolute(base, value), kind) for value, kind in found))


def css_requisites(css: bytes | str, url: str, encoding: str | None = None) -> list[Requisite]:
    """The requisites of a stylesheet served at `url` (bytes are decoded as CSS says: BOM,
    then the HTTP charset `encoding`, then ``@charset``, then UTF-8)."""
    if isinstance(css, bytes):
        rules, _ = tinycss2.parse_stylesheet_bytes(
            css, protocol_encoding=encoding, skip_comments=True, skip_whitespace=True
        )
    else:
        rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    found: list[tuple[str, str]] = []
    _walk(rules, found, None)
    return _unique((_absolute(url, value), kind) for value, kind in found)


def inline_style_requisites(style: str, url: str) -> list[Requisite]:
    """The requisites of a ``style="..."`` attribute (a declaration list)."""
    found: list[tuple[str, str]] = []
    _walk(tinycss2.parse_blocks_contents(style, skip_comments=True), found, None)
    return _unique((_absolute(url, value), kind) for value, kind in found)


def _asset_kind(value: str, hint: str | None) -> str:
    if hint:
        return hint
    path = value.split("?", 1)[0].lower()
    return FONT if path.endswith(_FONT_SUFFIXES) else IMAGE


def _strings(nodes: Iterable[Any]) -> list[str]:
    return [node.value for node in nodes if node.type == "string"]


def _walk(nodes: Iterable[Any], found: list[tuple[str, str]], hint: str | None) -> None:
    """Every URL in a tinycss2 tree: url tokens, url()/src() with a string, image-set() strings,
    and @import's target (a stylesheet)."""
    for node in nodes:
        kind = node.type
        if kind == "url":
            found.append((node.value, _asset_kind(node.value, hint)))
        elif kind == "function":
            if node.lower_name in ("url", "src", "image-set", "-webkit-image-set"):
                found.extend((s, _asset_kind(s, hint)) for s in _strings(node.arguments))
            _walk(node.arguments, found, hint)  # url tokens inside image-set() and others
        elif kind == "at-rule":
            if node.lower_at_keyword == "import":
                # @import "x.css" | url(x.css) | url("x.css"), then media queries
                for n in node.prelude:
                    if n.type in ("string", "url"):
                        found.append((n.value, STYLESHEET))
                    elif n.type == "function" and n.lower_name == "url":
                        found.extend((s, STYLESHEET) for s in _strings(n.arguments)[:1])
                    else:
                        continue
                    break
            elif node.content is not None:
                font = FONT if node.lower_at_keyword == "font-face" else hint
                _walk(node.content, found, font)
        elif kind in ("qualified-rule", "() block", "[] block", "{} block"):
            _walk(node.content, found, hint)
        elif kind == "declaration":
            _walk(node.value, found, hint)


def _unique(pairs: Iterable[tuple[str | None, str]]) -> list[Requisite]:
    seen: set[str] = set()
    out = []
    for url, kind in pairs:
        if url is not None and url not in seen:
            seen.add(url)
            out.append(Requisite(url, kind))
    return out
