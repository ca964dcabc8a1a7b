"""Cleaning rules applied on top of trafilatura: pure functions, no Scrapy.

Tree level (before extraction): remove hidden elements and template widgets found by
class/id/role. Paragraph level (after extraction): Unicode normalisation, text rules for the
same boilerplate (a safety net), title copies, repeated paragraphs, the page's own lead. Each
rule is meant for any outlet, not one template, and stays only while the ablation of ``make
eval-extraction`` shows it helps (see ``pipelines.article.RULES``).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from lxml import etree
from lxml import html as lxml_html

logger = logging.getLogger(__name__)

# --------------------------------------------------------------- normalising
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_STRAY_NBSP = re.compile(r"&(?:amp;)?nbsp;?", re.IGNORECASE)  # entities escaped twice upstream
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalize_text(text: str) -> str:
    """NFC, no soft hyphens / zero-width chars / stray &nbsp;, single spaces, stripped."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", _STRAY_NBSP.sub(" ", text)).strip()  # \s includes NBSP


def normalize_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Normalise each paragraph and drop the empty ones (a line of punctuation alone, left by
    markup between two blocks, is empty: it has no word to read)."""
    return [p for p in (normalize_text(p) for p in paragraphs) if _WORD.search(p)]


def match_key(text: str) -> str:
    """Comparison key: case-folded words only, so punctuation/spacing variants match."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


@functools.lru_cache(maxsize=4096)  # each paragraph meets several line rules
def _label_form(line: str) -> str:
    return normalize_text(line).casefold().translate(_QUOTES)


