"""Secrets never written: real commands given secrets every way, then every byte they wrote grepped.

The demo outlets (served on loopback by this process) are crawled
- by ``newsarchiver crawl --redis redis://:PW@…`` (the password in the user info) on a
  password-protected redis-server, pushing to a ``file://`` store when it ends;
- by ``newsarchiver retry`` and ``newsarchiver status`` on that archive;
- by ``scrapy crawl outlets -s CLUSTER_ENABLED=1 -s REDIS_URL=redis://…/0?password=PW`` (the
  password in the query) on a second such server, with a feed ``-o file:///…?token=…``;
each with an AWS secret in the environment, another given by ``-s AWS_SECRET_ACCESS_KEY=…``, a
``-s NEWSFEED_SECRET=…`` of the project's own naming, and a token read through
``-s API_TOKEN_ENV=VAR``, at ``LOG_LEVEL=DEBUG``. The lock file is read while each crawl runs.
Then each secret is looked for in stdout and stderr, in the lock file's every content, and in
every file of the archives and the push target: gzip files (the WARCs) decompressed, SQLite
files (and their WAL) as bytes. None may be found. The unit tests are tests/test_redaction.py.
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crawler.demo import DemoSite
from testkit.redis_server import RedisServer
from tests.conftest import FAST, REPO

# distinctive fake values, none a substring of another
ENV_AWS_SECRET = "envAwsSecret-7f3c91d2e5"
ENV_AWS_KEY_ID = "AKIAENVFAKE7Q2W9XZ"
CMDLINE_AWS_SECRET = "cmdlineAwsSecret-51ab4c"
NAMED_SECRET = "namedNewsfeedSecret-9e8d07"
ENV_NAMED_TOKEN = "envNamedApiToken-33cd6a"
REDIS_USERINFO_PW = "redisUserinfoPw-a1b2c3"
REDIS_QUERY_PW = "redisQueryPw-d4e5f6"
FEED_TOKEN = "feedUriToken-0b9a8c"  # Scrapy logs a feed's URI in free text: masked by value
SECRETS = (ENV_AWS_SECRET, ENV_AWS_KEY_ID, CMDLINE_AWS_SECRET, NAMED_SECRET, ENV_NAMED_TOKEN,
           REDIS_USERINFO_PW, REDIS_QUERY_PW, FEED_TOKEN)  # fmt: skip

SECRET_SETTINGS = [
    "-s", f"AWS_SECRET_ACCESS_KEY={CMDLINE_AWS_SECRET}",
    "-s", f"NEWSFEED_SECRET={NAMED_SECRET}",
    "-s", "API_TOKEN_ENV=NEWSARCHIVER_TEST_API_TOKEN",
    "-s", "LOG_LEVEL=DEBUG",
]  # fmt: skip


@dataclass
class Run:
    """One command, its output, and what its lock file said while it ran."""

    name: str
    returncode: int
    stdout: str
    stderr: str
    lock_texts: set[str] = field(default_factory=set)
    lock_modes: set[int] = field(default_factory=set)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SECRET_ACCESS_KEY=ENV_AWS_SECRET,
        AWS_ACCESS_KEY_ID=ENV_AWS_KEY_ID,
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",  # no real credentials of the machine's
        AWS_CONFIG_FILE="/nonexistent",
        NEWSARCHIVER_TEST_API_TOKEN=ENV_NAMED_TOKEN,
    )
    return env


def run(name: str, command: list[str], out_dir: Path, archive: Path | None = None) -> Run:
    """Run `command` (output to files: a pipe could fill while the lock is watched), reading
    ARCHIVE/.lock as often as it can while the command runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = out_dir / f"{name}.stdout", out_dir / f"{name}.stderr"
    result = Run(name, -1, "", "")
    lock_path = archive / ".lock" if archive else None
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=environment(), cwd=REPO)
        deadline = time.monotonic() + 300
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"{name} took over 300 s")
            if lock_path is not None:
                try:
                    text = lock_path.read_text(encoding="utf-8", errors="replace")
                    mode = stat.S_IMODE(lock_path.stat().st_mode)
                except FileNotFoundError:
                    pass
                else:
                    if text:
                        result.lock_texts.add(text)
                        result.lock_modes.add(mode)
            time.sleep(0.005)
    result.returncode = proc.returncode
    result.stdout = stdout.read_text(encoding="utf-8", errors="replace")
    result.stderr = stderr.read_text(encoding="utf-8", errors="replace")
    return result


