"""`scrapy crawl outlets` as a Scrapy user runs it: feeds with `-o`, the index, the CLI's errors.

One crawl of the bundled demo outlets (the session's demo site) through `scrapy crawl` in a
subprocess from the repo root, writing JSON lines, CSV and XML feeds at once; the items are
checked against the archive they name (text files by their SHA-256, WARC records read back
with warcio). The start-up errors run `scrapy crawl` against a config whose outlet no one
serves: each must end before any request, as one `newsarchiver: …` line and its exit code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from warcio.archiveiterator import ArchiveIterator

from crawler.demo import DemoSite
from pipelines.article import ArticleText
from pipelines.items import ArchivedArticle, ArticleItem
from pipelines.output_item import OutputItemPipeline
from pipelines.run_id import run_id_for
from storage import lock
from storage.index import lookup
from storage.layout import ArchiveLayout
from tests.conftest import FAST, scrapy
from tests.helpers import project_crawler, run_coroutine
from tests.test_bad_input import assert_one_line, outlets_yaml

FIELDS = list(ArchivedArticle.fields)  # in the order feeds write them
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@dataclass
class ScrapyCrawl:
    archive: Path
    feeds: Path
    result: subprocess.CompletedProcess[str]

    @property
    def summary(self) -> dict[str, Any]:
        (path,) = (self.archive / "runs").glob("*.json")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def jsonl(self) -> list[dict[str, Any]]:
        lines = (self.feeds / "items.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def scrapy_crawl(demo_site: DemoSite, tmp_path_factory: pytest.TempPathFactory) -> ScrapyCrawl:
    root = tmp_path_factory.mktemp("scrapy-crawl")
    config = demo_site.write_config(root / "outlets.yaml")
    archive, feeds = root / "archive", root / "feeds"
    result = scrapy(
        "crawl", "outlets", "-a", f"config={config}", "-s", f"ARCHIVE_DIR={archive}", *FAST,
        "-o", str(feeds / "items.jsonl"), "-o", str(feeds / "items.csv"),
        "-o", str(feeds / "items.xml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return ScrapyCrawl(archive, feeds, result)


def archivable(site: DemoSite) -> dict[str, Any]:
    """Final URL -> demo article, for every article a polite crawl archives."""
    return {a.url: a for a in site.articles if a.archivable}


def record_at(archive: Path, warc_file: str, offset: int) -> Any:
    fh = (archive / "warc" / warc_file).open("rb")
    fh.seek(offset)
    record = next(iter(ArchiveIterator(fh)))
    record.raw_stream.read()
    fh.close()
    return record


def test_the_crawl_completes_without_an_error(scrapy_crawl: ScrapyCrawl) -> None:
    err = scrapy_crawl.result.stderr
    assert "Traceback" not in err
    assert not [line for line in err.splitlines() if "] ERROR:" in line]
    summary = scrapy_crawl.summary
    assert summary["finish_reason"] == "finished"
    assert summary["stats"]["output/items"] == summary["stats"]["item_scraped_count"]


def test_scrapy_crawl_leaves_the_cdxj_index_of_every_capture(scrapy_crawl: ScrapyCrawl) -> None:
    index = scrapy_crawl.archive / "indexes" / "index.cdxj"
    lines = index.read_text(encoding="utf-8").splitlines()
    captures = 0
    for warc in (scrapy_crawl.archive / "warc").glob("*.warc.gz"):
        with warc.open("rb") as fh:
            captures += sum(1 for r in ArchiveIterator(fh) if r.rec_type in ("response", "revisit"))
    assert captures and len(lines) == captures and lines == sorted(lines)
    stats = scrapy_crawl.summary["stats"]
    assert stats["index/updated"] == 1 and stats["index/warcs_indexed"] == stats["warc/files"]


def test_jsonl_items_name_the_text_file_and_the_warc_record(
    scrapy_crawl: ScrapyCrawl, demo_site: DemoSite
) -> None:
    items = scrapy_crawl.jsonl()
    expected = archivable(demo_site)
    assert sorted(i["final_url"] for i in items) == sorted(expected)  # every article, once
    groups = {a.syndicated_group for a in expected.values() if a.syndicated_group}
    assert sum(i["duplicate"] for i in items) == len(groups)
    layout = ArchiveLayout(scrapy_crawl.archive)
    for item in items:
        assert list(item) == FIELDS, item  # every field, nothing else, in order
        article = expected[item["final_url"]]
        assert item["url"] in (article.url, article.old_url)
        assert (item["outlet"], item["title"], item["author"]) == (
            article.outlet, article.title, article.author,
        )  # fmt: skip
        assert item["published"] == article.published[:10]
        assert re.fullmatch(r"[a-z]{2}", item["language"])
        text = scrapy_crawl.archive / item["text_file"]
        assert item["text_file"] == f"text/{text.name}"
        assert hashlib.sha256(text.read_bytes()).hexdigest() == item["sha256"]
        assert text.read_text(encoding="utf-8").startswith(article.title + "\n\n")
        record = record_at(scrapy_crawl.archive, item["warc_file"], item["warc_offset"])
        assert record.rec_type == item["warc_record_type"] == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == item["final_url"]
        assert record.rec_headers.get_header("WARC-Record-ID") == item["warc_record_id"]
        assert int(record.http_headers.get_statuscode()) == item["http_status"] == 200
        assert item["content_type"] == record.http_headers.get_header("Content-Type")
        assert item["warc_offset"] in {int(c["offset"]) for c in lookup(layout, item["final_url"])}
        assert ISO_UTC.match(item["fetched_at"])
        assert item["run_id"] == scrapy_crawl.summary["run_id"]


def test_csv_has_a_column_per_field_and_the_same_values(scrapy_crawl: ScrapyCrawl) -> None:
    with (scrapy_crawl.feeds / "items.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == FIELDS
        rows = list(reader)
    items = scrapy_crawl.jsonl()
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert row == {k: str(v) for k, v in item.items()}  # no object reprs, no bytes


def test_xml_has_an_element_per_field_and_the_same_values(scrapy_crawl: ScrapyCrawl) -> None:
    root = ET.parse(scrapy_crawl.feeds / "items.xml").getroot()
    items = scrapy_crawl.jsonl()
    assert len(root) == len(items)
    for element, item in zip(root, items, strict=True):
        assert [(e.tag, e.text) for e in element] == [(k, str(v)) for k, v in item.items()]


# --- start-up errors: newsarchiver crawl's one line and exit code ------------------------------


def scrapy_crawl_of(config: Path | None, archive: Path) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl outlets`, Scrapy's INFO start-up lines left out (-L WARNING)."""
    spider_args = ["-a", f"config={config}"] if config else []
    return scrapy("crawl", "outlets", "-L", "WARNING", *spider_args,
                  "-s", f"ARCHIVE_DIR={archive}", timeout=60)  # fmt: skip


