"""What a page says about itself (pipelines.metadata): structured data first, then markup."""

from __future__ import annotations

from lxml import html as lxml_html

from pipelines.metadata import page_metadata

GRAPH = """<html><head><title>Ferry crossings added | Harbour Times</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
 {"@type": "WebSite", "name": "Harbour Times", "headline": "not this"},
 {"@type": ["NewsArticle"], "headline": "Ferry operators add crossings",
  "author": [{"@type": "Person", "name": "Priya Lane"}, {"name": "Tom Oduya"}],
  "datePublished": "2026-03-10T07:45:00+01:00", "description": "Two more sailings a day.",
  "articleBody": "Ferry operators will add two crossings a day."}]}</script>
<meta property="og:title" content="Ferry crossings added"></head>
<body><h1>Ferry</h1></body></html>"""


def meta_of(markup: str):  # type: ignore[no-untyped-def]
    return page_metadata(lxml_html.document_fromstring(markup))


def test_json_ld_in_a_graph_names_the_article() -> None:
    m = meta_of(GRAPH)
    assert m.headline == "Ferry operators add crossings"
    assert m.author == "Priya Lane, Tom Oduya"
    assert m.published == "2026-03-10"
    assert m.description == "Two more sailings a day."
    assert m.article_body.startswith("Ferry operators will add")
    assert m.is_article and m.page_title == "Ferry crossings added | Harbour Times"


def test_broken_json_ld_falls_back_to_the_meta_tags() -> None:
    m = meta_of("""<html><head><script type="application/ld+json">{"@type": "NewsArticle",
    "headline": "cut off here</script><meta property="og:title" content="Council passes budget">
    <meta property="og:type" content="article"><meta name="author" content="Ana Ruiz">
    <meta property="article:published_time" content="2025-11-02T18:00:00Z"></head>
    <body></body></html>""")
    assert (m.headline, m.author, m.published, m.is_article) == (
        "Council passes budget",
        "Ana Ruiz",
        "2025-11-02",
        True,
    )


def test_a_page_without_structured_data_gives_its_time_element_and_no_author_url() -> None:
    m = meta_of("""<html><head><title>Library opens on Sundays</title>
    <meta name="author" content="https://example.org/staff/7"></head><body><article>
    <time datetime="2024-04-01">1 April</time><p>Text.</p></article></body></html>""")
    assert (m.headline, m.author, m.published, m.is_article) == ("", "", "2024-04-01", False)
    assert m.page_title == "Library opens on Sundays"


def test_an_impossible_date_is_no_date() -> None:
    m = meta_of("""<html><head><meta name="date" content="2024-13-45"></head>
    <body><p>No date here at all.</p></body></html>""")
    assert m.published == ""