def written(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under `root` as bytes, gzip files (WARCs, pages) decompressed as well."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield path, data
        if data[:2] == b"\x1f\x8b":
            try:
                yield path, gzip.decompress(data)  # every member of a multi-member WARC
            except (OSError, EOFError, zlib.error):
                # a WARC still open: what decompresses
                yield path, zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def found_in(roots: list[Path], runs: list[Run]) -> list[str]:
    """Where each secret was found: '<secret> in <place>', for the assertion's message."""
    found = []
    for root in roots:
        for path, data in written(root):
            found += [f"{s} in {path}" for s in SECRETS if s.encode() in data]
    for r in runs:
        texts = {"stdout": r.stdout, "stderr": r.stderr, "lock file": "\n".join(r.lock_texts)}
        for place, text in texts.items():
            found += [f"{s} in {r.name}'s {place}" for s in SECRETS if s in text]
    return found


@pytest.fixture
def two_redis(redis_server_factory: Callable[..., RedisServer]) -> tuple[RedisServer, ...]:
    return (redis_server_factory(password=REDIS_USERINFO_PW),
            redis_server_factory(password=REDIS_QUERY_PW))  # fmt: skip


def test_no_secret_is_written_anywhere(
    demo_site: DemoSite, two_redis: tuple[RedisServer, RedisServer], tmp_path: Path
) -> None:
    userinfo_redis, query_redis = two_redis
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    cli = [sys.executable, "-m", "crawler.cli"]
    archive, pushed, scrapy_archive = tmp_path / "a", tmp_path / "pushed", tmp_path / "b"
    feeds = tmp_path / "feeds"
    out = tmp_path / "out"
    pushed.mkdir()
    assert REDIS_USERINFO_PW in userinfo_redis.url  # redis://:PW@127.0.0.1:port/0

    crawl = run("crawl", [
        *cli, "crawl", "--config", str(config), "--archive", str(archive),
        "--redis", userinfo_redis.url, "--worker-id", "w1", "--cluster", "secrets-a",
        "--push", pushed.as_uri(), *FAST, *SECRET_SETTINGS,
    ], out, archive)  # fmt: skip
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    retry = run("retry", [*cli, "retry", "--archive", str(archive), "--all", *FAST,
                          *SECRET_SETTINGS], out, archive)  # fmt: skip
    assert retry.returncode == 0, retry.stderr[-3000:]
    status = run("status", [*cli, "status", "--archive", str(archive)], out)
    assert status.returncode == 0, status.stderr[-3000:]

    query_url = f"redis://127.0.0.1:{query_redis.port}/0?password={REDIS_QUERY_PW}"
    scrapy_crawl = run("scrapy-crawl", [
        sys.executable, "-m", "scrapy", "crawl", "outlets", "-a", f"config={config}",
        "-s", f"ARCHIVE_DIR={scrapy_archive}", "-s", "CLUSTER_ENABLED=1",
        "-s", f"REDIS_URL={query_url}", "-s", "CLUSTER_NAME=secrets-b", *FAST, *SECRET_SETTINGS,
        "-o", f"{feeds.as_uri()}/items.jsonl?token={FEED_TOKEN}:jsonlines",
    ], out, scrapy_archive)  # fmt: skip
    assert scrapy_crawl.returncode == 0, scrapy_crawl.stderr[-3000:]

    runs = [crawl, retry, status, scrapy_crawl]
    assert found_in([archive, pushed, scrapy_archive, feeds, out], runs) == []

    # the paths the secrets took were taken: each crawl used its Redis and wrote WARCs, retry
    # logged the settings it was given (masked)
    logs = {
        root: "".join(p.read_text(encoding="utf-8") for p in (root / "logs").glob("*.log"))
        for root in (archive, scrapy_archive)
    }
    assert "joined run" in logs[archive] and "at redis://:***@127.0.0.1:" in logs[archive]
    assert "'AWS_SECRET_ACCESS_KEY': '***'" in logs[archive]
    assert "joined run" in logs[scrapy_archive] and "/0?password=*** " in logs[scrapy_archive]
    assert "items.jsonl?token=***" in logs[scrapy_archive]  # "Stored jsonlines feed … in: URI"
    assert (feeds / "items.jsonl").stat().st_size > 0
    assert list(archive.glob("warc/*.warc.gz")) and list(scrapy_archive.glob("warc/*.warc.gz"))
    assert (pushed / "logs").is_dir()  # the run logs went to the store too
    for r, command in ((crawl, "newsarchiver crawl"), (retry, "newsarchiver retry"),
                       (scrapy_crawl, "scrapy crawl")):  # fmt: skip
        assert r.lock_texts, f"{r.name}: the lock file was never seen"
        assert all(f"command={command}\n" in t for t in r.lock_texts), r.lock_texts
        assert r.lock_modes == {0o600}, r.lock_modes
    assert "crawling now: no" in status.stdout