def test_a_busy_archive_is_exit_3_and_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with lock.held(archive / ".lock"):  # as a crawl running in this process would hold it
        result = scrapy_crawl_of(outlets_yaml(tmp_path), archive)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"newsarchiver: the archive {archive} is in use by another crawl "
                           f"(pid {os.getpid()}, started ")  # fmt: skip
    assert sorted(p.name for p in archive.iterdir()) == [".lock"]  # the crawl never started


def test_a_missing_config_file_is_exit_2_and_one_line(tmp_path: Path) -> None:
    config, archive = tmp_path / "nope.yaml", tmp_path / "archive"
    line = assert_one_line(scrapy_crawl_of(config, archive))
    assert line == f"newsarchiver: {config}: cannot read the config file: No such file or directory"
    assert not archive.exists()


def test_no_config_given_is_exit_2_and_one_line(tmp_path: Path) -> None:
    line = assert_one_line(scrapy_crawl_of(None, tmp_path / "archive"))
    assert line == "newsarchiver: no outlet config given: pass -a config=PATH"


def test_a_bad_config_is_exit_2_naming_file_outlet_and_key(tmp_path: Path) -> None:
    config = outlets_yaml(tmp_path, "    start_urls: ['http://127.0.0.1:9/']\n    allow: ['(x']\n")
    line = assert_one_line(scrapy_crawl_of(config, tmp_path / "archive"), str(config),
                           "outlet 'a'", "key 'allow'", "bad regular expression")  # fmt: skip
    assert "'(x'" in line
    assert not (tmp_path / "archive").exists()


# --- the output pipeline alone --------------------------------------------------------------


def article_item(article: ArticleText | None, **extra: Any) -> ArticleItem:
    return ArticleItem(
        url="https://harbour.example/n/1", final_url="https://harbour.example/news/1",
        outlet="harbour", http_status=200, body=b"<html>", content_type="text/html",
        fetched_at="2026-03-02T09:00:00Z", article=article, **extra,
    )  # fmt: skip


def test_without_the_text_store_an_article_leaves_without_text_fields() -> None:
    crawler = project_crawler(TEXT_ENABLED=False, WARC_ENABLED=False)
    pipeline = OutputItemPipeline.from_crawler(crawler)
    article = ArticleText("Ferry resumes", ("The ferry ran again.",), language="en")
    out = run_coroutine(pipeline.process_item(article_item(article)))
    assert isinstance(out, ArchivedArticle)
    assert dict(out) == {
        "url": "https://harbour.example/n/1", "final_url": "https://harbour.example/news/1",
        "canonical_url": "https://harbour.example/n/1", "outlet": "harbour",
        "title": "Ferry resumes", "language": "en", "http_status": 200,
        "content_type": "text/html", "fetched_at": "2026-03-02T09:00:00Z",
        "run_id": run_id_for(crawler),
    }  # fmt: skip
    assert crawler.stats is not None
    assert crawler.stats.get_value("output/items") == 1
    assert crawler.stats.get_value("output/no_warc") == 1


def test_a_page_without_text_is_dropped_not_output() -> None:
    crawler = project_crawler(TEXT_ENABLED=False)
    pipeline = OutputItemPipeline.from_crawler(crawler)
    item = article_item(None, no_article=("too_short", "42 characters"))
    with pytest.raises(DropItem, match=r"no article text in https://harbour.example/news/1 "
                                       r"\(too_short\)"):  # fmt: skip
        run_coroutine(pipeline.process_item(item))
    assert crawler.stats is not None
    assert crawler.stats.get_value("output/dropped/no_article") == 1
    assert crawler.stats.get_value("output/items") is None
