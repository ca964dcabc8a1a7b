"""Paragraph-level cleaning after extraction: pure functions on text, no Scrapy.

Unicode normalisation, text rules for template boilerplate (a safety net behind
:mod:`pipelines.page_tree`), title copies, repeated paragraphs, the page's own lead. Each rule
is meant for any outlet, not one template, and stays only while the ablation of ``make
eval-extraction`` shows it helps (see ``pipelines.article.RULES``). Reads no settings.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence

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


def alternatives(*parts: str) -> str:
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
_BLOCK_HEADING = re.compile(rf"^{alternatives(*_BLOCK_LABELS)}[\s:.!]*$")
_LABEL = re.compile(rf"^{alternatives(*_BLOCK_LABELS, *_OTHER_LABELS)}[\s:.!]*$")
_TEASER_PREFIX = re.compile(  # "Read more: <headline>"
    r"^(?:read more|read also|also read|related|see also|more|watch|listen)\s*:\s*\S"
)
_TEASER_MAX = 250
# longer footers: a strong phrase, below a length cap, so prose that mentions comments stays
_FOOTER = re.compile(
    alternatives(
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
    + alternatives(
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


def word_shingles(words: Sequence[str], k: int) -> frozenset[str]:
    """The runs of `k` consecutive words, each joined by a space (the whole list, if it has
    fewer): the unit in which two texts are compared (a soft-404 against the outlet's probe
    answer, trafilatura's paragraphs against readability's)."""
    if not words:
        return frozenset()
    k = min(k, len(words))
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


def compact(text: str) -> str:
    """Letters and digits only, case-folded: robust to markup splitting words and blocks."""
    return _NON_WORD.sub("", text.casefold())


_REPEAT_MIN = 80  # a repeat this long (as a comparison key) is a body or quote printed twice
_LEAD_MIN = 60  # a description shorter than this is a tagline, not a lead
