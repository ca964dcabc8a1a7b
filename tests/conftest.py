"""Shared fixtures: the crawl tests' mock server, its demo site and one crawl of it by the CLI.

One :class:`testkit.mockserver.MockServer` serves every site the tests crawl (``mockserver``,
for the session); ``demo_site`` is its site "demo", the demo outlets on free loopback ports. The
crawl runs `newsarchiver crawl` in a subprocess, as a user or cron would, against them; several
test modules assert on its archive. The servers of other kinds (Redis, SeaweedFS, pywb,
Chromium) are testkit's fixtures, imported at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.demo import DemoSite, RequestLog
from testkit.mockserver import MockServer

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


REPO = Path(__file__).resolve().parents[1]  # where scrapy.cfg is


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def scrapy(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`scrapy ARGS` run from the repo, as a Scrapy user runs the project."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )  # fmt: skip


@dataclass
class Crawl:
    archive: Path
    config: Path
    result: subprocess.CompletedProcess[str]
    requests: list[RequestLog]  # what the site served during this crawl

    @property
    def summary(self) -> dict[str, Any]:
        (path,) = (self.archive / "runs").glob("*.json")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data


def exported(archive: Path, out: Path) -> Path:
    """`newsarchiver export` of `archive` into the WACZ `out`, as a user would run it."""
    result = cli("export", "--archive", str(archive), "--wacz", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def mockserver() -> Iterator[MockServer]:
    """The session's one mock web server: ask it for a site by name (testkit.mockserver)."""
    with MockServer() as server:
        yield server


@pytest.fixture(scope="session")
def demo_site(mockserver: MockServer) -> DemoSite:
    """The demo outlets (site "demo"): nothing is published on it, it stays as crawled."""
    return mockserver.site("demo")


@pytest.fixture(scope="session")
def demo_crawl(demo_site: DemoSite, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    root = tmp_path_factory.mktemp("demo-crawl")
    config = demo_site.write_config(root / "outlets.yaml")
    archive = root / "archive"
    demo_site.clear_requests()
    result = cli("crawl", "--config", str(config), "--archive", str(archive), *FAST)
    crawl = Crawl(archive, config, result, list(demo_site.requests))
    assert result.returncode == 0, result.stderr[-4000:]
    return crawl


# a real S3-compatible server (SeaweedFS) on loopback for the push tests
# pywb and wacz, in a virtualenv of their own (.venv-replay), for the replay tests
# Debian's Chromium (Playwright), ReplayWeb.page and pywb in it, for the browser replay tests
from testkit.chromium import chromium, pywb_browser  # noqa: E402, F401
from testkit.redis_server import redis_server, redis_server_factory  # noqa: E402, F401
from testkit.replay_tools import replay_tools  # noqa: E402, F401
from testkit.replaywebpage import replaywebpage  # noqa: E402, F401
from testkit.s3_server import s3_server  # noqa: E402, F401
from tests.cluster_workers import start_worker  # noqa: E402, F401
