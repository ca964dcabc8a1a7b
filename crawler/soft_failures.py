"""Recognise error, block and bot-challenge pages served with a success status.

Outlets answer crawlers with "page not found" pages, "access denied" walls, "Just a moment…
checking your browser" challenges and login or paywall interstitials, all with status 200.
:func:`soft_failure` names such a page ``soft_404`` or ``blocked`` (None for a real page), so
that it is retried like a 403 and never written as article text.

A real article whose template carries an error banner is not a soft failure: the banner must be
visible (hidden elements are not read) and the page must not have article-sized text besides.
Patterns are looked for in the title and first heading of a page with little paragraph text, or
anywhere in the visible text of a page with almost none.

The page is read from the tree the spider parses anyway (``response.selector.root``), without
changing it: XPath leaves scripts, hidden elements and page furniture out. Paragraph text is
measured first, so an article (the common case) costs one XPath query and no pattern search.
"""

from __future__ import annotations

import re

from lxml import etree

ARTICLE_PROSE_CHARS = 1500  # an error page titled as such has less paragraph text than this
SHORT_PROSE_CHARS = 400  # a page with less is short enough to be judged by any visible text

NOT_FOUND = re.compile(
    r"page not found|\b404\b|not be found|cannot be found|can['\u2019]t be found|"
    r"(does not|doesn['\u2019]t|no longer) exists?|page (is )?(no longer )?(available|unavailable)|"
    r"nothing (was )?found|seite nicht gefunden|page introuvable|página no encontrada",
    re.I,
)
BLOCKED = re.compile(
    r"just a moment|checking (if the site connection is secure|your browser)|"
    r"attention required|access denied|access to this page has been denied|"
    r"are you a (robot|human)|verify (that )?you are (a )?human|captcha|"
    r"request unsuccessful|pardon our interruption|enable (javascript|js) and cookies|"
    r"(subscribe|log ?in|sign ?in) to (continue|keep) reading|"
    r"(this|the) (article|content|story) is (only )?(available|reserved) (only )?"
    r"(to|for) subscribers",
    re.I,
)
# Never read: code, templates and what the page hides.
JUNK = (
    "self::script or self::style or self::noscript or self::template or @hidden"
    " or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none')"
    " or contains(translate(@style, ' ', ''), 'visibility:hidden')"
)
# Links and page furniture are not the page's message: a hub may link "/errors/404".
FURNITURE = "self::a or self::nav or self::header or self::footer or self::select"
PROSE = etree.XPath(f"//p//text()[not(ancestor::*[{JUNK} or {FURNITURE}])]")
PAGE_TEXT = etree.XPath(f"//body//text()[not(ancestor::*[{JUNK} or {FURNITURE}])]")
FIRST_H1 = etree.XPath(f"(//h1[not(ancestor-or-self::*[{JUNK}])])[1]")
VISIBLE = etree.XPath(f"descendant-or-self::text()[not(ancestor::*[{JUNK}])]")


def _words(texts: list[str]) -> str:
    return " ".join(" ".join(texts).split())


def soft_failure(page: etree._Element) -> str | None:
    """'soft_404', 'blocked' or None for an HTML page, given its parsed tree (not changed)."""
    root = page.getroottree().getroot()
    # Paragraph text measures the article, not the menus and footers every template has.
    prose = len(_words(PROSE(root)))
    if prose >= ARTICLE_PROSE_CHARS:
        return None
    title = " ".join((root.findtext(".//title") or "").split())
    h1 = FIRST_H1(root)
    heading = _words(VISIBLE(h1[0])) if h1 else ""
    text = _words(PAGE_TEXT(root)) if prose < SHORT_PROSE_CHARS else ""
    for pattern, reason in ((BLOCKED, "blocked"), (NOT_FOUND, "soft_404")):
        if pattern.search(title) or pattern.search(heading) or pattern.search(text):
            return reason
    return None
