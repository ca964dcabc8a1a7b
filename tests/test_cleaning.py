"""Cleaning rules: synthetic news pages through extract_article, and the pure functions.

All article text here is invented for the tests.
"""
# ruff: noqa: RUF001  (typographic quotes and ellipses are test data)

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from pipelines import cleaning, page_tree
from pipelines.article import ArticleText, extract_article

URL = "https://coastal-herald.example/news/2024/05/03/sea-wall-vote"
TITLE = "Harbour town votes to rebuild sea wall"
STANDFIRST = (
    "Councillors backed a twelve-million-pound plan after two winters of flooding "
    "left the old promenade in ruins."
)
BODY = [
    "The harbour town of Westcombe voted on Tuesday evening to replace its crumbling Victorian "
    "sea wall, ending a debate that has divided residents for the better part of a decade.",
    "Engineers told the council that the existing structure, built in 1887, had lost almost a "
    "third of its mass to erosion since the storms of 2022, and that another severe winter could "
    "breach it entirely.",
    "The new wall will be set four metres further inland and rise nearly a metre higher, "
    "according to plans published by the council's coastal engineering team last month.",
    "Local fishermen, who had opposed earlier proposals, said they were satisfied that the design "
    "keeps the slipway open throughout construction, which is expected to begin next spring.",
    "“We have argued about this wall for ten years, and the sea has not waited for us,” said the "
    "council leader, Margaret Ellery, after the vote.",
]


def page(article: str, *, title: str = TITLE, before: str = "") -> bytes:
    """A realistic outlet template around the given article markup."""
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><title>{title} | Coastal Herald</title>
<meta property="og:title" content="{title}"><meta name="author" content="Tom Reed">
<meta property="article:published_time" content="2024-05-03T18:30:00+01:00"></head>
<body><header class="site-header"><a class="logo" href="/">Coastal Herald</a>
<nav><ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/opinion">Opinion</a></li></ul></nav></header>
{before}<main>{article}</main>
<aside class="sidebar"><h3>Most read</h3><ol><li><a href="/a">Ferry timetable changes</a></li>
<li><a href="/b">New bakery opens on Quay Street</a></li></ol></aside>
<footer class="site-footer"><p>© 2024 Coastal Herald Ltd. All rights reserved.</p>
<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer></body></html>""".encode()


def paras(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


def extract(body: bytes, **kwargs: object) -> ArticleText:
    return extract_article(body, URL, "text/html; charset=utf-8", **kwargs)  # type: ignore[arg-type]


def assert_reader_clean(article: ArticleText, expected: list[str]) -> None:
    """What a reader checks: title on top once, every paragraph present in order, none twice."""
    text = article.render()
    assert text.split("\n", 1)[0] == article.title
    assert article.title not in article.paragraphs[:3]
    assert len(set(article.paragraphs)) == len(article.paragraphs)
    positions = [article.paragraphs.index(p) for p in expected]
    assert positions == sorted(positions)


# ------------------------------------------------------------------ page level
def test_title_printed_twice_is_kept_once_but_later_quote_stays() -> None:
    quote = f"The council's own newsletter later ran the story as “{TITLE}” on its front page."
    html = page(f"""<article><div class="date">16 May, 2024 13:33</div><h1>{TITLE}</h1>
<p class="summary">{STANDFIRST}</p><figure><img src="/w.jpg" alt=""><figcaption>{TITLE}</figcaption>
</figure><p>{TITLE}</p><div class="article__text">{paras(BODY)}<p>{quote}</p></div></article>""")
    article = extract(html)
    assert article.render().startswith(TITLE + "\n\n" + STANDFIRST + "\n\n")
    assert TITLE not in article.paragraphs
    assert "16 May, 2024 13:33" not in article.render()
    assert_reader_clean(article, [STANDFIRST, *BODY, quote])


def test_icon_labels_player_and_comment_policy_are_dropped() -> None:
    html = page(f"""<div class="svg-sprite">icon bookmark-bicon bookmarkicon cameraicon checkicon
