"""The one judgement of error, block and bot-challenge pages, and the phrase lists it reads.

Outlets answer crawlers with "page not found" pages, "access denied" walls, "Just a moment…
checking your browser" challenges and login or paywall interstitials, all with status 200.
Such a page is never written as article text. It is judged here twice, each time on what is
known then, by the same rules and phrase lists (:data:`NOT_FOUND`, :data:`BLOCKED`,
:data:`ERROR_TITLE`):

- **at crawl time**, on the tree a page worker parsed (:mod:`crawler.page_work`), before any
  extraction: :func:`judge` names the page ``soft_404`` or ``blocked`` (a :class:`Verdict`
  without a reason for a real page), so that the retry middleware retries it like a 403 and
  the spider records it;
- **at extraction** (:func:`pipelines.article.extract_from_tree`), on the text left after
  cleaning: :func:`error_message` tells an extracted "article" that is an error message under an
  error headline ("404 Not Found", "Page not found") apart from one that is only short. Its
  reason is ``error_page``: a page the crawl-time judge kept (judging off, a user's pages).

Two rules, general to any outlet:

- **A page with article signals is an article, whatever its headline says.** The signals are the
  page's own metadata (:func:`article_signal`: JSON-LD ``NewsArticle``…, ``og:type`` article)
  and its prose: three paragraphs of a sentence or more (``paragraphs``), or a brief's worth of
  paragraph text under ``<article>`` or after the page's ``<h1>`` (``brief``). "Fire at 404
  Main Street…" or "Access denied: council refuses permit" is a headline, not an error.
  Metadata alone does not outweigh a wall in the body of a page with almost no prose (a paywall
  interstitial carries its article's og:type and JSON-LD). At extraction, ``min_chars`` of text
  is that signal.
- **An error page is judged by the absence of those signals**: by the patterns below in its
  title, first heading or (with almost no prose) its visible text, and by its likeness to the
  outlet's own answer for a URL that cannot exist (a :class:`NotFoundFingerprint`, from the
  spider's probe): word-shingle Jaccard similarity of the visible text, digits and the echoed
  URL left out, at least ``FINGERPRINT_SIMILARITY``. Signals the not-found page itself carries
  (a template that says og:type=article everywhere) are no evidence against it.

The tree is read without changing it: XPath leaves scripts, hidden elements and page furniture
out. Paragraph text is measured first, so an article (the common case) costs one XPath query and
no pattern search. Reads no settings (``RETRY_SOFT_FAILURES``, ``SOFT_FAILURE_PROBE`` and
``EXTRACT_MIN_CHARS`` are read by the components that call it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree
from parsel import Selector

from pipelines.cleaning import word_shingles

ARTICLE_PROSE_CHARS = 1500  # an error page titled as such has less paragraph text than this
SHORT_PROSE_CHARS = 400  # a page with less is short enough to be judged by any visible text
PARAGRAPH_CHARS = 60  # a sentence or more: prose, not a caption, a button or a byline
PARAGRAPHS = 3  # error, block and challenge pages say what they say in one or two
BRIEF_CHARS = 400  # a brief: about 70 words of paragraph text where a story's body goes
SHINGLE_WORDS = 3
FINGERPRINT_MIN_WORDS = 5  # fewer visible words than this: nothing to tell pages apart by
FINGERPRINT_SIMILARITY = 0.8

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
# A title that is an error message and nothing else (extraction's check: a headline "Error 404"
# or "Page not found", not one that only mentions a 404)
ERROR_TITLE = re.compile(
    r"\b(?:page|file|article|url) (?:was )?not found\b|^\W*(?:error\W*)?[45]\d\d\W*"
    r"(?:error|not found|forbidden|gone|internal server error|service unavailable)?\W*$",
    re.I,
)
# JSON-LD @type values that say a page is an article (an article signal)
ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
    "liveblogposting", "report",
}  # fmt: skip
OG_TYPE = etree.XPath("//meta[@property='og:type']/@content", smart_strings=False)
JSON_LD = etree.XPath("//script[@type='application/ld+json']/text()", smart_strings=False)
# Never read: code, templates and what the page hides.
JUNK = (
    "self::script or self::style or self::noscript or self::template or @hidden"
    " or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none')"
    " or contains(translate(@style, ' ', ''), 'visibility:hidden')"
)
# Links and page furniture are not the page's message: a hub may link "/errors/404".
FURNITURE = "self::a or self::nav or self::header or self::footer or self::select"
# Not prose either: sidebars, teaser lists ("Most read" on a 404 page) and forms (a login wall).
NOT_PROSE = f"{JUNK} or {FURNITURE} or self::aside or self::li or self::form"
PROSE = etree.XPath(f"//p//text()[not(ancestor::*[{NOT_PROSE}])]")
# the same texts as plain strings (faster made), where only their words are read
PROSE_TEXT = etree.XPath(f"//p//text()[not(ancestor::*[{NOT_PROSE}])]", smart_strings=False)
BODY_TEXT = etree.XPath(
    f"//body//text()[not(ancestor::*[{JUNK} or {FURNITURE} or self::h1])]", smart_strings=False
)
H1 = f"(//h1[not(ancestor-or-self::*[{JUNK}])])[1]"
FIRST_H1 = etree.XPath(H1)
VISIBLE = etree.XPath(f"descendant-or-self::text()[not(ancestor::*[{JUNK}])]", smart_strings=False)
# Where a story's body goes: inside <article>, or after the headline.
BRIEF = etree.XPath(
    f"//article//p//text()[not(ancestor::*[{NOT_PROSE}])]"
    f" | {H1}/following::p//text()[not(ancestor::*[{NOT_PROSE}])]",
    smart_strings=False,
)
WORD = re.compile(r"[^\W\d_]+")  # letters only: digits (dates, counters, request ids) left out


def _words(texts: Iterable[str]) -> str:
    return " ".join(" ".join(texts).split())


@dataclass(frozen=True)
class NotFoundFingerprint:
    """An outlet's answer for a URL that cannot exist: its status, where it ended up (after
    redirects), its visible text as word shingles, and the article signals it carries."""

    status: int
    url: str
    shingles: frozenset[str]
    words: int
    signals: frozenset[str]

    @classmethod
    def from_page(
        cls, page: etree._Element | None, status: int, urls: Iterable[str]
    ) -> NotFoundFingerprint:
        """From the probe's answer (`page` None when it is not HTML) and the URLs asked for
        and answered (the text may echo them)."""
        if page is None:
            return cls(status, "", frozenset(), 0, frozenset())
        urls = list(urls)
        root = page.getroottree().getroot()
        words = _shingle_words(_message(root), urls)
        signals = frozenset(_signals(root, PROSE(root)))
        return cls(status, urls[-1] if urls else "", _shingles(words), len(words), signals)

    @property
    def usable(self) -> bool:
        """Only a success status is a soft 404 to compare with: an honest 404 needs none."""
        return 200 <= self.status < 300 and self.words >= FINGERPRINT_MIN_WORDS

    def similarity(self, shingles: frozenset[str]) -> float:
        if not shingles or not self.shingles:
            return 0.0
        return len(shingles & self.shingles) / len(shingles | self.shingles)


@dataclass(frozen=True)
class Verdict:
    """``reason``: 'soft_404', 'blocked' or None (a page to keep). ``kept``: the article signal
    that outweighed a pattern match. ``fingerprint``: judged by its likeness to the outlet's
    not-found answer."""

    reason: str | None = None
    kept: str | None = None
    fingerprint: bool = False


KEEP = Verdict()


def judge(
    page: etree._Element,
    fingerprint: NotFoundFingerprint | None = None,
    urls: Iterable[str] = (),
    *,
    hub: bool = False,
) -> Verdict:
    """Judge an HTML page with a success status, given its parsed tree (not changed), the
    outlet's not-found fingerprint if known and the URLs asked for and answered, first to last.
    A page that is where the probe itself landed is never its copy when it was asked for
    itself, or when it is a `hub` (a start page): an outlet that sends unknown URLs to its home
    page has its home page reached through http -> https or a www redirect too."""
    root = page.getroottree().getroot()
    # Paragraph text measures the article, not the menus and footers every template has.
    prose = len(_words(PROSE_TEXT(root)))
    if prose >= ARTICLE_PROSE_CHARS:
        return KEEP
    urls = list(urls)
    title = " ".join((root.findtext(".//title") or "").split())
    h1 = FIRST_H1(root)
    heading = _words(VISIBLE(h1[0])) if h1 else ""
    compare = (
        fingerprint is not None
        and fingerprint.usable
        and not (urls and urls[-1] == fingerprint.url and (len(urls) == 1 or hub))
    )
    text = _words(BODY_TEXT(root)) if prose < SHORT_PROSE_CHARS or compare else ""
    signals: list[str] | None = None

    def article_signals() -> list[str]:
        nonlocal signals
        if signals is None:
            signals = _signals(root, PROSE(root))  # the nodes, for the <p> each is in
        return signals

    if compare:
        assert fingerprint is not None
        words = _shingle_words(f"{heading} {text}", urls)
        if fingerprint.similarity(_shingles(words)) >= FINGERPRINT_SIMILARITY and not (
            set(article_signals()) - fingerprint.signals
        ):
            return Verdict("soft_404", fingerprint=True)
    in_text = _match(text) if prose < SHORT_PROSE_CHARS else None
    in_heading = _match(title) or _match(heading)
    if not in_text and not in_heading:
        return KEEP
    found = article_signals()
    prose_signal = next((s for s in found if s in ("paragraphs", "brief")), None)
    if in_text and not prose_signal:
        return Verdict(in_text)  # a wall in the body: metadata alone does not outweigh it
    if found:
        return Verdict(kept=prose_signal or found[0])
    return Verdict(in_heading or in_text)


def soft_failure(page: etree._Element) -> str | None:
    """'soft_404', 'blocked' or None for an HTML page by the pattern and signal rules alone."""
    return judge(page).reason


def error_message(title: str, chars: int, min_chars: int) -> bool:
    """Extraction's judgement: `chars` characters of text (after cleaning) under the headline
    `title` are an error message, not an article too short to keep, when they are fewer than
    `min_chars` (at least 1) and the headline is an error's (:data:`ERROR_TITLE`)."""
    return chars < max(min_chars, 1) and ERROR_TITLE.search(title) is not None


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


