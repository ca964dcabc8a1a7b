"""extract_article API: decoding, metadata, drop/keep selectors, NoArticle, pickling.

All article text here is invented for the tests.
"""
# ruff: noqa: RUF001  (Cyrillic test text)

from __future__ import annotations

import pickle

import pytest

from pipelines.article import (
    ArticleText,
    NoArticle,
    extract_article,
)

URL = "https://valley-post.example/2024/09/12/library-reopens"
TITLE = "Valley library reopens after two-year renovation"
BODY = [
    "The central library in Marrow Valley reopened its doors on Saturday morning after a "
    "renovation that took almost two years and cost the town just under four million pounds.",
    "Visitors queued along the high street before the doors opened at nine, and the first "
    "hundred children through the entrance were each given a book token by the head librarian.",
    "The building now has a rooftop reading garden, a recording studio for local musicians and "
    "a repair café that will open every second Sunday of the month.",
    "Opening hours have been extended to eight in the evening on weekdays, which the council "
    "says was the most common request in last year's consultation.",
]
SECOND_STORY = [
    "In other news, the valley's bus operator confirmed that the night service to the station "
    "will be withdrawn in November because too few passengers used it over the summer.",
    "Campaigners said they would petition the county council to restore the route before the "
    "Christmas holidays, when demand is traditionally higher.",
]


def page(article: str, *, head: str = '<meta charset="utf-8">', lang: str = "en") -> str:
    return f"""<!DOCTYPE html><html lang="{lang}"><head>{head}<title>{TITLE} - Valley Post</title>
<meta property="og:title" content="{TITLE}"><meta name="author" content="Priya Lane">
<meta property="article:published_time" content="2024-09-12T08:15:00Z"></head>
<body><header><a href="/">Valley Post</a><nav><a href="/news">News</a> <a href="/arts">Arts</a>
</nav></header><main>{article}</main><footer><p>Valley Post, 4 Mill Lane.</p></footer>
</body></html>"""


