"""End to end: one crawl of the bundled demo outlets, checked as a user would check the archive."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoArticle, DemoSite
from storage.manifest import Manifest
from tests.conftest import FAST, Crawl, cli

TEXT_NAME = re.compile(r"^(\d{3,})_([0-9a-f]{16})\.txt$")
SIDECAR_KEYS = {
    "url", "final_url", "outlet", "title", "author", "published", "language", "fetched_at",
    "sha256", "warc_file", "warc_record_offset", "http_status", "other_urls", "outlets",
}  # fmt: skip


def texts(crawl: Crawl) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted((crawl.archive / "text").glob("*.txt"))
    }


def sidecars(crawl: Crawl) -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((crawl.archive / "text").glob("*.json"))
    }


def paragraphs(text: str) -> list[str]:
    return text.rstrip("\n").split("\n\n")


def warc_records(crawl: Crawl) -> list[tuple[Any, bytes, str]]:
    out = []
    for path in sorted((crawl.archive / "warc").iterdir()):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                out.append((rec, rec.raw_stream.read(), path.name))
    return out


def archivable(site: DemoSite) -> list[DemoArticle]:
    return [a for a in site.articles if a.archivable]


def test_crawl_exits_0_and_prints_a_summary_per_outlet(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    out = demo_crawl.result.stdout
    for name in demo_site.outlets:
        assert re.search(rf"^{name}\s+\d+", out, re.M), out
    assert re.search(r"^TOTAL\s+\d+", out, re.M)
    summary = demo_crawl.summary
    assert summary["finish_reason"] == "finished"
    errors = [k for k in summary["stats"] if k.endswith("/errors") or k.startswith("log_count/ERR")]
    assert errors == []
    groups = {a.syndicated_group for a in archivable(demo_site) if a.syndicated_group}
    assert summary["totals"]["articles"] == len(archivable(demo_site))
    assert summary["totals"]["archived"] == len(archivable(demo_site)) - len(groups)
    assert summary["totals"]["duplicates"] == len(groups)


def test_every_text_name_verifies_with_sha256_and_numbers_run_from_000(demo_crawl: Crawl) -> None:
    names = sorted((demo_crawl.archive / "text").glob("*.txt"))
    assert names
    for seq, path in enumerate(names):
        match = TEXT_NAME.match(path.name)
        assert match, path.name
        assert int(match.group(1)) == seq
        assert hashlib.sha256(path.read_bytes()).hexdigest().startswith(match.group(2))
    # `sha256sum` agrees, the way a user would check
    out = subprocess.run(["sha256sum", *map(str, names)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    for line in out.splitlines():
        digest, name = line.split(maxsplit=1)
        assert Path(name).name.split("_")[1].removesuffix(".txt") == digest[:16]


def test_every_article_title_and_paragraphs_are_present(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    by_title = {paragraphs(t)[0]: t for t in texts(demo_crawl).values()}
    for article in archivable(demo_site):
        assert article.title in by_title, f"{article.url} not archived"
        text = by_title[article.title]
        assert paragraphs(text)[1:] == list(article.paragraphs), article.url


def test_no_boilerplate_no_repeated_paragraph_no_doubled_title(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    for name, text in texts(demo_crawl).items():
        for junk in demo_site.boilerplate:
            assert junk not in text, f"{junk!r} in {name}"
        paras = paragraphs(text)
        assert len(paras) == len(set(paras)), f"repeated paragraph in {name}"
        assert paras[0] not in paras[1:], f"title repeated in {name}"
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert "\u00ad" not in text and "\u200b" not in text and "\xa0" not in text


def test_syndicated_article_stored_once_with_both_urls(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    groups: dict[str, list[DemoArticle]] = {}
    for a in archivable(demo_site):
        if a.syndicated_group:
            groups.setdefault(a.syndicated_group, []).append(a)
    assert groups
    for members in groups.values():
        matching = [s for s in sidecars(demo_crawl).values() if s["title"] == members[0].title]
        assert len(matching) == 1  # stored once
        sidecar = matching[0]
        assert {sidecar["url"], *sidecar["other_urls"]} == {a.url for a in members}
        rows = Manifest(demo_crawl.archive / "manifest.sqlite").query(
            "SELECT a.url FROM articles a JOIN texts t ON t.id = a.text_id WHERE t.sha256 = ?",
            (sidecar["sha256"],),
        )
        assert {r["url"] for r in rows} == {a.url for a in members}


def syndicated(site: DemoSite) -> list[list[DemoArticle]]:
    groups: dict[str, list[DemoArticle]] = {}
    for a in archivable(site):
        if a.syndicated_group:
            groups.setdefault(a.syndicated_group, []).append(a)
    return list(groups.values())


def test_a_syndicated_story_is_credited_to_every_outlet_first_published_copy_first(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    groups = syndicated(demo_site)
    assert groups and all(len({a.outlet for a in g}) == 2 for g in groups)
    # the demo has one story the wire ran a day before the other outlet, one on the same day
    assert {len({a.published[:10] for a in g}) for g in groups} == {1, 2}
    manifest = Manifest(demo_crawl.archive / "manifest.sqlite")
    for members in groups:
        (sidecar,) = [s for s in sidecars(demo_crawl).values() if s["title"] == members[0].title]
        assert set(sidecar["outlets"]) == {a.outlet for a in members}
        for a in members:
            (copy,) = sidecar["outlets"][a.outlet]
            assert (copy["url"], copy["published"], copy["author"]) == (
                a.url, a.published[:10], a.author,
            )  # fmt: skip
            with (demo_crawl.archive / "warc" / copy["warc_file"]).open("rb") as fh:
                fh.seek(copy["warc_record_offset"])
                rec = next(iter(ArchiveIterator(fh)))
            assert rec.rec_headers.get_header("WARC-Target-URI") == a.url  # its own copy
            assert rec.rec_headers.get_header("WARC-Record-ID") == copy["warc_record_id"]
        # the first published, then the first URL: not whichever the crawl fetched first
        first = min(members, key=lambda a: (a.published[:10], a.url))
        assert (sidecar["url"], sidecar["outlet"]) == (first.url, first.outlet)
        assert next(iter(sidecar["outlets"])) == first.outlet
        (row,) = manifest.query("SELECT url, outlet FROM texts WHERE sha256 = ?",
                                (sidecar["sha256"],))  # fmt: skip
        assert tuple(row) == (first.url, first.outlet)
    manifest.close()


def test_each_outlets_counts_show_every_story_it_published(
    demo_crawl: Crawl, demo_site: DemoSite
) -> None:
    outlets = demo_crawl.summary["outlets"]
    for name in demo_site.outlets:
        mine = [a for a in archivable(demo_site) if a.outlet == name]
        counts = outlets[name]
        # "this outlet published N articles we have": new texts plus those stored already
        assert counts["archived"] + counts["duplicates"] == len(mine), name
        assert counts["syndicated"] == sum(1 for a in mine if a.syndicated_group), name
    assert demo_crawl.summary["totals"]["syndicated"] == sum(len(g) for g in syndicated(demo_site))
    header = next(line for line in demo_crawl.result.stdout.splitlines() if "syndicated" in line)
    assert header.split()[:7] == ["outlet", "discovered", "fetched", "articles", "archived",
                                  "duplicates", "syndicated"]  # fmt: skip


def test_robots_txt_obeyed(demo_crawl: Crawl, demo_site: DemoSite) -> None:
    (draft,) = [a for a in demo_site.articles if not a.archivable]
    path = draft.url.split("/", 3)[3]
    served = [r.path for r in demo_crawl.requests if r.outlet == draft.outlet]
    assert "/robots.txt" in served
    assert f"/{path}" not in served  # never requested
    assert all(draft.title not in t for t in texts(demo_crawl).values())
    targets = {
        rec.rec_headers.get_header("WARC-Target-URI") for rec, _, _ in warc_records(demo_crawl)
    }
    assert draft.url not in targets


def test_warcio_check_passes_on_every_warc(demo_crawl: Crawl) -> None:
    files = sorted((demo_crawl.archive / "warc").iterdir())
    assert files and all(f.name.endswith(".warc.gz") for f in files)  # all closed
    warcio = Path(sys.executable).with_name("warcio")
    result = subprocess.run([str(warcio), "check", "-v", *map(str, files)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout


def test_a_request_and_a_response_record_per_exchange(demo_crawl: Crawl) -> None:
    records = warc_records(demo_crawl)
    assert records[0][0].rec_type == "warcinfo"
    # a payload served twice (the outlets' one script) is a revisit the second time
    responses = {r.rec_headers.get_header("WARC-Record-ID"): r for r, _, _ in records
                 if r.rec_type in ("response", "revisit")}  # fmt: skip
    requests = [r for r, _, _ in records if r.rec_type == "request"]
    assert len(requests) == len(responses) == len(demo_crawl.requests)
    # the summary's "WARC: … records" line counts them all but the files' warcinfo
    written = [r for r, _, _ in records if r.rec_type != "warcinfo"]
    assert demo_crawl.summary["totals"]["warc_records"] == len(written)
    for req in requests:
        resp = responses[req.rec_headers.get_header("WARC-Concurrent-To")]
        assert req.rec_headers.get_header("WARC-Target-URI") == resp.rec_headers.get_header(
            "WARC-Target-URI"
        )
    served = Counter(r.status for r in demo_crawl.requests)
    recorded = Counter(int(r.http_headers.get_statuscode()) for r in responses.values())
    assert recorded == served
    assert recorded[301] >= 1 and recorded[404] >= 1  # the redirect and the dead link
    kinds = {
        r.rec_headers.get_header("WARC-Target-URI").rsplit("/", 1)[-1] for r in responses.values()
    }
    assert {
        "robots.txt",
        "sitemap_index.xml",
        "sitemap-news.xml.gz",
        "rss.xml",
        "atom.xml",
    } <= kinds


def test_gzip_response_replays_byte_for_byte(demo_crawl: Crawl, demo_site: DemoSite) -> None:
    (article,) = [a for a in demo_site.articles if "gzip" in a.features]
    request = urllib.request.Request(article.url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["Content-Encoding"] == "gzip"
        on_the_wire = answer.read()
    ((rec, payload, _),) = [
        (r, body, f) for r, body, f in warc_records(demo_crawl)
        if r.rec_type == "response" and r.rec_headers.get_header("WARC-Target-URI") == article.url
    ]  # fmt: skip
    assert rec.http_headers.get_header("Content-Encoding") == "gzip"
    assert payload[-len(on_the_wire) :] == on_the_wire  # after the HTTP headers: the bytes as sent
    assert article.paragraphs[0] in html.unescape(gzip.decompress(on_the_wire).decode("utf-8"))


def test_sidecars_are_complete_and_point_at_their_warc_record(demo_crawl: Crawl) -> None:
    for name, sidecar in sidecars(demo_crawl).items():
        assert set(sidecar) >= SIDECAR_KEYS, name
        assert sidecar["text_file"] == name.replace(".json", ".txt")
        for key in ("url", "final_url", "outlet", "title", "author", "published", "language",
                    "fetched_at", "warc_file"):  # fmt: skip
            assert sidecar[key], f"{key} empty in {name}"
        assert sidecar["http_status"] == 200
        assert (
            sidecar["sha256"]
            == hashlib.sha256(
                (demo_crawl.archive / "text" / sidecar["text_file"]).read_bytes()
            ).hexdigest()
        )
        with (demo_crawl.archive / "warc" / sidecar["warc_file"]).open("rb") as fh:
            fh.seek(sidecar["warc_record_offset"])
            rec = next(iter(ArchiveIterator(fh)))
        assert rec.rec_type == "response"
        assert rec.rec_headers.get_header("WARC-Target-URI") == sidecar["final_url"]


def test_redirected_article_keeps_both_urls(demo_crawl: Crawl, demo_site: DemoSite) -> None:
    (article,) = [a for a in demo_site.articles if "redirect" in a.features]
    (sidecar,) = [s for s in sidecars(demo_crawl).values() if s["title"] == article.title]
    assert (sidecar["url"], sidecar["final_url"]) == (article.old_url, article.url)


@pytest.mark.parametrize("feature", ["sitemap_only", "feed_only", "windows-1251"])
def test_each_discovery_path_and_the_legacy_charset(
    demo_crawl: Crawl, demo_site: DemoSite, feature: str
) -> None:
    wanted = [a for a in demo_site.articles if feature in a.features]
    titles = {s["title"] for s in sidecars(demo_crawl).values()}
    assert wanted and all(a.title in titles for a in wanted)


def test_scrapy_crawl_from_the_repo_root_gives_the_same_texts(
    demo_crawl: Crawl, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run(
        [str(scrapy), "crawl", "outlets", "-a", f"config={demo_crawl.config}",
         "-s", f"ARCHIVE_DIR={archive}", "-s", "DOWNLOAD_DELAY=0",
         "-s", "AUTOTHROTTLE_ENABLED=False"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=180,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    mine = {p.read_bytes() for p in (archive / "text").glob("*.txt")}
    assert mine == {p.read_bytes() for p in (demo_crawl.archive / "text").glob("*.txt")}
    # another crawl, another order of fetches: the same canonical copy of every text
    canonical = {(s["sha256"], s["url"], s["outlet"]) for s in sidecars(demo_crawl).values()}
    again = [json.loads(p.read_text(encoding="utf-8")) for p in (archive / "text").glob("*.json")]
    assert {(s["sha256"], s["url"], s["outlet"]) for s in again} == canonical


def test_newsarchiver_demo_lists_what_it_archived(tmp_path: Path) -> None:
    from tests.conftest import cli

    result = cli("demo", "--archive", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr[-3000:]
    listed = re.findall(r"^(\d{3}_[0-9a-f]{16}\.txt)\s", result.stdout, re.M)
    assert listed == sorted(p.name for p in (tmp_path / "demo" / "text").glob("*.txt"))
    assert len(listed) >= 12


def test_a_writer_behind_pauses_downloads_and_the_crawl_still_gets_everything(
    demo_crawl: Crawl, tmp_path: Path
) -> None:
    # WARC_MAX_PENDING_BYTES=0: every exchange waits for the writer before the next download
    # starts (the most back-pressure there can be); nothing may be lost or left hanging.
    archive = tmp_path / "archive"
    result = cli(
        "crawl", "--config", str(demo_crawl.config), "--archive", str(archive), *FAST,
        "-s", "WARC_MAX_PENDING_BYTES=0", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (archive / "runs").glob("*.json")
    stats = json.loads(path.read_text())["stats"]
    assert stats["warc/backpressure/paused"] >= 1
    mine = {p.read_bytes() for p in (archive / "text").glob("*.txt")}
    assert mine == {p.read_bytes() for p in (demo_crawl.archive / "text").glob("*.txt")}
    theirs = demo_crawl.summary["stats"]
    assert stats["warc/records/response"] == theirs["warc/records/response"]
