"""Replayable archives: the CDXJ index, lookup, WACZ export, re-extraction, and replay in pywb."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoArticle, DemoSite
from storage.index import lookup
from storage.layout import ArchiveLayout
from tests.conftest import Crawl, cli
from tests.helpers import normalised

CLI = [sys.executable, "-m", "crawler.cli"]


def captures(archive: Path) -> dict[str, int]:
    """URL -> number of response and revisit records in the WARC files."""
    out: dict[str, int] = {}
    for warc in sorted((archive / "warc").glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type in ("response", "revisit"):
                    url = rec.rec_headers.get_header("WARC-Target-URI")
                    out[url] = out.get(url, 0) + 1
    return out


def test_the_crawl_leaves_a_sorted_cdxj_index_of_every_capture(demo_crawl: Crawl) -> None:
    index = demo_crawl.archive / "indexes" / "index.cdxj"
    lines = index.read_text().splitlines()
    assert lines == sorted(lines)
    assert len(lines) == sum(captures(demo_crawl.archive).values())
    first = json.loads(lines[0].split(" ", 2)[2])
    assert {"url", "status", "digest", "offset", "length", "filename"} <= set(first)


def test_lookup_lists_every_capture_of_a_url(demo_crawl: Crawl) -> None:
    layout = ArchiveLayout(demo_crawl.archive)
    for url, count in captures(demo_crawl.archive).items():
        found = lookup(layout, url)
        assert len(found) == count, url
        for capture in found:
            warc = demo_crawl.archive / "warc" / capture["filename"]
            with warc.open("rb") as fh:
                fh.seek(int(capture["offset"]))
                assert (
                    next(iter(ArchiveIterator(fh))).rec_headers.get_header("WARC-Target-URI") == url
                )
    url = next(iter(captures(demo_crawl.archive)))
    table = cli("lookup", url, "--archive", str(demo_crawl.archive))
    assert re.search(r"^\d{14}\s+\d{3}\s+response", table.stdout, re.M)
    as_json = json.loads(cli("lookup", url, "--archive", str(demo_crawl.archive), "--json").stdout)
    assert as_json == lookup(layout, url)


def read_wacz(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_wacz_export_has_warcs_index_pages_and_digests(
    demo_crawl: Crawl, demo_site: DemoSite, tmp_path: Path
) -> None:
    out = tmp_path / "all.wacz"
    result = cli("export", "--archive", str(demo_crawl.archive), "--wacz", str(out))
    assert result.returncode == 0, result.stderr
    files = read_wacz(out)
    warcs = sorted(p.name for p in (demo_crawl.archive / "warc").glob("*.warc.gz"))
    assert sorted(n.removeprefix("archive/") for n in files if n.startswith("archive/")) == warcs
    with zipfile.ZipFile(out) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist()
                   if i.filename.startswith("archive/"))  # fmt: skip
    package = json.loads(files["datapackage.json"])
    assert package["wacz_version"] == "1.1.1"
    for resource in package["resources"]:
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[resource["path"]]).hexdigest()
        assert resource["bytes"] == len(files[resource["path"]])
    digest = json.loads(files["datapackage-digest.json"])
    assert digest["hash"] == "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()
    header, *pages = [json.loads(line) for line in files["pages/pages.jsonl"].splitlines()]
    assert header["format"] == "json-pages-1.0"
    by_url = {p["url"]: p for p in pages}
    for article in (a for a in demo_site.articles if a.archivable):
        page = by_url[article.url]
        assert page["title"] == article.title and page["ts"]
        assert all(para in page["text"] for para in article.paragraphs)

    one = tmp_path / "iconnews.wacz"
    cli("export", "--archive", str(demo_crawl.archive), "--wacz", str(one), "--outlet", "iconnews")
    _, *only = [json.loads(line) for line in read_wacz(one)["pages/pages.jsonl"].splitlines()]
    assert {p["url"] for p in only} == {
        a.url for a in demo_site.articles if a.outlet == "iconnews" and a.archivable
    }


def test_exported_wacz_passes_wacz_validate(
    demo_crawl: Crawl, replay_tools: Any, tmp_path: Path
) -> None:
    out = tmp_path / "archive.wacz"
    assert cli("export", "--archive", str(demo_crawl.archive), "--wacz", str(out)).returncode == 0
    result = replay_tools.wacz_validate(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_extract_prints_what_the_pipeline_stores(demo_crawl: Crawl, demo_site: DemoSite,
                                                 tmp_path: Path) -> None:  # fmt: skip
    article = next(a for a in demo_site.articles if a.outlet == "iconnews" and a.archivable)
    with urllib.request.urlopen(article.url) as answer:
        page = tmp_path / "page.html"
        page.write_bytes(answer.read())
    result = cli("extract", str(page), "--url", article.url)
    stored = [p.read_text() for p in (demo_crawl.archive / "text").glob("*.txt")
              if p.read_text().startswith(article.title + "\n")]  # fmt: skip
    assert result.stdout == stored[0]
    piped = subprocess.run([*CLI, "extract", "-", "--url", article.url], input=page.read_bytes(),
                           capture_output=True, check=True)  # fmt: skip
    assert piped.stdout.decode() == stored[0]


def test_reextract_gives_the_same_files_and_a_changed_rule_new_ones(
    demo_crawl: Crawl, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    before = {p.name: p.read_bytes() for p in (archive / "text").iterdir()}
    result = cli("reextract", "--archive", str(archive))
    assert result.returncode == 0 and " 0 changed" in result.stdout, result.stdout
    assert {p.name: p.read_bytes() for p in (archive / "text").iterdir()} == before

    # an outlet rule added since the crawl: drop the standfirst of one outlet
    db = sqlite3.connect(archive / "manifest.sqlite")
    (config,) = db.execute("SELECT config FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    data = json.loads(config)
    for outlet in data["outlets"]:
        if outlet["name"] == "valleydaily":
            outlet["drop"] = ["div.lead"]
    db.execute("UPDATE runs SET config = ?", (json.dumps(data),))
    db.commit()
    result = cli("reextract", "--archive", str(archive))
    changed = int(re.search(r"(\d+) changed", result.stdout).group(1))  # type: ignore[union-attr]
    assert changed >= 1, result.stdout
    after = {p.name for p in (archive / "text").glob("*.txt")}
    assert set(n for n in before if n.endswith(".txt")) < after  # old files kept
    for name in after:
        assert (
            name.split("_")[1][:16]
            == hashlib.sha256((archive / "text" / name).read_bytes()).hexdigest()[:16]
        )
    rows = db.execute(
        "SELECT old.stem, new.stem FROM texts old JOIN texts new ON new.id = old.superseded_by"
    ).fetchall()
    assert rows and len(rows) <= changed
    for old_stem, new_stem in rows:
        assert (archive / "text" / f"{old_stem}.txt").exists()  # kept
        new_text = (archive / "text" / f"{new_stem}.txt").read_text()
        assert new_text != (archive / "text" / f"{old_stem}.txt").read_text()


def body_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read().decode("utf-8", "replace")


@pytest.mark.parametrize("feature", ["plain", "gzip", "redirect"])
def test_pywb_replays_archived_articles(
    demo_crawl: Crawl, demo_site: DemoSite, replay_tools: Any, feature: str
) -> None:
    articles: list[DemoArticle] = [a for a in demo_site.articles if a.archivable]
    if feature == "plain":
        article = next(a for a in articles if not a.features and a.outlet == "iconnews")
    else:
        article = next(a for a in articles if feature in a.features)
    warcs = sorted((demo_crawl.archive / "warc").glob("*.warc.gz"))
    with replay_tools.pywb(warcs) as base:
        url = article.old_url if feature == "redirect" else article.url
        page = normalised(body_of(replay_tools.replay_url(base, url)))
    assert normalised(article.title) in page
    for paragraph in article.paragraphs:
        assert normalised(paragraph) in page


# --- export: bad options, nothing to export ------------------------------------------------------


def export(crawl: Crawl, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("export", "--archive", str(crawl.archive), "--wacz", str(out), *args)


def pages_of(wacz: Path) -> list[dict[str, Any]]:
    _, *pages = [json.loads(line) for line in read_wacz(wacz)["pages/pages.jsonl"].splitlines()]
    return pages


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"],
         "--since: 'last week' is not an ISO 8601 date or date-time; e.g. 2026-03-01 or "),
        (["--since", "2026-13-45"],
         "--since: '2026-13-45' is not an ISO 8601 date or date-time (month must be in 1..12)"),
        (["--outlet", "nosuch"],
         "--outlet: 'nosuch' is not an outlet of the archive {archive} (its outlets: iconnews, "
         "nordpress, valleydaily, wirehub)"),
    ],
)  # fmt: skip
def test_export_with_a_bad_option_is_exit_2_and_writes_nothing(
    demo_crawl: Crawl, tmp_path: Path, args: list[str], message: str
) -> None:
    result = export(demo_crawl, tmp_path / "out.wacz", *args)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("newsarchiver: " + message.format(archive=demo_crawl.archive))
    assert list(tmp_path.iterdir()) == []  # no package, no temporary file


def test_an_export_without_pages_is_exit_6_unless_allowed(
    demo_crawl: Crawl, tmp_path: Path
) -> None:
    out = tmp_path / "out.wacz"
    out.write_bytes(b"last week's package")
    result = export(demo_crawl, out, "--since", "2999-01-01")
    assert result.returncode == 6, result.stderr
    assert result.stderr == (
        f"newsarchiver: no archived article fetched since 2999-01-01T00:00:00Z in "
        f"{demo_crawl.archive}: {out} not written (--allow-empty writes it without pages)\n"
    )
    assert out.read_bytes() == b"last week's package"  # left as it was
    assert sorted(tmp_path.iterdir()) == [out]
    result = export(demo_crawl, out, "--since", "2999-01-01", "--allow-empty")
    assert result.returncode == 0, result.stderr
    assert pages_of(out) == []


def test_export_since_reads_iso_8601_dates_and_offsets(demo_crawl: Crawl, tmp_path: Path) -> None:
    db = sqlite3.connect(demo_crawl.archive / "manifest.sqlite")
    fetched = sorted(row[0] for row in db.execute(
        "SELECT a.fetched_at FROM articles a JOIN texts t ON t.id = a.text_id"
        " WHERE t.state = 'stored'"))  # fmt: skip
    newest = datetime.strptime(fetched[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    # the newest page's second in UTC, without an offset (UTC too) and at +02:00, which a
    # comparison as text would put two hours after every page
    for n, since in enumerate(
        [fetched[-1], fetched[-1][:-1], newest.astimezone(timezone(timedelta(hours=2))).isoformat()]
    ):
        out = tmp_path / f"since{n}.wacz"
        result = export(demo_crawl, out, "--since", since)
        assert result.returncode == 0, result.stderr
        assert sorted(p["ts"] for p in pages_of(out)) == [f for f in fetched if f == fetched[-1]]
    later = (newest + timedelta(seconds=1)).isoformat()
    assert export(demo_crawl, tmp_path / "later.wacz", "--since", later).returncode == 6
    out = tmp_path / "day.wacz"
    assert export(demo_crawl, out, "--since", fetched[0][:10]).returncode == 0  # from midnight
    assert len(pages_of(out)) == len(fetched)