def paras(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


STORY = f"<article id='story-main'><h1>{TITLE}</h1><div class='body'>{paras(BODY)}</div></article>"


def test_render_and_metadata() -> None:
    article = extract_article(page(STORY).encode(), URL, "text/html; charset=utf-8")
    assert article.title == TITLE
    assert article.paragraphs == tuple(BODY)
    assert article.render() == TITLE + "\n\n" + "\n\n".join(BODY) + "\n"
    assert article.author == "Priya Lane"
    assert article.published == "2024-09-12"
    assert article.language == "en"


def test_results_and_errors_pickle() -> None:
    article = extract_article(page(STORY).encode(), URL, None)
    assert pickle.loads(pickle.dumps(article)) == article
    err = pickle.loads(pickle.dumps(NoArticle("too_short", "12 < 200 chars")))
    assert (err.reason, err.detail) == ("too_short", "12 < 200 chars")
    assert str(err) == "too_short: 12 < 200 chars"


def test_article_text_accepts_a_list() -> None:
    assert ArticleText(title="t", paragraphs=["a", "b"]).paragraphs == ("a", "b")  # type: ignore[arg-type]


RU_TITLE = "В городском парке открыли новую аллею"
RU_BODY = [
    "В субботу в городском парке открыли новую липовую аллею, которую высадили жители "
    "соседних домов вместе с сотрудниками управления благоустройства.",
    "По словам директора парка, вдоль аллеи поставят скамейки и фонари, а весной появятся "
    "клумбы с многолетними цветами и небольшой фонтан.",
    "Работы финансировались из городского бюджета и пожертвований местных предпринимателей, "
    "собранных во время осенней ярмарки.",
]


@pytest.mark.parametrize(
    "head",
    [
        '<meta charset="windows-1251">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ],
)
def test_charset_declared_only_in_meta(head: str) -> None:
    html = page(f"<article><h1>{RU_TITLE}</h1>{paras(RU_BODY)}</article>", head=head, lang="ru")
    html = html.replace(TITLE, RU_TITLE)
    article = extract_article(html.encode("cp1251"), URL, "text/html")
    assert article.title == RU_TITLE
    assert article.paragraphs == tuple(RU_BODY)
    assert article.language == "ru"


def test_http_charset_wins_over_meta_and_bom_is_used() -> None:
    html = page(
        f"<article><h1>{RU_TITLE}</h1>{paras(RU_BODY)}</article>",
        head='<meta charset="iso-8859-1">',
    ).replace(TITLE, RU_TITLE)
    article = extract_article(html.encode("cp1251"), URL, "text/html; charset=windows-1251")
    assert article.paragraphs == tuple(RU_BODY)
    article = extract_article(b"\xef\xbb\xbf" + html.encode("utf-8"), URL, None)
    assert article.paragraphs == tuple(RU_BODY)


def test_drop_selector_removes_elements_before_extraction() -> None:
    box = (
        "Fact box: the renovation was paid for by the town, the county and a lottery grant "
        "that covered the rooftop garden and the new lifts."
    )
    html = page(
        f"<article><h1>{TITLE}</h1>{paras(BODY[:2])}<div class='factbox'><p>{box}</p></div>"
        f"{paras(BODY[2:])}</article>"
    ).encode()
    assert box in extract_article(html, URL, None).paragraphs
    article = extract_article(html, URL, None, drop=[".factbox", "footer"])
    assert box not in article.paragraphs
    assert article.paragraphs == tuple(BODY)


def test_keep_selector_limits_extraction_but_keeps_page_metadata() -> None:
    html = page(
        f"<article><h1>{TITLE}</h1><div class='body'>{paras(BODY)}</div><div class='more'>"
        f"<h2>Bus route to close</h2>{paras(SECOND_STORY)}</div></article>"
    ).encode()
    assert SECOND_STORY[0] in extract_article(html, URL, None).paragraphs  # one article block
    article = extract_article(html, URL, None, keep=["article .body"])
    assert article.paragraphs == tuple(BODY)
    assert (article.title, article.author, article.published) == (TITLE, "Priya Lane", "2024-09-12")
    # what `keep` names is the article, whatever the extractors would choose
    other = extract_article(html, URL, None, keep=["article .more"])
    assert other.paragraphs == tuple(SECOND_STORY)
    assert other.author == "Priya Lane"


def test_keep_without_match_and_bad_selector() -> None:
    html = page(STORY).encode()
    with pytest.raises(NoArticle) as info:
        extract_article(html, URL, None, keep=[".no-such-thing"])
    assert info.value.reason == "keep_no_match"
    with pytest.raises(ValueError):
        extract_article(html, URL, None, drop=["div[["])


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "text/html", "empty_body"),
        (b"   \n", None, "empty_body"),
        (b"%PDF-1.7 binary", "application/pdf", "not_html"),
        (b'{"title": "x"}', "application/json", "not_html"),
        (b"just some words, no markup at all", "application/octet-stream", "not_html"),
        (b"<html><head><title>x</title></head><body></body></html>", "text/html", "no_text"),
    ],
)
def test_no_article_reasons(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(NoArticle) as info:
        extract_article(body, URL, content_type)
    assert info.value.reason == reason


def test_page_not_found_is_no_article() -> None:
    html = page(
        "<div class='error'><h1>404</h1><h2>Page not found</h2><p>Sorry!! Error! The page "
        "you requested doesn't exist. It may have been moved or removed.</p>"
        "<p><a href='/'>Back to the homepage</a></p></div>"
    )
    html = html.replace(TITLE, "Page not found")
    with pytest.raises(NoArticle) as info:
        extract_article(html.encode(), URL, "text/html")
    assert info.value.reason == "error_page"


def test_too_short() -> None:
    html = page(f"<article><h1>{TITLE}</h1><p>{BODY[0]}</p></article>").encode()
    with pytest.raises(NoArticle) as info:
        extract_article(html, URL, None, min_chars=500)
    assert info.value.reason == "too_short"
    assert extract_article(html, URL, None, min_chars=50).paragraphs == (BODY[0],)


def test_title_never_closed_does_not_swallow_the_page() -> None:
    # a cut end tag: without repair the whole page would be <title> text
    html = (
        f"<html><head><title>{TITLE} - Valley Post</titl\n<meta charset='utf-8'></head>"
        f"<body>{STORY}</body></html>"
    ).encode()
    article = extract_article(html, URL, "text/html")
    assert article.title == TITLE
    assert article.paragraphs == tuple(BODY)


def test_blog_post_title_wins_over_blog_name_and_tagline() -> None:
    post = "Reading garden opens on the library roof"
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Marrow Valley Notebook: {post}</title></head><body>
<div id="header"><h1><a href="/">Marrow Valley Notebook</a></h1>
<p class="description">Notes on the town, its libraries and its gardens, written every week
by a retired librarian who has lived in the valley all her life.</p></div>
<div class="post"><h3 class="post-title">{post}</h3><div class="post-body">{paras(BODY)}</div>
</div></body></html>""".encode()
    article = extract_article(html, URL, "text/html")
    assert article.title == post
    assert article.paragraphs == tuple(BODY)