chevron downicon chevron lefticon closeicon fbicon mailicon shareicon</div>
<article><h1>{TITLE}</h1><div class="article__text">{paras(BODY)}
<p>Dear readers! Thank you for your engagement with our content. We have switched to a new
commenting system: to leave comments, you will need to register. Please check our commenting
policy</p></div><div class="media-box"><span>Podcasts</span><span>0:00</span><span>28:37</span>
</div><div class="audio"><p>Podcasts</p><p>0:00</p><p>29:08</p></div></article>""")
    article = extract(html)
    text = article.render()
    for defect in ("icon", "Dear readers", "commenting", "Podcasts", "0:00", "28:37"):
        assert defect not in text
    assert list(article.paragraphs) == BODY


def test_disclaimer_and_empty_comments_box_are_dropped() -> None:
    html = page(f"""<article><h1>{TITLE}</h1><div class="story">{paras(BODY)}</div>
<h4>Legal Disclaimer:</h4><p>The publisher provides the information “as is” without warranty of
any kind. We do not accept any responsibility or liability for the accuracy of this article.</p>
<h3>Comments</h3><p>No comment</p><p>Sign up for our newsletter</p></article>""")
    text = extract(html).render()
    for defect in ("Disclaimer", "warranty", "Comments", "No comment", "newsletter"):
        assert defect not in text


def test_editors_picks_and_video_teasers_are_dropped() -> None:
    html = page(f"""<article><h1>{TITLE}</h1><div class="entry-content">{paras(BODY[:2])}
