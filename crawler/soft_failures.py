"""Recognise error, block and bot-challenge pages served with a success status.

Outlets answer crawlers with "page not found" pages, "access denied" walls, "Just a moment…
checking your browser" challenges and login or paywall interstitials, all with status 200.
:func:`soft_failure` names such a page ``soft_404`` or ``blocked`` (None for a real page), so
that it is retried like a 403 and never written as article text.

A real article whose template carries an error banner is not a soft failure: the banner must be
visible (hidden elements are not read) and the page must not have article-sized text besides.
Patterns are looked for in the title and first heading of a page with little paragraph text, or
anywhere in the visible text of a page with almost none. A cheap byte search comes first, so
ordinary pages are never parsed here.
"""

from __future__ import annotations

import re

from lxml import etree, html

ARTICLE_PROSE_CHARS = 1500  # an error page titled as such has less paragraph text than this
SHORT_PROSE_CHARS = 400  # a page with less is short enough to be judged by any visible text
SCAN_BYTES = 512 * 1024

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
# Bytes that must appear for either pattern to match: the quick pre-check.
TRIGGERS = re.compile(
    rb"not found|404|be found|exist|available|nothing|gefunden|introuvable|encontrada|"
    rb"moment|checking|attention|denied|robot|human|captcha|unsuccessful|interruption|"
    rb"cookies|reading|subscriber",
    re.I,
)
HIDDEN = (
    "//*[@hidden or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none')"
    " or contains(translate(@style, ' ', ''), 'visibility:hidden')]"
)


def _visible_text(node: etree._Element | None) -> str:
    return " ".join(node.text_content().split()) if node is not None else ""


def soft_failure(body: bytes, encoding: str = "utf-8") -> str | None:
    """'soft_404', 'blocked' or None for the HTML page `body` (already Content-Decoded)."""
    head = body[:SCAN_BYTES]
    if not TRIGGERS.search(head):
        return None
    try:
        root = html.fromstring(head.decode(encoding, errors="replace"))
    except (etree.ParserError, ValueError):
        return None
    for junk in root.xpath("//script | //style | //noscript | //template | " + HIDDEN[2:]):
        if junk.getparent() is not None:
            junk.drop_tree()
    title = " ".join((root.findtext(".//title") or "").split())
    h1 = _visible_text(next(iter(root.xpath("//h1")), None))
    # Links and page furniture are not the page's message: a hub may link "/errors/404".
    for furniture in root.xpath("//a | //nav | //header | //footer | //select"):
        if furniture.getparent() is not None:
            furniture.drop_tree()
    body_el = root.find("body")
    text = _visible_text(body_el if body_el is not None else root)
    # Paragraph text measures the article, not the menus and footers every template has.
    prose = sum(len(_visible_text(p)) for p in root.xpath("//p"))
    for pattern, reason in ((BLOCKED, "blocked"), (NOT_FOUND, "soft_404")):
        named = pattern.search(title) or pattern.search(h1)
        if (named and prose < ARTICLE_PROSE_CHARS) or (
            prose < SHORT_PROSE_CHARS and pattern.search(text)
        ):
            return reason
    return None
