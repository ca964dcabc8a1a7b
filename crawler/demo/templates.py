"""HTML templates of the demo outlets: one article renderer per outlet look.

Each article template carries the defects a real outlet's markup leaves in naively scraped text
(see /work/shared/seeds/README.md for the kinds, all wording here is our own):

* ``iconfont`` - icon-font labels above the title, the title printed twice, a comment-policy
  footer and a podcast player inside the body;
* ``aggregator`` - a hidden error banner from a broken template, the whole body repeated as a
  print copy, a legal disclaimer box and an empty comments block; non-ASCII text is written as
  numeric character references, as old aggregators do;
* ``regional`` - an "EDITOR'S PICKS" teaser block between two paragraphs, a video-of-the-week
  block and truncated teaser links after the body;
* ``wire`` - clean markup.

Every string of those defect blocks is listed in :data:`BOILERPLATE`: none may survive cleaning.
The chrome they share and the pages that are not articles (hubs, video, 404, 301) are
:mod:`crawler.demo.page_chrome`. Reads no settings.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.demo import assets
from crawler.demo.content import Story
from crawler.demo.page_chrome import (
    VIDEO_CAPTION,
    VIDEO_PATH,
    Page,
    article_meta,
    display_date,
    doc,
    esc,
    jsonld,
    nav,
    page_head,
    paras,
)

ICON_LABELS = (
    "icon-bookmark",
    "bicon-bookmark",
    "icon-camera",
    "icon-share",
    "bicon-print",
    "icon-chevron-down",
    "icon-chevron-up",
    "icon-mail",
    "icon-tags",
    "icon-v-play",
    "icon-fm",
)
COMMENT_POLICY = (
    "Dear readers! We are grateful for the lively debate beneath our stories. Comments have moved "
    "to a new platform, so you will need to sign in again before posting. Questions about "
    "moderation can go to letters@beacon.example, and please read our house rules for comments "
    "before you join in."
)
PODCAST_LABEL = "Podcasts"
PODCAST_DURATION = "24:13"

ERROR_BANNER = (
    "404",
    "Sorry!!",
    "Error! We apologise, but the page you tried to open is not available.",
)
DISCLAIMER_TITLE = "Legal Disclaimer:"
DISCLAIMER_TEXT = (
    "PressWire Hub republishes partner content exactly as supplied and gives no guarantee of its "
    "accuracy, completeness, legality or fitness for any purpose. Complaints about content or "
    "copyright should be addressed to the original provider named above."
)
NO_COMMENT = "No comment"

EDITORS_PICKS = "EDITOR'S PICKS"
PICK_TEASERS = (
    "Council confirms dates for spring pothole blitz on rural…",
    "Kellerby bakery scoops regional award for its sourdough…",
    "Ostry Rovers stun league leaders with a last-minute…",
)
VIDEO_HEADING = "Watch Our Video Of The Week"
MORE_TEASERS = (
    "Missing spaniel found safe after three nights on the moor, owners say she…",
    "Price of heating oil in Eastmoor this week: the average cost per litre…",
    "Police appeal for witnesses after builders' vans targeted in overnight…",
)

# Distinctive pieces of every defect block, each short enough to stay on one line of any
# extraction; the podcast's "0:00" is left out because real timestamps contain it.
BOILERPLATE: tuple[str, ...] = (
    *ICON_LABELS,
    "Dear readers!",
    "house rules for comments",
    "letters@beacon.example",
    PODCAST_LABEL,
    PODCAST_DURATION,
    "Sorry!!",
    "the page you tried to open is not available",
    "Legal Disclaimer",
    "republishes partner content exactly as supplied",
    "should be addressed to the original provider",
    NO_COMMENT,
    EDITORS_PICKS,
    *PICK_TEASERS,
    VIDEO_HEADING,
    VIDEO_CAPTION,
    *MORE_TEASERS,
)


def render_iconfont(story: Story, page: Page) -> str:
    """The Aldercombe Beacon: icon labels, title twice, comment policy, podcast player, and a
    print stylesheet whose URL redirects to itself."""
    head = page_head(
        story.title,
        page,
        og_type="article",
        charset=story.charset,
        extra=(
            *article_meta(story, page, published_meta=True),
            jsonld(story, page, ascii_only=False),
            f'<link rel="stylesheet" media="print" href="{assets.LOOPING_CSS}">',
        ),
    )
    # The icon font failed to load, so each glyph's ligature name is left as visible text.
    icons = "".join(f'<span class="icon {label}">{label}</span>' for label in ICON_LABELS)
    lead, *body = story.paragraphs
    masthead = f'<a class="logo" href="/">{esc(page.site_name)}</a>{nav(page)}'
    when = f'<time datetime="{story.published}">{display_date(story.published)}</time>'
    main = f"""<header class="masthead">{masthead}</header>
