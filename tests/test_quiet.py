"""``newsarchiver crawl --quiet`` as cron runs it, on the demo outlets; and ``status``'s push line.

A run gone well prints nothing (the first crawl of the demo, and the hourly one after it that finds
only archived articles and 304 hubs); a run with an outlet that saw no article, or too many
failures, prints a short report naming the outlet, the counts and the log file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from crawler.demo import DemoSite
from tests.conftest import FAST, Crawl, cli


def quiet(config: Path, archive: Path, *extra: str) -> tuple[int, str, str]:
    result = cli("crawl", "--quiet", "--config", str(config), "--archive", str(archive),
                 *FAST, *extra)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_a_quiet_crawl_of_the_demo_prints_nothing(demo_site: DemoSite, tmp_path: Path) -> None:
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    archive = tmp_path / "archive"
    code, out, err = quiet(config, archive)
    assert (code, out, err) == (0, "", "")
    (log,) = (archive / "logs").glob("*.log")  # the log went to its file
    assert "archived" in log.read_text(encoding="utf-8") or "written" in log.read_text("utf-8")
    (summary,) = (archive / "runs").glob("*.json")
    assert '"archived": 4' in summary.read_text(encoding="utf-8")


def test_the_hourly_run_after_it_is_quiet_too(demo_crawl: Crawl, tmp_path: Path) -> None:
    """Nothing new: every article is skipped as archived, hubs answer 304: as expected."""
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    code, out, err = quiet(demo_crawl.config, archive)
    assert (code, out, err) == (0, "", "")
    assert len(list((archive / "runs").glob("*.json"))) == 2  # it did run


def test_an_outlet_that_saw_no_article_is_reported(demo_site: DemoSite, tmp_path: Path) -> None:
    base = demo_site.outlets["nordpress"]
    config = tmp_path / "outlets.yaml"
    config.write_text(
        demo_site.config_yaml()
        + f"  - name: gonepress\n    start_urls: ['{base}/gone/home-page-moved']\n",
        encoding="utf-8",
    )
    archive = tmp_path / "archive"
    code, out, err = quiet(config, archive)
    assert code == 0 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("newsarchiver: run ") and lines[0].endswith("needs a look:")
    (gone,) = [line for line in lines if "gonepress" in line]
    assert "no article this run" in gone and "http_404 1" in gone
    assert not any(name in err for name in ("iconnews", "wirehub", "valleydaily", "nordpress:"))
    (log,) = (archive / "logs").glob("*.log")
    assert f"  log: {log}" in lines
    assert any(line.startswith("  run: fetched ") for line in lines)
    assert len(lines) <= 6  # a few lines, not a log


def test_failures_above_the_threshold_are_reported(demo_crawl: Crawl, tmp_path: Path) -> None:
    """The demo's one 404 (nordpress) is news when any failure is (QUIET_FAILURE_MIN=1, ratio 0);
    the second run retries nothing, so this runs on a fresh archive."""
    config = demo_crawl.config
    code, out, err = quiet(config, tmp_path / "archive", "-s", "QUIET_FAILURE_RATIO=0",
                           "-s", "QUIET_FAILURE_MIN=1")  # fmt: skip
    assert code == 0 and out == ""
    (line,) = [line for line in err.splitlines() if "nordpress" in line]
    assert "1 of 15 URL(s) failed" in line and "http_404 1" in line


def test_a_bad_threshold_is_one_line_exit_2(demo_crawl: Crawl, tmp_path: Path) -> None:
    code, out, err = quiet(demo_crawl.config, tmp_path / "a", "-s", "QUIET_FAILURE_RATIO=2")
    assert code == 2 and out == ""
    assert err.startswith("newsarchiver: QUIET_FAILURE_RATIO") and err.count("\n") == 1


def test_status_names_no_backlog_without_a_push(demo_crawl: Crawl, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, archive)
    result = cli("status", "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    assert "not yet pushed" not in result.stdout
    assert "push: none configured" in result.stdout
    # configured: PUSH_TO (as a crawl would push to it), then the backlog is news
    result = cli("status", "--archive", str(archive), "-s", f"PUSH_TO=file://{tmp_path}/store")
    assert result.returncode == 0, result.stderr
    assert f"not yet pushed to file://{tmp_path}/store:" in result.stdout
    # an earlier push is configuration enough: it has a target the archive falls behind
    pushed = cli("push", "--archive", str(archive), "--to", f"file://{tmp_path}/store",
                 "--create-bucket")  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    result = cli("status", "--archive", str(archive))
    (line,) = [line for line in result.stdout.splitlines() if "not yet pushed" in line]
    assert line.startswith(f"not yet pushed to file://{tmp_path}/store: ")
    assert "0 of them WARC" in line and "(last push never)" not in line