<p><strong>EDITOR’S PICKS</strong></p>{paras(BODY[2:])}<h3>Watch Our Video Of The Week</h3>
<p><a href="/x">Five students of the local college have reportedly been honoured for…</a></p>
<p><a href="/y">Price of heating oil in the region falls again this week as suppliers…</a></p>
<p><a href="/z">Customs officers find contraband hidden in crates at the container port,…</a></p>
</div></article>""")
    article = extract(html)
    text = article.render()
    for defect in ("EDITOR", "Video Of The Week", "…"):
        assert defect not in text
    assert list(article.paragraphs) == BODY


def test_prose_mentioning_comments_and_newsletters_is_kept() -> None:
    prose = [
        "More than three hundred residents left comments on the consultation website, and most of "
        "them asked the council to protect the lifeboat station during the works.",
        "The town's newsletter, which is delivered to every household, will publish a monthly "
        "update on the construction schedule and on any road closures.",
    ]
    article = extract(page(f"<article><h1>{TITLE}</h1>{paras([*BODY, *prose])}</article>"))
    assert_reader_clean(article, [*BODY, *prose])


def test_normalisation_of_invisible_characters() -> None:
    dirty = (
        "The coun\u00adcil\u200b will hold a public\u00a0meeting on\u00a0 Thursday&amp;nbsp;"
        "to explain the timetable\ufeff to residents   of the seafront."
    )
    article = extract(page(f"<article><h1>{TITLE}</h1>{paras([*BODY, dirty])}</article>"))
    assert article.paragraphs[-1] == (
        "The council will hold a public meeting on Thursday to "
        "explain the timetable to residents of the seafront."
    )
    for ch in ("\u00ad", "\u200b", "\u00a0", "\ufeff", "&nbsp;"):
        assert ch not in article.render()


# --------------------------------------------------------- paragraph functions
def test_normalize_text() -> None:
    assert cleaning.normalize_text(" e\u0301te\u0301\u00a0\u00a0x&nbsp;y\u2060 ") == "été x y"
    assert cleaning.normalize_paragraphs(["", " \u200b ", "a"]) == ["a"]


@pytest.mark.parametrize(
    "line",
    [
        "icon bookmark-bicon bookmarkicon cameraicon checkicon chevron downicon",
        "fa-share fa-twitter fa-envelope",
    ],
)
def test_icon_label_lines(line: str) -> None:
    assert cleaning.is_icon_label_line(line)


def test_icon_word_in_prose_is_not_an_icon_line() -> None:
    line = "The lighthouse is an icon of the town and a listed building."
    assert not cleaning.is_icon_label_line(line)


@pytest.mark.parametrize(
    "line", ["Podcasts", "0:00", "28:37", "Podcasts 0:00 28:37", "Play 1:02 / 4:10"]
)
def test_player_lines(line: str) -> None:
    assert cleaning.is_player_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Comments",
        "No comment",
        "3 comments",
        "Leave a comment",
        "Legal Disclaimer:",
        "EDITOR’S PICKS",
        "Read more",
        "Related articles",
        "Recommended for you",
        "Watch our video of the week",
        "Read more: Ferry fares rise again",
        "Sign up for our newsletter and get the tide tables delivered to your inbox.",
        "Dear readers! Please note that to leave comments, you will need to register.",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert cleaning.is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "The minister declined to comment on the leaked report.",
        "Related projects in two neighbouring towns were cancelled last year.",
        "Readers who want to comment can write to the council before the end of June.",
        "The game ended 2:1 after a late goal from the captain.",
    ],
)
def test_prose_is_not_boilerplate(line: str) -> None:
    assert not cleaning.is_boilerplate_line(line)
    assert not cleaning.is_player_line(line)


def test_drop_boilerplate_teaser_block_and_trailing_teasers() -> None:
    kept = ["First real paragraph of the story, long enough to be prose.", "Second real paragraph."]
    lines = [
        "16 Mar, 2025 13:33",
        kept[0],
        "Related",
        "Ferry fares rise again",
        "New bakery opens…",
        kept[1],
        "Storm warning issued for…",
        "Coastal path closed…",
    ]
    assert cleaning.drop_boilerplate(lines) == kept


def test_live_blog_times_stay_player_timecodes_go() -> None:
    live = [
        "Live updates from the council chamber.",
        "10:32",
        "The debate has begun.",
        "10:45",
        "The vote is expected within the hour.",
    ]
    assert cleaning.drop_boilerplate(live) == live
    assert cleaning.drop_boilerplate(["Text.", "Podcasts", "0:00", "28:37", "0:00", "29:8"]) == [
        "Text."
    ]


def test_strip_title_copies() -> None:
    lines = [TITLE, STANDFIRST, TITLE.upper(), *BODY, TITLE]
    title, out = cleaning.strip_title_copies(lines, TITLE)
    assert (title, out) == (TITLE, [STANDFIRST, *BODY, TITLE])
    title, out = cleaning.strip_title_copies([TITLE, *BODY], f"{TITLE} | Coastal Herald")
    assert (title, out) == (TITLE, BODY)


# ------------------------------------------------------------- tree functions
def tree(body: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(
        f"<html><head><title>t</title></head><body>{body}</body></html>"
    )


def test_prune_tree_removes_hidden_and_widgets() -> None:
    root = tree(f"""<div hidden>404 hidden</div><div style="display: none">gone</div>
