"""What a page's bytes are (pipelines.page_bytes): HTML or not, and the charset they fit."""

from __future__ import annotations

import pytest

from pipelines.article import NoArticle, extract_article
from pipelines.page_bytes import choose_charset, page_type

PAGE = (
    "<!DOCTYPE html><html><head><title>Grüße aus Årøsund</title></head><body><article>"
    "<h1>Grüße aus Årøsund</h1>"
    + "<p>Der Fährhafen öffnet wieder; das Café am Kai bleibt geöffnet, sagt Søren.</p>" * 6
    + "</article></body></html>"
)


@pytest.mark.parametrize(
    ("content_type", "body", "html", "detail"),
    [
        ("text/html; charset=utf-8", b"<html><p>hi</p></html>", True, None),
        ("application/pdf", b"%PDF-1.4\n", False, "Content-Type application/pdf, sniffed "
         "application/pdf"),
        (None, b"%PDF-1.4\n", False, "Content-Type missing, sniffed application/pdf"),
        ("text/html", b"\x89PNG\r\n\x1a\n\0\0", False, "Content-Type text/html, sniffed image/png"),
        ("application/octet-stream", b"PK\x03\x04..", False,
         "Content-Type application/octet-stream, sniffed application/zip"),
        ("application/octet-stream", b"  <!doctype html><title>x</title>", True, None),
        ("application/octet-stream", b'{"id": 1}', False,
         "Content-Type application/octet-stream, sniffed application/json"),
        ("application/octet-stream", b"plain words", False,
         "Content-Type application/octet-stream, no HTML markup at the start"),
        ("application/json", b"{}", False, "Content-Type application/json"),
        (None, "<html><p>x</p></html>".encode("utf-16"), True, None),
    ],
)  # fmt: skip
def test_page_type(content_type: str | None, body: bytes, html: bool, detail: str | None) -> None:
    kind = page_type(content_type, body)
    assert kind.html is html
    if detail is not None:
        assert kind.detail == detail


@pytest.mark.parametrize(
    ("content_type", "body", "encoding", "source", "mismatch"),
    [
        # declared UTF-16, no BOM, no NUL byte: cannot be UTF-16; clean UTF-8
        ("text/html; charset=utf-16", PAGE.encode(), "utf-8", "sniffed", True),
        # real UTF-16 without a BOM: its byte order from where the NULs are
        ("text/html; charset=utf-16", PAGE.encode("utf-16-le"), "utf-16-le", "header", False),
        ("text/html; charset=utf-16", PAGE.encode("utf-16-be"), "utf-16-be", "header", False),
        # a BOM wins over the header
        ("text/html; charset=iso-8859-1", b"\xef\xbb\xbf" + PAGE.encode(), "utf-8", "bom", True),
        # bytes that decode cleanly in the declared charset keep it (as browsers do)
        ("text/html; charset=iso-8859-1", PAGE.encode("cp1252"), "cp1252", "header", False),
        # the header does not fit, the <meta> does
        ("text/html; charset=utf-8",
         PAGE.replace("<head>", "<head><meta charset='windows-1252'>").encode("cp1252"),
         "cp1252", "meta", True),
        # a few bad bytes in the declared charset: replaced, not a mismatch
        ("text/html; charset=utf-8", PAGE.encode() + b"\xff", "utf-8", "header", False),
        # an unknown label is no declaration: UTF-8 by default
        ("text/html; charset=x-no-such", PAGE.encode(), "utf-8", "sniffed", False),
        # fits no charset: neither UTF-16 (no NUL) nor UTF-8
        ("text/html; charset=utf-16", PAGE.encode("cp1252"), None, "none", True),
    ],
)  # fmt: skip
def test_choose_charset(
    content_type: str, body: bytes, encoding: str | None, source: str, mismatch: bool
) -> None:
    charset = choose_charset(content_type, body)
    assert (charset.encoding, charset.source, charset.mismatch) == (encoding, source, mismatch)


def test_extraction_decodes_as_the_crawl_chose_or_by_the_same_rules() -> None:
    body = PAGE.encode()
    for encoding in ("utf-8", None):  # from the crawl's item, or chosen again (reextract)
        article = extract_article(body, "https://a.example/x", "text/html; charset=utf-16",
                                  encoding=encoding, min_chars=50)  # fmt: skip
        assert article.title == "Grüße aus Årøsund"
        assert article.paragraphs[0].startswith("Der Fährhafen öffnet wieder")
    with pytest.raises(NoArticle) as err:
        extract_article(PAGE.encode("cp1252"), "https://a.example/x", "text/html; charset=utf-16")
    assert err.value.reason == "charset_mismatch"
    with pytest.raises(NoArticle) as err:
        extract_article(b"%PDF-1.7\n", "https://a.example/x", "application/octet-stream")
    assert (err.value.reason, err.value.detail) == (
        "not_html", "Content-Type application/octet-stream, sniffed application/pdf"
    )  # fmt: skip