def _match(text: str) -> str | None:
    for pattern, reason in ((BLOCKED, "blocked"), (NOT_FOUND, "soft_404")):
        if text and pattern.search(text):
            return reason
    return None


def _signals(root: etree._Element, prose_nodes: list[str]) -> list[str]:
    """Every article signal of the page: its metadata's, then its prose's."""
    prose = _prose_signal(root, prose_nodes)
    return [*article_signals(root), *([prose] if prose else [])]


def _prose_signal(root: etree._Element, prose_nodes: list[str]) -> str | None:
    """'paragraphs' (PARAGRAPHS paragraphs of PARAGRAPH_CHARS or more), 'brief' (BRIEF_CHARS
    of paragraph text under <article> or after the <h1>) or None."""
    texts: dict[etree._Element, list[str]] = {}
    for node in prose_nodes:
        paragraph = _paragraph(node)
        if paragraph is not None:
            texts.setdefault(paragraph, []).append(node)
    lengths = [len(_words(parts)) for parts in texts.values()]
    if sum(n >= PARAGRAPH_CHARS for n in lengths) >= PARAGRAPHS:
        return "paragraphs"
    if sum(lengths) >= BRIEF_CHARS and len(_words(BRIEF(root))) >= BRIEF_CHARS:
        return "brief"
    return None


def _paragraph(node: object) -> etree._Element | None:
    """The <p> a text node (an lxml "smart string") is read in."""
    parent = getattr(node, "getparent", lambda: None)()
    if parent is not None and getattr(node, "is_tail", False):
        parent = parent.getparent()
    while parent is not None and parent.tag != "p":
        parent = parent.getparent()
    return parent


def _message(root: etree._Element) -> str:
    h1 = FIRST_H1(root)
    heading = _words(VISIBLE(h1[0])) if h1 else ""
    return f"{heading} {_words(BODY_TEXT(root))}"


def _shingle_words(text: str, urls: Iterable[str]) -> list[str]:
    """Lower-case words of `text`, without digits and without the URLs it echoes ("we could
    not find /news/x"): what two answers of one template have in common."""
    for url in urls:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for echo in {url, unquote(url), path, unquote(path)} - {"", "/"}:
            text = text.replace(echo, " ")
    return WORD.findall(text.casefold())


def _shingles(words: list[str]) -> frozenset[str]:
    return word_shingles(words, SHINGLE_WORDS)
