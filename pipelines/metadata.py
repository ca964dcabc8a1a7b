"""What a page says about itself: headline, author, publication date, type, summary, body.

Read from the page's structured data first (JSON-LD ``NewsArticle`` / ``Article`` and kin, also
inside ``@graph``; Open Graph and ``article:*`` meta tags; ``<meta name=author|date…>``), then its
markup (``<h1>``, ``<title>``, ``<time datetime>``). One pass of a few XPath queries over the
tree the extractor already parsed: trafilatura's own metadata pass (with its regex rescue of
broken JSON-LD) cost more than its text extraction on current news pages, for the same fields.
The date is the day (``YYYY-MM-DD``), as trafilatura gave it; htmldate (trafilatura's dependency)
is asked only when the page names no date at all, without its extensive search.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree
from lxml import html as lxml_html

logger = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
    "liveblogposting", "socialmediaposting", "techarticle", "scholarlyarticle", "report",
})  # fmt: skip
_JSON_LD = etree.XPath("//script[@type='application/ld+json']/text()", smart_strings=False)
_META = etree.XPath("//meta[@content]")
_TIME = etree.XPath(
    "(//article//time[@datetime] | //time[@datetime])[1]/@datetime", smart_strings=False
)
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
DATE_KEYS = (
    "article:published_time", "og:published_time", "datepublished", "date", "pubdate",
    "publishdate", "publish-date", "dc.date", "dc.date.issued", "dcterms.created",
    "parsely-pub-date", "sailthru.date", "article.published",
)  # fmt: skip
AUTHOR_KEYS = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")


@dataclass(frozen=True)
class PageMeta:
    headline: str = ""  # JSON-LD headline, else og:title / twitter:title
    page_title: str = ""  # <title>
    author: str = ""
    published: str = ""  # YYYY-MM-DD
    description: str = ""  # JSON-LD description, og:description or <meta name=description>
    article_body: str = ""  # JSON-LD articleBody, when the page gives one
    is_article: bool = False  # JSON-LD article type or og:type article


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every JSON-LD object, in document order, @graph and lists flattened."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, dict):
            found.append(item)
            if "@graph" in item:
                stack[:0] = [item["@graph"]]
    return found


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).lower() for k in kinds if k}


def _name(value: Any) -> str:
    """An author as JSON-LD writes it: a string, {"name"}, or a list of either."""
    if isinstance(value, list):
        return ", ".join(n for n in (_name(v) for v in value) if n)
    if isinstance(value, dict):
        return _name(value.get("name"))
    return " ".join(str(value).split()) if isinstance(value, str) else ""


def day(value: str) -> str:
    match = _DAY.match(value.strip())
    if not match:
        return ""
    year, month, date = (int(g) for g in match.groups())
    return match.group(0) if 1990 <= year <= 2100 and 1 <= month <= 12 and 1 <= date <= 31 else ""


def page_metadata(root: lxml_html.HtmlElement) -> PageMeta:
    article: dict[str, Any] = {}
    for raw in _JSON_LD(root):
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; the meta tags usually say the same
        for obj in _walk(data):
            if _types(obj) & ARTICLE_TYPES and not article:
                article = obj
    meta: dict[str, str] = {}
    for el in _META(root):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and key not in meta:
            meta[key] = " ".join(el.get("content", "").split())
    headline = (
        _name(article.get("headline")) or meta.get("og:title") or meta.get("twitter:title", "")
    )
    author = _name(article.get("author")) or next(
        (meta[k] for k in AUTHOR_KEYS if meta.get(k) and not meta[k].startswith("http")), ""
    )
    published = day(str(article.get("datePublished") or "")) or next(
        (d for d in (day(meta.get(k, "")) for k in DATE_KEYS) if d), ""
    )
    if not published:
        published = next((day(t) for t in _TIME(root)), "") or _htmldate(root)
    body = article.get("articleBody")
    return PageMeta(
        headline=headline,
        page_title=" ".join((root.findtext(".//title") or "").split()),
        author=author,
        published=published,
        description=_name(article.get("description")) or meta.get("og:description")
        or meta.get("description", ""),
        article_body=body if isinstance(body, str) else "",
        is_article=bool(article) or meta.get("og:type", "").lower() == "article",
    )  # fmt: skip


def _htmldate(root: lxml_html.HtmlElement) -> str:
    from htmldate import find_date

    try:
        found = find_date(root, extensive_search=False, original_date=True)
    except Exception:  # a date is a nicety: never lose an article over it
        return ""
    return day(found or "")