<main>
<article class="article">
<div class="article__toolbar">{icons}</div>
<div class="article__date">{when}</div>
<h1 class="article__heading">{esc(story.title)}</h1>
{assets.photo_html(story.path)}
<p class="standfirst">{esc(lead)}</p>
<div class="article__author">By <a rel="author" href="/">{esc(story.author)}</a></div>
<div class="article__body">
<h2 class="article__title-repeat"><strong>{esc(story.title)}</strong></h2>
{paras(body)}
<div class="comment-policy"><p>{esc(COMMENT_POLICY)}</p></div>
<div class="podcast-player"><span class="podcast-player__label">{PODCAST_LABEL}</span>
<span class="podcast-player__time">0:00</span>
<span class="podcast-player__duration">{PODCAST_DURATION}</span>
<audio preload="none"></audio></div>
</div>
</article>
</main>
<footer class="site-footer"><p>Independent news for the Wendle valley since 1888.</p></footer>"""
    return doc(story.lang, head, "beacon article-page", main)


def _ascii_refs(text: str) -> str:
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def render_aggregator(story: Story, page: Page) -> str:
    """PressWire Hub: hidden error banner, body twice, legal disclaimer, "No comment"."""
    # No og:type on this outlet's articles: JSON-LD is its only article signal.
    head = page_head(
        story.title,
        page,
        og_type=None,
        charset=story.charset,
        extra=(
            *article_meta(story, page, published_meta=False),
            jsonld(story, page, ascii_only=True),
            "<style>.print-copy{display:none}@media print{.print-copy{display:block}}</style>",
        ),
    )
    code, title, message = ERROR_BANNER
    lead, *body = story.paragraphs
    copy = f'<p class="summary">{esc(lead)}</p>\n{paras(body)}'
    main = f"""<header class="pwh-header"><a href="/">{esc(page.site_name)}</a>{nav(page)}</header>
<div class="error-banner" hidden><div class="error-banner__code">{code}</div>
<div class="error-banner__title">{title}</div><p>{esc(message)}</p></div>
<div id="content">
<article class="news-item">
<h1 class="news-item__title">{esc(story.title)}</h1>
{assets.photo_html(story.path)}
<div class="news-item__meta"><span class="author">{esc(story.author)}</span>
<time datetime="{story.published}">{display_date(story.published)}</time></div>
<div class="news-body">
{copy}
</div>
<div class="news-body print-copy" aria-hidden="true">
{copy}
</div>
<div class="legal-disclaimer"><strong>{DISCLAIMER_TITLE}</strong><p>{esc(DISCLAIMER_TEXT)}</p></div>
<section class="comments"><h3>Comments</h3><p class="comments__empty">{NO_COMMENT}</p></section>
</article>
</div>"""
    return _ascii_refs(doc(story.lang, head, "pwh", main))


def _teasers(css: str, hrefs: tuple[str, ...], texts: tuple[str, ...]) -> str:
    # Teasers point at pages the crawl reaches anyway, so they never create a discovery path.
    targets = hrefs or ("/",)
    items = "".join(
        f'<li><a href="{esc(targets[i % len(targets)])}">{esc(t)}</a></li>'
        for i, t in enumerate(texts)
    )
    return f'<ul class="{css}">{items}</ul>'


def render_regional(story: Story, page: Page) -> str:
    """Wendle Valley Daily: EDITOR'S PICKS inside the body, video and teasers after it."""
    head = page_head(
        story.title,
        page,
        og_type="article",
        charset=story.charset,
        extra=(
            *article_meta(story, page, published_meta=True),
            jsonld(story, page, ascii_only=False),
        ),
    )
    lead, *body = story.paragraphs
    picks = (
        f'<div class="editors-picks"><h4>{esc(EDITORS_PICKS)}</h4>'
        f"{_teasers('editors-picks__list', page.related, PICK_TEASERS)}</div>"
    )
    cut = min(2, len(body))
    content = "\n".join([paras(body[:cut]), picks, paras(body[cut:])])
    brand = f'<a class="brand" href="/">{esc(page.site_name)}</a>{nav(page)}'
    when = f'<time class="published" datetime="{story.published}">'
    main = f"""<header class="site-header">{brand}</header>
<div class="wrap">
<article class="post">
<header class="entry-header"><h1 class="entry-title">{esc(story.title)}</h1>
{assets.photo_html(story.path)}
<div class="entry-meta">By <span class="author vcard">{esc(story.author)}</span> |
{when}{display_date(story.published)}</time></div></header>
<div class="lead">{esc(lead)}</div>
<div class="entry-content">
{content}
</div>
<section class="video-of-week"><h3>{VIDEO_HEADING}</h3>
<a href="{VIDEO_PATH}">{esc(VIDEO_CAPTION)}</a></section>
{_teasers("more-teasers", page.related, MORE_TEASERS)}
</article>
</div>"""
    return doc(story.lang, head, "valley single-post", main)


def render_wire(story: Story, page: Page) -> str:
    """Northgate Press Agency: clean markup, og:type and published_time only (no JSON-LD), and
    a touch icon its server does not have (a requisite that fails, as many outlets' do)."""
    head = page_head(
        story.title,
        page,
        og_type="article",
        charset=story.charset,
        extra=(
            *article_meta(story, page, published_meta=True),
            f'<link rel="apple-touch-icon" href="{assets.MISSING_ICON}">',
        ),
    )
    lead, *body = story.paragraphs
    main = f"""<header><a href="/">{esc(page.site_name)}</a>{nav(page)}</header>
<main>
<article class="wire-story">
<h1>{esc(story.title)}</h1>
{assets.photo_html(story.path)}
<p class="dateline"><span class="byline">{esc(story.author)}</span>,
<time datetime="{story.published}">{display_date(story.published)}</time></p>
<p class="lede">{esc(lead)}</p>
{paras(body)}
</article>
</main>"""
    return doc(story.lang, head, "npa", main)


ARTICLE_TEMPLATES: dict[str, Callable[[Story, Page], str]] = {
    "iconfont": render_iconfont,
    "aggregator": render_aggregator,
    "regional": render_regional,
    "wire": render_wire,
}
