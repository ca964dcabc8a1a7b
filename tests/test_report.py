"""`newsarchiver report` of a real crawl of the demo, opened in headless Chromium.

The archive is a copy of the session's demo crawl (a 404 among its pages, its texts grouped into
stories as it crawled). What the report shows is checked against the manifest, the run summary
and the text files, each read here by SQL and by hand, not through storage.report_data. Set
NEWSARCHIVER_REPORT_SCREENSHOT=PATH to keep a PNG of the rendered report (docs/report.png).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest

from crawler.outlets import load_config
from testkit.chromium import Chromium
from tests.conftest import Crawl, cli

CHARTS = ("chart-pages", "chart-articles", "chart-failures", "chart-health", "chart-words",
          "chart-warc", "chart-requisites")  # fmt: skip
HTML = ("text/html", "application/xhtml+xml")
TOP_STORIES = 15  # the report lists the largest 15


@pytest.fixture
def archive(demo_crawl: Crawl, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, copy)
    return copy


def story_sizes(archive: Path) -> dict[str, tuple[int, int]]:
    """story -> (texts, outlets), from the crawl's stories index and the manifest, by SQL."""
    db = sqlite3.connect(archive / "manifest.sqlite")
    db.execute("ATTACH DATABASE ? AS s", (str(archive / "stories.sqlite"),))
    rows = db.execute(
        "SELECT st.story_id, COUNT(DISTINCT a.text_id), COUNT(DISTINCT a.outlet) FROM articles a"
        " JOIN s.story_texts st ON st.text_id = a.text_id GROUP BY st.story_id"
    ).fetchall()
    db.close()
    return {story: (texts, outlets) for story, texts, outlets in rows}


def expected(crawl: Crawl, archive: Path) -> dict[str, dict[str, int]]:
    """Per outlet: HTML pages, articles, and failures, from the manifest by SQL."""
    config = load_config(crawl.config)
    db = sqlite3.connect(archive / "manifest.sqlite")
    out: dict[str, dict[str, int]] = {o.name: {"pages": 0, "articles": 0} for o in config.outlets}
    for url, ctype in db.execute(
        "SELECT url, content_type FROM captures WHERE record_type IN ('response', 'revisit')"
    ):
        if ctype and ctype.startswith(HTML):
            owner = next((o.name for o in config.outlets if o.owns(url)), None)
            if owner:
                out[owner]["pages"] += 1
    for outlet, n in db.execute("SELECT outlet, count(*) FROM articles GROUP BY outlet"):
        out[outlet]["articles"] = n
    db.close()
    return out


def cell(page: object, table: str, attr: str, name: str, key: str) -> str:
    text: str = page.locator(f'#{table} tr[data-{attr}="{name}"] td[data-key="{key}"]').inner_text()  # type: ignore[attr-defined]
    return text


def test_report_renders_and_matches_the_manifest(
    demo_crawl: Crawl, archive: Path, chromium: Chromium, tmp_path: Path
) -> None:
    stories = story_sizes(archive)  # the crawl grouped its texts (storage/stories.py)
    ranked = sorted(stories, key=lambda k: (-stories[k][0], -stories[k][1], k))[:TOP_STORIES]
    out = tmp_path / "report.html"
    result = cli("report", "--archive", str(archive), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}")
    want = expected(demo_crawl, archive)
    url = out.as_uri()
    with chromium.context("crawl report") as (page, log):
        page.goto(url)
        for chart in CHARTS:
            box = page.locator(f"svg#{chart}").bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50, chart
        pages_svg = page.locator("svg#chart-pages").text_content() or ""
        for outlet in want:
            assert outlet in pages_svg
        assert "pages" in pages_svg and "12-" in pages_svg  # the y label, an hour's tick label
        assert "http_404" in (page.locator("svg#chart-failures").text_content() or "")
        assert "words" in (page.locator("svg#chart-words").text_content() or "")
        if os.environ.get("NEWSARCHIVER_REPORT_SCREENSHOT"):
            page.screenshot(path=os.environ["NEWSARCHIVER_REPORT_SCREENSHOT"], full_page=True)

        for outlet, figures in want.items():
            assert cell(page, "table-activity", "outlet", outlet, "pages") == str(figures["pages"])
            assert cell(page, "table-activity", "outlet", outlet, "articles") == str(
                figures["articles"]
            )
            assert cell(page, "table-health", "outlet", outlet, "pages") == str(figures["pages"])
        db = sqlite3.connect(archive / "manifest.sqlite")
        reasons = dict(db.execute("SELECT reason, count(*) FROM failure_events GROUP BY 1"))
        assert reasons.get("http_404", 0) >= 1  # the demo's withdrawn wire story
        for reason, n in reasons.items():
            assert cell(page, "table-failures", "reason", reason, "count") == str(n)
        # median words per outlet, by hand from the text files (the body: after the title line)
        for outlet in want:
            counts = [len((archive / "text" / f"{stem}.txt").read_text("utf-8")
                          .partition("\n\n")[2].split())
                      for (stem,) in db.execute("SELECT t.stem FROM articles a JOIN texts t"
                                                " ON t.id = a.text_id WHERE a.outlet = ?",
                                                (outlet,))]  # fmt: skip
            assert float(cell(page, "table-words", "outlet", outlet, "last")) == statistics.median(
                counts
            )
        db.close()
        stats = demo_crawl.summary["stats"]
        run = demo_crawl.summary["run_id"]
        assert cell(page, "table-warc", "run", run, "warc_bytes") == str(stats["warc/bytes"])
        fetched = sum(v for k, v in stats.items() if k.startswith("requisites/fetched/"))
        assert cell(page, "table-warc", "run", run, "requisites") == str(fetched)
        for story in ranked:
            assert cell(page, "table-stories", "story", story, "texts") == str(stories[story][0])
        first_story = page.locator("#table-stories tbody tr").first.get_attribute("data-story")
        assert first_story == ranked[0]  # the largest first
        assert archive.name in page.locator("h1 + p").inner_text()
        assert log.requests == [url]  # nothing but the file itself: no CDN, font or image
        assert not log.errors


def test_report_without_stories_and_since(archive: Path, tmp_path: Path) -> None:
    (archive / "stories.sqlite").unlink()  # an archive made with STORIES_ENABLED=False
    out = tmp_path / "report.html"
    result = cli("report", "--archive", str(archive), "--out", str(out), "--since", "2999-01-01")
    assert result.returncode == 0, result.stderr
    page = out.read_text("utf-8")
    assert "no stories index" in page
    assert "nothing fetched" in page and "since 2999-01-01T00:00:00Z" in page
    assert 'data-key="pages"' not in page  # nothing since then: no outlet rows


def test_report_bad_input_exit_2(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old report")
    bad = cli("report", "--archive", str(archive), "--out", str(out), "--since", "last week")
    assert bad.returncode == 2
    assert (
        bad.stderr.startswith("newsarchiver: --since: 'last week'") and bad.stderr.count("\n") == 1
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    none = cli("report", "--archive", str(empty), "--out", str(out))
    assert none.returncode == 2
    assert (
        none.stderr.startswith("newsarchiver: --archive: no archive at")
        and "manifest" in none.stderr
    )
    assert out.read_text() == "old report"  # left as it was
    assert list(tmp_path.glob(".report.html.*")) == []
