"""Tree-level rules before extraction: template widgets pruned, the page's marked standfirst.

:func:`prune_tree` removes hidden elements, ``<svg>``/``<template>`` and template widgets found
by class/id/role (share bars, newsletter boxes, players, related and editor's-picks blocks,
icons) in place, never an element holding most of the page's prose.
:func:`find_standfirst_candidates` lists what the page marks as its lead (standfirst, lede,
dek, summary, intro, ``itemprop=description``). Both scan the tree once, with a cheap regex
prefilter over each element's class and id before the exact rules. Pure functions on lxml
trees, no Scrapy; reads no settings.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable

from lxml import etree
from lxml import html as lxml_html

from pipelines.cleaning import alternatives, normalize_text

logger = logging.getLogger(__name__)

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TAXONOMY_CLASS = re.compile(r"(?:^|\s)(?:tag|category|topic|term)-\S*")  # "tag-sharing": a tag


def _attr_pattern(*words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|[\s_-]){alternatives(*words)}(?:$|[\s_-])")


_WIDGET_ATTR = _attr_pattern(
    *re.split(
        " ",
        (
            "share shares sharing sharebar social socials newsletters? disclaimer comments? "
            "commenting outbrain taboola"
        ),
    )
)
_MEDIA_ATTR = _attr_pattern("player", "podcasts?")  # not when prose-heavy: "player-profile"
# navigational blocks: removed only when link-heavy ("teaser"/"promo" also name leads)
_NAV_ATTR = _attr_pattern(
    *re.split(
        " ",
        (
            "related recommended recommendations promos? promoted teasers? editors?-?picks? "
            "read-?more read-?next more-stories most-(?:read|popular|viewed) trending "
            "also-read"
        ),
    )
)
_ICON_ATTR = _attr_pattern(
    "icons?", "bicon", "glyphicon", "sprite", "fa[srb]?", "bi", "material-icons?"
)
_ROLE_ATTR = re.compile(r"^(?:complementary|contentinfo|dialog|alertdialog)$")
# containers, and invisible elements whose data trafilatura's metadata needs (JSON-LD, <meta>)
_PROTECTED_TAGS = frozenset(
    {"html", "head", "body", "main", "script", "style", "meta", "link", "title"}
)
_PROSE_RUN = 60  # a text run this long is prose, for the "don't remove the article" guard


def attr_words(el: lxml_html.HtmlElement) -> str:
    """class and id, lower-cased, camelCase split, taxonomy classes left out."""
    raw = _TAXONOMY_CLASS.sub(" ", f"{el.get('class', '')} {el.get('id', '')}")
    return _CAMEL.sub("-", raw).lower()


def text_len(el: lxml_html.HtmlElement) -> int:
    return len(" ".join(el.text_content().split()))


def link_density(el: lxml_html.HtmlElement) -> float:
    total = text_len(el)
    return sum(text_len(a) for a in el.iter("a")) / total if total else 1.0


def _prefilter(*words: str) -> re.Pattern[str]:
    """One search over an element's lower-cased class and id: a superset of what the exact
    patterns match (camelCase and separators do not matter here), so that those run only on
    the few elements it finds."""
    return re.compile("|".join(words))


def _attr_candidates(
    root: lxml_html.HtmlElement,
    prefilter: re.Pattern[str],
    attrs: frozenset[str] = frozenset(),
    tags: frozenset[str] = frozenset(),
) -> Iterable[lxml_html.HtmlElement]:
    """Elements (document order) whose class/id the prefilter finds, or with any of `attrs`,
    or of one of `tags`."""
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag in tags:
            yield el
            continue
        names = el.keys()
        if not names:
            continue
        if not attrs.isdisjoint(names):
            yield el
            continue
        cls, ident = el.get("class"), el.get("id")
        if (cls or ident) and prefilter.search(f"{cls} {ident}".lower()):
            yield el


# prose: a text run of at least _PROSE_RUN characters, outside scripts and styles
_LONG_TEXTS = etree.XPath(
    f".//text()[string-length(.) >= {_PROSE_RUN}][not(parent::script or parent::style)]",
    smart_strings=False,  # only their lengths are read: plain strings are made faster
)


def _prose(el: lxml_html.HtmlElement) -> int:
    return sum(n for n in (len(t.strip()) for t in _LONG_TEXTS(el)) if n >= _PROSE_RUN)


def _removable_widget(el: lxml_html.HtmlElement) -> str | None:
    if _ROLE_ATTR.match(el.get("role", "")):
        reason = "role"
    elif not (el.get("class") or el.get("id")):
        return None
    else:
        words = attr_words(el)
        patterns = (
            ("widget", _WIDGET_ATTR),
            ("media", _MEDIA_ATTR),
            ("nav", _NAV_ATTR),
            ("icon", _ICON_ATTR),
        )
        reason = next((name for name, pattern in patterns if pattern.search(words)), "")
        if not reason:
            return None
    length = text_len(el)
    if length and next(el.iterancestors("p"), None) is not None:
        return None  # an inline span inside running text: removing it would cut a sentence
    if reason == "nav" and link_density(el) < 0.3 and len(el.findall(".//a")) < 3:
        return None
    if reason == "icon" and (length > 40 or el.find(".//p") is not None):
        return None
    return reason


_PRUNE_PREFILTER = _prefilter(
    *re.split(
        " ",
        (
            "shar social newsletter disclaimer comment outbrain taboola player podcast related "
            "recommend promo teaser pick read more most trending also icon sprite fa bi"
        ),
    )
)
_PRUNE_ATTRS = frozenset({"hidden", "aria-hidden", "role", "style"})
_PRUNE_TAGS = frozenset({"svg", "template"})


def prune_tree(root: lxml_html.HtmlElement) -> int:
    """Remove hidden elements, <svg>/<template> and template widgets (share, social,
    newsletter, related, editor's picks, promo, player, podcast, disclaimer, comments,
    icons) from the page in place; returns how many elements went. A removal that would
    take most of the page's prose (text runs of at least _PROSE_RUN chars) with it is
    refused: a wrapper class like "comments-open" is not a widget."""
    total: int | None = None  # the page's prose, counted once, when a removal needs it
    removed: set[lxml_html.HtmlElement] = set()
    # the whole document: broken markup can leave content in <head>
    for el in list(_attr_candidates(root, _PRUNE_PREFILTER, _PRUNE_ATTRS, _PRUNE_TAGS)):
        if el.tag in _PROTECTED_TAGS or el.getparent() is None:
            continue
        hidden = (
            el.get("hidden") is not None
            or el.get("aria-hidden", "").lower() == "true"
            or _HIDDEN_STYLE.search(el.get("style", ""))
        )
        reason = (
            el.tag if el.tag in _PRUNE_TAGS else "hidden" if hidden else (_removable_widget(el))
        )
        if reason is None or any(a in removed for a in el.iterancestors()):
            continue  # not a widget, or gone with a removed ancestor
        prose = _prose(el)
        if prose:
            total = _prose(root) if total is None else total
            if prose > 0.5 * total or (reason == "media" and prose >= 300):
                continue
        logger.debug("pruning <%s class=%r> (%s)", el.tag, el.get("class"), reason)
        el.drop_tree()  # keeps the tail text, which belongs to the parent
        removed.add(el)
    return len(removed)


_STANDFIRST_ATTR = _attr_pattern(
    *re.split(
        " ",
        (
            "standfirst lead lede dek deck subtitle sub-title subheadline sub-headline subhead "
            "summary intro introduction excerpt strapline description teaser"
        ),
    )
)
_NOT_STANDFIRST_ATTR = _attr_pattern(
    *re.split(
        " ",
        (
            "image img photo media video caption figure gallery author byline card list item link "
            "nav menu footer meta"
        ),
    )
)
_NOT_STANDFIRST_TAGS = frozenset(
    re.split(
        " ",
        (
            "html head body main article meta script style figure figcaption a li ul ol nav img "
            "button form input option select textarea"
        ),
    )
)


_STANDFIRST_PREFILTER = _prefilter(
    *re.split(
        " ", "standfirst lead lede dek deck sub summary intro excerpt strapline description teaser"
    )
)


def find_standfirst_candidates(
    root: lxml_html.HtmlElement, min_len: int = 40, max_len: int = 800
) -> list[str]:
    """Texts of elements marked as lead/standfirst/dek/summary/intro/excerpt (or
    itemprop=description), in document order. Classes used three or more times (a teaser
    list), link-heavy elements and image/byline/card parts are skipped."""
    found: list[tuple[tuple[str, str], str]] = []
    for el in _attr_candidates(root, _STANDFIRST_PREFILTER, frozenset({"itemprop"})):
        if el.tag in _NOT_STANDFIRST_TAGS:
            continue
        words = attr_words(el)
        if not (_STANDFIRST_ATTR.search(words) or el.get("itemprop", "").lower() == "description"):
            continue
        text = normalize_text(el.text_content())
        if (
            not _NOT_STANDFIRST_ATTR.search(words)
            and min_len <= len(text) <= max_len
            and link_density(el) < 0.5
        ):
            found.append(((el.tag, el.get("class", "")), text))
    counts = Counter(signature for signature, _ in found)
    return list(dict.fromkeys(text for signature, text in found if counts[signature] < 3))