<div aria-hidden="true">decor</div><div class="share-bar"><a>Share</a></div>
<div class="newsletter-signup">Sign up</div>
<div class="related-links"><a>a</a><a>b</a><a>c</a></div>
<p>Keep <span class="player-name">Anna Berg</span> scored <i class="fa fa-star"></i>.</p>
<div class="video-player"><button>Play</button><span>0:00</span></div>
<div class="article">{paras(BODY)}</div><div class="player-profile">{paras(BODY[:2])}</div>""")
    page_tree.prune_tree(root)
    text = root.text_content()
    for gone in ("404 hidden", "gone", "decor", "Share", "Sign up", "abc", "Play", "0:00"):
        assert gone not in text
    assert root.find(".//div[@class='player-profile']") is not None
    assert "Keep Anna Berg scored ." in " ".join(text.split())
    assert all(p in text for p in BODY)


def test_prune_tree_never_removes_the_article() -> None:
    root = tree(
        f'<div class="post tag-coastal-sharing comments-open">{paras(BODY)}</div>'
        '<div class="comments"><p>First!</p></div>'
    )
    page_tree.prune_tree(root)
    assert all(p in root.text_content() for p in BODY)
    assert "First!" not in root.text_content()


def test_dedupe_keeps_the_first_printing_of_a_body_printed_twice() -> None:
    assert cleaning.dedupe_paragraphs([*BODY, *BODY]) == BODY
    # what it must keep: a short line that recurs (a subheading per section, a speaker label)
    interview = ["Q:", BODY[0], "A:", BODY[1], "Q:", BODY[2], "A:", BODY[3]]
    assert cleaning.dedupe_paragraphs(interview) == interview


def test_the_pages_own_lead_is_put_first_only_between_headline_and_body() -> None:
    title = "Harbour ferry adds two crossings a day"
    page = cleaning.compact(f"Menu {title} {STANDFIRST} {' '.join(BODY)} Footer")
    assert cleaning.with_lead(BODY, [STANDFIRST], page, title) == [STANDFIRST, *BODY]
    # what it must keep out: a description the page prints after the story (a teaser), one it
    # does not print at all, and one the body already has
    after = cleaning.compact(f"{title} {' '.join(BODY)} {STANDFIRST}")
    assert cleaning.with_lead(BODY, [STANDFIRST], after, title) == BODY
    assert cleaning.with_lead(BODY, [STANDFIRST], cleaning.compact(" ".join(BODY)), title) == BODY
    assert cleaning.with_lead([STANDFIRST, *BODY], [STANDFIRST], page, title) == [STANDFIRST, *BODY]


def test_a_line_of_punctuation_is_no_paragraph() -> None:
    assert cleaning.normalize_paragraphs([BODY[0], " , ", "–", BODY[1]]) == BODY[:2]


WIDGET_CLASSES = [
    "sharing",
    "share-bar",
    "shareBar",
    "socials",
    "newsletter-box",
    "comments",
    "commenting",
    "outbrain",
    "taboola",
    "video-player",
    "podcasts",
    "related-links",
    "recommendations",
    "promoted",
    "teasers",
    "editors-picks",
    "editorsPick",
    "read-more",
    "readNext",
    "more-stories",
    "most-popular",
    "trending",
    "also-read",
    "icons",
    "bicon",
    "glyphicon",
    "sprite",
    "fa",
    "fas",
    "bi",
    "material-icons",
]


@pytest.mark.parametrize("cls", WIDGET_CLASSES)
def test_every_widget_class_the_rules_name_is_pruned(cls: str) -> None:
    """Through the whole of prune_tree, its cheap prefilter included: a block of links under
    any class the rules name goes, the article beside it stays."""
    root = tree(
        f'<div class="{cls}"><a href="/a">Ferry timetable changes</a> '
        f'<a href="/b">New bakery opens</a></div><div class="article">{paras(BODY)}</div>'
    )
    page_tree.prune_tree(root)
    text = root.text_content()
    assert "Ferry timetable" not in text and all(p in text for p in BODY)


@pytest.mark.parametrize(
    "cls",
    [
        "standfirst",
        "article-lead",
        "lede",
        "dek",
        "deck",
        "subtitle",
        "sub-title",
        "subHeadline",
        "subhead",
        "summary",
        "intro",
        "introduction",
        "excerpt",
        "strapline",
        "description",
        "teaser",
    ],
)
def test_every_standfirst_class_is_found(cls: str) -> None:
    root = tree(f'<div class="{cls}">{STANDFIRST}</div><div class="article">{paras(BODY)}</div>')
    assert page_tree.find_standfirst_candidates(root) == [STANDFIRST]


def test_a_class_used_for_three_teasers_is_no_standfirst() -> None:
    teasers = "".join(f'<p class="summary">{t}</p>' for t in BODY[:3])
    root = tree(f'<div class="teasers">{teasers}</div><p class="summary">{STANDFIRST}</p>')
    assert page_tree.find_standfirst_candidates(root) == []  # four of one kind: a list