def _alternatives(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


# ---------------------------------------------------- paragraph-level rules
_ICON_TOKEN = re.compile(r"icon|^(?:fa[srb]?|bi|glyphicon|material-icons?)(?:-|$)", re.IGNORECASE)
_TIMECODE = re.compile(r"^\d{1,2}:\d{1,2}(?::\d{1,2})?$")
_PLAYER_WORDS = frozenset(
    re.split(
        " ",
        (
            "podcast podcasts audio video listen play pause mute unmute volume playback speed "
            "fullscreen seek rewind forward replay live duration current time captions cc "
            "subtitles settings quality 1x 1.5x 2x 0.5x / | -"
        ),
    )
)
_PLAYER_LABEL = re.compile(
    r"^(?:podcasts?|audio|video|listen(?: now| to (?:this|the) (?:article|story))?|"
    r"play(?: video| audio)?|watch(?: video)?|now playing):?$"
)
# headings of teaser blocks (the teaser links after them go too)
_BLOCK_LABELS = (
    r"read more",
    r"read next",
    r"more stories",
    r"more news",
    r"latest news",
    r"top stories",
    r"related(?: articles| stories| posts| news| content)?",
    r"see also",
    r"also read",
    r"recommended(?: for you| stories| articles| reading)?",
    r"editors?'?s? picks?",
    r"editors?'? choice",
    r"most (?:read|popular|viewed)",
    r"trending(?: now)?",
    r"you (?:may|might) also like",
    r"(?:watch )?our video of the week",
    r"video of the week",
)
_OTHER_LABELS = (
    r"(?:\d+ )?comments?",
    r"no comments?",
    r"leave a (?:comment|reply)",
    r"comments are closed",
    r"(?:add|post|show|view|load) (?:a )?comments?",
    r"join the (?:conversation|discussion)",
    r"share(?: this)?(?: article| story| post)?(?: on \w+)?",
    r"print",
    r"email",
    r"tweet",
    r"advertisement",
    r"sponsored(?: content)?",
    r"subscribe(?: now)?",
    r"sign up",
    r"newsletters?",
    r"follow us(?: on [\w ,&]+)?",
    r"(?:legal )?disclaimer",
    r"tags?",
    r"topics?",
)
_BLOCK_HEADING = re.compile(rf"^{_alternatives(*_BLOCK_LABELS)}[\s:.!]*$")
_LABEL = re.compile(rf"^{_alternatives(*_BLOCK_LABELS, *_OTHER_LABELS)}[\s:.!]*$")
_TEASER_PREFIX = re.compile(  # "Read more: <headline>"
    r"^(?:read more|read also|also read|related|see also|more|watch|listen)\s*:\s*\S"
)
_TEASER_MAX = 250
# longer footers: a strong phrase, below a length cap, so prose that mentions comments stays
_FOOTER = re.compile(
    _alternatives(
        r"^dear readers\b.*\b(?:comment|register|feedback|subscri)",
        r"\b(?:commenting|comment|community) (?:policy|guidelines)\b",
        r"\b(?:sign up (?:for|to)|subscribe to) (?:our|the) [\w ]*newsletters?\b",
        r"\bdelivered (?:straight |directly )?to your inbox\b",
        r"\bby (?:signing up|subscribing),? you agree\b",
        r"\bto leave (?:a )?comments?,? you (?:will )?need to\b",
        r"[\"']as is[\"'] without (?:any )?warranty",
        r"\b(?:do|does) not (?:accept|assume) any (?:responsibility|liability)\b",
        r"^(?:copyright )?(?:\u00a9|\(c\)|copyright) ?\d{4}\b.*\ball rights reserved\b",
        r"^(?:legal )?disclaimer\s*:",
    )
)
_FOOTER_MAX = 700
_TRUNCATED = re.compile(r"(?:\u2026|\.\.\.)\s*$")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATELINE = re.compile(
    r"^(?:(?:published|updated|posted|last updated|modified)\s*(?:on|at)?\s*:?\s*)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s*)?"
    + _alternatives(
        rf"\d{{1,2}}\s*{_MONTH},?\s*\d{{4}}",
        rf"{_MONTH}\s*\d{{1,2}},?\s*\d{{4}}",
        r"\d{4}-\d{2}-\d{2}",
        r"\d{1,2}[./]\d{1,2}[./]\d{2,4}",
    )
    + r"(?:[\s,|/-]*(?:at\s*)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[a-z]{2,4})?)?\s*$"
)
_LEAD_ZONE = 4  # title copies / datelines count as "at the start" within this many paragraphs


def is_icon_label_line(line: str) -> bool:
    """A line made mostly of icon-font class names ("icon bookmark-bicon cameraicon ...")."""
    tokens = line.split()
    iconish = sum(1 for t in tokens if _ICON_TOKEN.search(t))
    return bool(tokens) and iconish / len(tokens) >= 0.5 and (len(tokens) >= 3 or "-" in line)


def is_player_line(line: str) -> bool:
    """Audio/video player text: timecodes, controls, or a bare "Podcasts"/"Listen" label."""
    form = _label_form(line)
    if _PLAYER_LABEL.match(form):
        return True
    tokens = form.split()
    return any(_TIMECODE.match(t) for t in tokens) and all(
        _TIMECODE.match(t) or t in _PLAYER_WORDS for t in tokens
    )


def is_boilerplate_line(line: str) -> bool:
    """Template text: labels, newsletter/comment-policy footers, legal boxes, "Read more:" links."""
    form = _label_form(line)
    return (
        (len(form) <= 60 and bool(_LABEL.match(form)))
        or (len(form) <= _TEASER_MAX and bool(_TEASER_PREFIX.match(form)))
        or (len(form) <= _FOOTER_MAX and bool(_FOOTER.search(form)))
    )


def is_dateline(line: str) -> bool:
    """A line that is only a publication date/time ("16 Mar, 2025 13:33")."""
    return len(line) <= 80 and bool(_DATELINE.match(_label_form(line)))


def _is_teaser(line: str) -> bool:
    # a teaser link: short, and cut with an ellipsis or a headline without a full stop
    return len(line) <= _TEASER_MAX and (
        bool(_TRUNCATED.search(line)) or line.translate(_QUOTES)[-1:] not in ".!?\"')\u00bb"
    )


def drop_boilerplate(paragraphs: Sequence[str]) -> list[str]:
    """Drop icon/player/label/footer lines, teaser links after a block heading
    ("Related", "EDITOR'S PICKS"), a trailing run of "…" teasers, and datelines at the start."""
    out: list[str] = []
    in_block = False
    for i, para in enumerate(paragraphs):
        if _BLOCK_HEADING.match(_label_form(para)):
            in_block = True
            continue
        if in_block and _is_teaser(para):
            continue
        in_block = False
        if _TIMECODE.match(para):  # a live blog's "10:32" stays, a player's "0:00 28:37" goes
            if any(is_player_line(p) for p in paragraphs[max(i - 1, 0) : i + 2 : 2]):
                continue
        elif (
            is_icon_label_line(para)
            or is_player_line(para)
            or is_boilerplate_line(para)
            or (i < _LEAD_ZONE and is_dateline(para))
        ):
            continue
        out.append(para)
    tail = len(out)  # two or more "…"-truncated lines at the very end are teaser links
    while tail > 0 and len(out[tail - 1]) <= _TEASER_MAX and _TRUNCATED.search(out[tail - 1]):
        tail -= 1
    return out[:tail] if len(out) - tail >= 2 else out


_TITLE_SEPARATOR = re.compile("\\s+[|\u2013\u2014:\u00b7\u2022-]\\s+")


def strip_title_copies(paragraphs: Sequence[str], title: str) -> tuple[str, list[str]]:
    """Drop title copies among the first paragraphs (later lines quoting it stay); for a
    "Headline | Site" title, a bare headline opening the body becomes the title."""
    key = match_key(title)
    bare = {key}
    parts = _TITLE_SEPARATOR.split(title)
    if len(parts) > 1:
        bare.update(
            match_key(p) for p in (parts[0], " ".join(parts[:-1]), parts[-1]) if len(p) >= 15
        )
    out: list[str] = []
    for i, para in enumerate(paragraphs):
        pkey = match_key(para)
        if key and i < _LEAD_ZONE and pkey in bare:
            if pkey != key and not out:
                title = para  # the page's own headline, without the site name
            continue
        out.append(para)
    return title, out


# ----------------------------------------------------------- tree-level rules
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TAXONOMY_CLASS = re.compile(r"(?:^|\s)(?:tag|category|topic|term)-\S*")  # "tag-sharing": a tag


def _attr_pattern(*words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|[\s_-]){_alternatives(*words)}(?:$|[\s_-])")


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
    f".//text()[string-length(.) >= {_PROSE_RUN}][not(parent::script or parent::style)]"
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


def dedupe_paragraphs(paragraphs: Sequence[str]) -> list[str]:
    """Each paragraph once: a template that prints the body twice (a print or AMP copy, an
    app-state block rendered as text) or a repeated pull quote keeps its first printing. Short
    lines (a subheading, "Advertisement") are left to the other rules: they may recur."""
    seen: set[str] = set()
    out = []
    for para in paragraphs:
        key = match_key(para)
        if len(key) >= _REPEAT_MIN and key in seen:
            continue
        seen.add(key)
        out.append(para)
    return out


def with_lead(
    paragraphs: Sequence[str], candidates: Sequence[str], page_text: str, title: str
) -> list[str]:
    """The page's own lead first, when the page prints it between the headline and the body
    and extraction left it out. `candidates`: what the page marks as its summary (its JSON-LD /
    og / meta description, its standfirst, lede, dek, summary or intro block), in that order;
    `page_text`: the page's visible text, compacted as :func:`compact` does."""
    if not paragraphs:
        return list(paragraphs)
    body = compact(" ".join(paragraphs))
    body_at = page_text.find(compact(paragraphs[0])[:80])
    # a blog's tagline or an author box above the headline is not the story's lead
    head_at = page_text.find(compact(title)[:80], 0, max(body_at, 0)) if title else -1
    for lead in candidates:
        key = compact(lead)
        if len(key) < _LEAD_MIN or is_boilerplate_line(lead):
            continue
        if key[:200] in body:
            return list(paragraphs)  # the lead is there already
        at = page_text.find(key[:200])
        if at >= 0 and head_at <= at < body_at:  # under the headline, above the body
            return [normalize_text(lead), *paragraphs]
    return list(paragraphs)


def compact(text: str) -> str:
    """Letters and digits only, case-folded: robust to markup splitting words and blocks."""
    return _NON_WORD.sub("", text.casefold())


_REPEAT_MIN = 80  # a repeat this long (as a comparison key) is a body or quote printed twice
_LEAD_MIN = 60  # a description shorter than this is a tagline, not a lead


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
