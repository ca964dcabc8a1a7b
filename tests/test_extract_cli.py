"""``newsarchiver extract`` on many saved pages, through the real CLI in a subprocess (issue 15).

A folder of three synthetic news pages: two articles (one gzipped, one naming its canonical
URL) and a short "Page not found" page that has no article text.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli

CANONICAL = "https://news.example.org/2026/03/harbour-bridge-reopens"

# synthetic text: four paragraphs of 40+ words each, per article
HARBOUR = [
    "The harbour bridge reopened to traffic on Tuesday morning after eleven months of repairs, "
    "the city council said, ending a long closure that had forced commuters from the northern "
    "districts onto crowded ferries and a slow detour through the industrial quarter.",
    "Engineers replaced the corroded steel cables that had been found during a routine "
    "inspection last spring, and the deck was resurfaced along its whole length. The council "
    "said the work came in slightly under the budget it had approved in the autumn.",
    "Local traders near the southern ramp welcomed the news, saying that their takings had "
    "fallen by almost a third while the bridge was shut. Several cafés had cut their opening "
    "hours, and one bakery said it had been close to closing its doors for good.",
    "Cyclists will have a separate lane for the first time, a change that campaigners had "
    "sought for more than a decade. The council plans to review traffic on the bridge after "
    "six months and may add a second footpath on the eastern side if needed.",
]
ORCHARD = [
    "Growers in the valley expect a record apple harvest this year after a mild spring and "
    "steady summer rain, the regional growers' association said on Friday, although pickers "
    "remain hard to find and some farms fear part of the crop may be left on the trees.",
    "The association estimates that the harvest will be about fifteen per cent larger than "
    "last year's, which was itself above the average of the past decade. Prices at the "
    "wholesale market have already started to fall in anticipation of the extra supply.",
    "Farm owners said they had raised wages and offered free lodging to attract seasonal "
    "workers, but that many students had taken jobs in the cities instead. One grower said "
    "she had hired her neighbours' children for the weekends to keep up with the picking.",
    "The regional government has promised a small fund to help farms buy picking platforms "
    "and storage crates, and said it would publish a report on seasonal labour before the "
    "end of the year, with proposals for the next season drawn up together with the growers.",
]


def news_page(title: str, paragraphs: list[str], head: str = "") -> str:
    """A news page as outlets serve them: navigation, an article with its h1, a footer."""
    body = "\n".join(f"      <p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | The Example Chronicle</title>
  {head}
</head>
<body>
  <header>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/city">City</a></li>
      <li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li></ul></nav>
  </header>
  <main>
    <article>
      <h1>{title}</h1>
      <p class="byline">By Jane Reporter, <time datetime="2026-03-10">10 March 2026</time></p>
{body}
    </article>
  </main>
  <footer><p>© 2026 The Example Chronicle. All rights reserved.</p>
    <a href="/about">About us</a> <a href="/contact">Contact</a></footer>
</body>
</html>
"""


NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found</title></head>
<body><nav><a href="/">Home</a></nav><main><h1>Page not found</h1>
<p>Sorry, we could not find that page.</p></main><footer>© 2026 The Example Chronicle</footer>
</body></html>
"""


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """``pages/``: a-harbour.html (canonical URL), b-missing.htm (no text), c-orchard.html.gz."""
    folder = tmp_path / "pages"
    folder.mkdir()
    head = f'<link rel="canonical" href="{CANONICAL}">'
    (folder / "a-harbour.html").write_text(
        news_page("Harbour bridge reopens after repairs", HARBOUR, head), encoding="utf-8"
    )
    (folder / "b-missing.htm").write_text(NOT_FOUND, encoding="utf-8")
    orchard = news_page("Valley growers expect record apple harvest", ORCHARD)
    (folder / "c-orchard.html.gz").write_bytes(gzip.compress(orchard.encode("utf-8")))
    (folder / "notes.txt").write_text("not a page", encoding="utf-8")  # not picked up
    return folder


def jsonl(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_jsonl_of_a_folder(pages: Path) -> None:
    rows = jsonl(cli("extract", str(pages), "--jsonl", timeout=120))
    assert [r["file"] for r in rows] == [
        str(pages / "a-harbour.html"),
        str(pages / "b-missing.htm"),
        str(pages / "c-orchard.html.gz"),
    ]
    for row in rows:
        assert set(row) == {"file", "url", "title", "text", "published", "language", "error"}
    harbour, missing, orchard = rows

    assert harbour["url"] == CANONICAL  # the page's own <link rel=canonical>
    assert harbour["title"] == "Harbour bridge reopens after repairs"
    assert harbour["text"] == "\n\n".join(HARBOUR)  # the body only, no title line
    assert (harbour["published"], harbour["language"]) == ("2026-03-10", "en")
    assert harbour["error"] is None

    assert missing["error"] == "error_page"
    assert missing["title"] is None and missing["text"] is None
    assert missing["url"] == (pages / "b-missing.htm").resolve().as_uri()

    assert orchard["url"] == (pages / "c-orchard.html.gz").resolve().as_uri()  # gunzipped
    assert orchard["title"] == "Valley growers expect record apple harvest"
    assert orchard["text"] == "\n\n".join(ORCHARD)
    assert orchard["error"] is None


def test_plain_text_of_several_files(pages: Path) -> None:
    a, b, c = (str(pages / n) for n in ("a-harbour.html", "b-missing.htm", "c-orchard.html.gz"))
    result = cli("extract", a, b, c, timeout=120)
    assert result.returncode == 1  # one page had no text
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"newsarchiver: {b}: no article text (error_page: ")
    harbour = "Harbour bridge reopens after repairs\n\n" + "\n\n".join(HARBOUR) + "\n"
    orchard = "Valley growers expect record apple harvest\n\n" + "\n\n".join(ORCHARD) + "\n"
    assert result.stdout == f"==> {a} <==\n{harbour}\n==> {c} <==\n{orchard}"

    # a folder gets the headers too, even of a single page; no page without text: exit 0
    (pages / "b-missing.htm").unlink()
    (pages / "c-orchard.html.gz").unlink()
    result = cli("extract", str(pages), timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"==> {a} <==\n{harbour}"


def test_one_file_and_stdin_print_as_before(pages: Path) -> None:
    harbour = "Harbour bridge reopens after repairs\n\n" + "\n\n".join(HARBOUR) + "\n"
    page = pages / "a-harbour.html"
    result = cli("extract", str(page), timeout=120)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", harbour)

    with page.open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "extract", "-", "--url", CANONICAL],
            stdin=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert (result.returncode, result.stderr, result.stdout) == (0, "", harbour)

    result = cli("extract", str(pages / "b-missing.htm"), timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("newsarchiver: no article text (error_page")


def test_url_with_several_files_is_a_usage_error(pages: Path) -> None:
    for files in ([str(pages / "a-harbour.html"), str(pages / "b-missing.htm")], [str(pages)]):
        result = cli("extract", *files, "--url", CANONICAL, timeout=120)
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("newsarchiver: extract: --url "), lines


@pytest.mark.parametrize(
    ("head", "url"),
    [
        (f'<link rel="Canonical" href=" {CANONICAL} "><meta property="og:url" content="x">',
         CANONICAL),
        (f'<link rel="canonical" href="/relative"><meta property="og:url" content="{CANONICAL}">',
         CANONICAL),  # a relative canonical says too little without the page's URL
        ('<meta property="og:url" content="javascript:alert(1)">', None),
        ("", None),
    ],
)  # fmt: skip
def test_the_url_a_page_names(head: str, url: str | None) -> None:
    from crawler.cli.archive_commands import page_url

    page = news_page("Harbour bridge reopens after repairs", HARBOUR, head)
    assert page_url(page.encode("utf-8")) == url
    # only the head counts: a link in the body is some other page's
    body_link = page.replace("<main>", f'<main><link rel="canonical" href="{CANONICAL}x">')
    assert page_url(body_link.encode("utf-8")) == url


def test_an_extractor_crash_is_one_pages_error_in_a_batch(
    pages: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process (the extractor patched): a batch goes on past a page the extractor raises on;
    one page alone still shows the traceback a developer wants."""
    from crawler.cli import archive_commands
    from crawler.cli.main import main

    real = archive_commands.extract_article

    def fragile(body: bytes, url: str, content_type: str | None = None) -> object:
        if b"Harbour" in body:
            raise TypeError("odd page")
        return real(body, url, content_type)

    monkeypatch.setattr(archive_commands, "extract_article", fragile)
    assert main(["extract", str(pages), "--jsonl"]) == 0
    errors = [json.loads(line)["error"] for line in capsys.readouterr().out.splitlines()]
    assert errors == ["extraction_failed", "error_page", None]
    assert main(["extract", str(pages)]) == 1
    assert "extraction_failed: TypeError('odd page')" in capsys.readouterr().err
    # one page alone: the traceback (masked, as every crash's), exit 1
    assert main(["extract", str(pages / "a-harbour.html")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "TypeError: odd page" in err
