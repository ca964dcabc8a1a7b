"""Stories on real crawls: the demo outlets with a wire story's syndicated variants published.

One crawl of the demo site (its own DemoSite, the variants and two unrelated stories
published) into an archive, through the CLI as a user runs it; the tests read its stats,
``stories --json``, ``story ID`` and ``index --stories`` as a user would. The incremental test
publishes the agency's updated copy and crawls again into a copy of that archive.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.demo import DemoSite
from crawler.demo.variants import (
    ADDED_PARAGRAPH,
    CORRECTION,
    LOCAL_PARAGRAPH,
    NEW_HEADLINE,
    UNRELATED,
    VARIANTS,
    WIRE,
    WIRE_PARAGRAPHS,
)
from storage.stories import story_ids
from testkit.mockserver import MockServer
from tests.conftest import FAST, cli


@dataclass
class Archive:
    site: DemoSite
    root: Path
    config: Path

    def summary(self) -> dict[str, Any]:
        runs = sorted((self.root / "runs").glob("*.json"))
        return dict(json.loads(runs[-1].read_text(encoding="utf-8")))


def crawl(config: Path, archive: Path) -> None:
    result = cli("crawl", "--config", str(config), "--archive", str(archive), *FAST)
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.fixture(scope="module")
def archive(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("stories")
    site = mockserver.site("stories")
    for story in (*VARIANTS, *UNRELATED):
        site.publish(story)
    config = site.write_config(root / "outlets.yaml")
    crawl(config, root / "archive")
    yield Archive(site, root / "archive", config)


def stories_json(archive: Path) -> list[dict[str, Any]]:
    result = cli("stories", "--archive", str(archive), "--json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def story_of(stories: list[dict[str, Any]], url_end: str) -> dict[str, Any]:
    (story,) = [s for s in stories if any(a["url"].endswith(url_end) for a in s["articles"])]
    return story


def grouping(stories: list[dict[str, Any]]) -> set[frozenset[str]]:
    return {frozenset(a["url"] for a in s["articles"]) for s in stories}


def test_the_crawl_assigns_every_new_text_to_a_story(archive: Archive) -> None:
    stats = archive.summary()["stats"]
    written = stats["text/written"]
    assert stats["stories/assigned"] == written
    assert stats["stories/new"] + stats["stories/joined"] == written
    # the valleydaily and iconnews variants join the wire's story as near-duplicates
    assert stats["stories/near_duplicates"] >= 2
    assert stats.get("stories/errors", 0) == 0
    ids = story_ids(archive.root / "stories.sqlite")
    manifest = sqlite3.connect(archive.root / "manifest.sqlite")
    texts = {r[0] for r in manifest.execute("SELECT id FROM texts WHERE state = 'stored'")}
    manifest.close()
    assert set(ids) == texts


def test_the_variants_form_one_story_and_nothing_unrelated_joins(archive: Archive) -> None:
    stories = stories_json(archive.root)
    story = story_of(stories, WIRE.path)
    urls = {a["url"] for a in story["articles"]}
    variant_urls = {archive.site.outlets[v.outlet] + v.path for v in VARIANTS}
    assert urls == variant_urls  # all four copies, and nothing else
    assert {a["outlet"] for a in story["articles"]} == {v.outlet for v in VARIANTS}
    # the verbatim copy is the wire's own text file, listed for its outlet
    by_outlet = {a["outlet"]: a for a in story["articles"]}
    assert by_outlet["wirehub"]["text_file"] == by_outlet["nordpress"]["text_file"]
    assert len({a["text_file"] for a in story["articles"]}) == 3
    for other in UNRELATED:
        assert len(story_of(stories, other.path)["articles"]) == 1
    # the demo's own stories: the wire copies are one text each, nothing else merged
    for s in stories:
        if s is not story:
            assert len({a["text_file"] for a in s["articles"]}) == 1, s


def test_stories_json_shape(archive: Archive) -> None:
    stories = stories_json(archive.root)
    assert stories and isinstance(stories, list)
    for s in stories:
        assert set(s) == {"id", "title", "first_published", "last_published", "articles"}
        for a in s["articles"]:
            assert set(a) == {"url", "outlet", "title", "published", "text_file"}
            assert (archive.root / a["text_file"]).is_file()
    newest = [s["last_published"] for s in stories]
    assert newest == sorted(newest, reverse=True)
    story = story_of(stories, WIRE.path)
    assert story["title"] == WIRE.title
    assert [a["published"][:10] for a in story["articles"]] == sorted(
        v.published[:10] for v in VARIANTS
    )
    since = cli("stories", "--archive", str(archive.root), "--json", "--since", "2025-03-17")
    kept = json.loads(since.stdout)
    assert story["id"] in {s["id"] for s in kept} and len(kept) < len(stories)
    assert all(s["last_published"] >= "2025-03-17" for s in kept)


def test_story_shows_the_added_paragraph_and_the_new_headline(archive: Archive) -> None:
    story = story_of(stories_json(archive.root), WIRE.path)
    result = cli("story", story["id"], "--archive", str(archive.root))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    sections = out.split("\n\n")
    (added,) = [s for s in sections if ADDED_PARAGRAPH.path in s]
    assert "near-duplicate of" in added
    assert f"+[{' '.join(LOCAL_PARAGRAPH.split()[:8])} …" in added
    assert "headline" not in added
    (headline,) = [s for s in sections if NEW_HEADLINE.path in s]
    assert f"headline: -[{WIRE.title}] +[{NEW_HEADLINE.title}]" in headline
    last = WIRE_PARAGRAPHS[-1].split()
    assert f"-[{' '.join(last[:8])} … {' '.join(last[-4:])}] ({len(last)} words)" in headline
    (same,) = [s for s in sections if "/article/58290/" in s]
    assert "same text as the earliest copy" in same


def test_bad_input_is_one_line_and_exit_2(archive: Archive, tmp_path: Path) -> None:
    for args in (
        ("story", "nosuchstory", "--archive", str(archive.root)),
        ("stories", "--archive", str(archive.root), "--since", "last week"),
        ("stories", "--archive", str(tmp_path)),
    ):
        result = cli(*args)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("newsarchiver: "), result.stderr
    result = cli("crawl", "--config", str(archive.config), "--archive", str(tmp_path / "a"),
                 "-s", "STORIES_NEAR_DUPLICATE_THRESHOLD=0")  # fmt: skip
    assert result.returncode == 2 and "STORIES_NEAR_DUPLICATE_THRESHOLD" in result.stderr


def test_index_stories_rebuilds_the_same_grouping(archive: Archive, tmp_path: Path) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(archive.root, copy)
    before = grouping(stories_json(copy))
    (copy / "stories.sqlite").unlink()
    result = cli("index", "--archive", str(copy), "--stories")
    assert result.returncode == 0, result.stderr
    assert "stories:" in result.stdout
    assert grouping(stories_json(copy)) == before


def test_a_new_variant_joins_the_existing_story_without_a_rebuild(
    archive: Archive, tmp_path: Path
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(archive.root, copy)
    first = story_of(stories_json(copy), WIRE.path)
    signatures = sqlite3.connect(copy / "stories.sqlite")
    (before,) = signatures.execute("SELECT count(*) FROM signatures").fetchone()
    signatures.close()
    archive.site.publish(CORRECTION)  # the last test of the module: the site changes
    crawl(archive.config, copy)
    runs = sorted((copy / "runs").glob("*.json"))
    stats = json.loads(runs[-1].read_text(encoding="utf-8"))["stats"]
    assert stats["stories/assigned"] == stats["text/written"] == 1
    assert stats["stories/joined"] == 1 and stats["stories/near_duplicates"] == 1
    assert "stories/new" not in stats
    story = story_of(stories_json(copy), CORRECTION.path)
    assert story["id"] == first["id"]
    assert len(story["articles"]) == len(first["articles"]) + 1
    signatures = sqlite3.connect(copy / "stories.sqlite")
    (after,) = signatures.execute("SELECT count(*) FROM signatures").fetchone()
    signatures.close()
    assert after == before + 1  # one signature added, none made again
