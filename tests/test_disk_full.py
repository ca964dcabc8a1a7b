"""A full disk: one line naming the path and its free space, exit 5, nothing lost, and a clean
resume once space is freed. Runs on a small tmpfs mounted for the test (root only, as CI runs);
a filler file takes all but a chosen amount of its space."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.site_server import SiteServer
from bench.soak import audit, crawl_cmd
from bench.synthetic_site import Site

MB = 1_000_000
SIZE_MB = 24


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def leave_free(disk: Path, megabytes: float) -> Path:
    """Fill `disk` so that about `megabytes` stay free; returns the filler file."""
    import shutil

    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as fh:
        fh.truncate(0)
    subprocess.run(["fallocate", "-l", str(max(0, free - int(megabytes * MB))), str(filler)],
                   check=True)  # fmt: skip
    return filler


@pytest.fixture(scope="module")
def outlet() -> Iterator[tuple[SiteServer, Site]]:
    site = Site(100, seed=3)
    with SiteServer(site) as server:
        yield server, site


def crawl(
    server: SiteServer, work: Path, archive: Path, *settings: str
) -> subprocess.CompletedProcess[str]:
    config = work / "outlets.yaml"
    config.write_text("outlets:\n  - name: synthetic\n"
                      f'    start_urls: ["{server.start_url}"]\n    depth: 2\n')  # fmt: skip
    cmd = crawl_cmd(config, archive)
    # the disk's size was measured for the WARC, texts and manifest: the search index and the
    # stories (derived files, rebuilt by `index --search --stories`) stay off here
    for item in ("SEARCH_INDEX_ENABLED=False", "STORIES_ENABLED=False", *settings):
        cmd += ["-s", item]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def one_line(stderr: str) -> str:
    """The one line the CLI printed for the user (the rest is the crawl's log)."""
    assert "Traceback" not in stderr, stderr[-3000:]
    ours = [line for line in stderr.splitlines() if line.startswith("newsarchiver:")]
    assert len(ours) == 1, stderr[-3000:]
    return ours[0]


def test_a_disk_that_fills_midway_ends_in_one_line_and_exit_5_then_resumes_clean(
    small_disk: Path, outlet: tuple[SiteServer, Site], tmp_path: Path
) -> None:
    server, site = outlet
    archive = small_disk / "archive"
    filler = leave_free(small_disk, 2.5)  # about a third of the outlet's WARC
    full = crawl(server, tmp_path, archive, "ARCHIVE_MIN_FREE_MB=0")
    assert full.returncode == 5, full.stdout + full.stderr[-3000:]
    line = one_line(full.stderr)
    assert str(archive) in line and "MB free" in line
    # not a traceback per record: the log handler, the writers and the summary each say it once
    loud = [ln for ln in full.stderr.splitlines() if " ERROR: " in ln or " CRITICAL: " in ln]
    assert len(loud) < 20, "\n".join(loud)
    assert "(disk_full)" in full.stdout  # the run summary is printed, from memory if need be

    filler.unlink()  # space freed: the next crawl repairs what the full disk left and goes on
    again = crawl(server, tmp_path, archive, "ARCHIVE_MIN_FREE_MB=1")
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    urls = {server.base + site.article_path(i) for i in range(site.pages)}
    result = audit(archive, urls)
    assert result.problems == []
    assert result.archived == result.articles == 100
    assert result.texts_without_record == result.records_without_row == 0
    assert result.open_left == 0 and result.runs_running == 0


def test_a_crawl_refuses_to_start_below_the_free_space_floor(
    small_disk: Path, outlet: tuple[SiteServer, Site], tmp_path: Path
) -> None:
    server, _ = outlet
    archive = small_disk / "archive"
    leave_free(small_disk, 1)
    done = crawl(server, tmp_path, archive, "ARCHIVE_MIN_FREE_MB=5")
    assert done.returncode == 5
    line = one_line(done.stderr)
    assert str(archive.parent) in line and "below the floor of 5 MB" in line
    assert done.stdout == ""
    assert not archive.exists()  # not even the lock file: nothing was written


def test_the_floor_stops_a_crawl_cleanly_with_room_for_its_summary(
    small_disk: Path, outlet: tuple[SiteServer, Site], tmp_path: Path
) -> None:
    server, site = outlet
    archive = small_disk / "archive"
    leave_free(small_disk, 6)
    done = crawl(server, tmp_path, archive, "ARCHIVE_MIN_FREE_MB=4")
    assert done.returncode == 5, done.stdout + done.stderr[-3000:]
    assert "below the floor of 4 MB" in one_line(done.stderr)
    (summary_path,) = (archive / "runs").glob("*.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["finish_reason"] == "disk_full"
    assert 0 < summary["totals"]["archived"] < site.pages
    db = sqlite3.connect(archive / "manifest.sqlite")
    assert db.execute("SELECT status FROM runs").fetchall() == [("disk_full",)]
    db.close()
    result = audit(archive, {server.base + site.article_path(i) for i in range(site.pages)})
    assert result.texts_without_record == result.records_without_row == 0
    assert result.open_left == 0 and result.warcio_check_failures == 0
    assert result.texts == summary["totals"]["archived"]
