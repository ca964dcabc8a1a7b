"""Bad input through the real ``newsarchiver`` command: one ``newsarchiver: …`` line, exit 2.

Issue 14: each of these ended in a traceback, a hang or silence. Every case runs the CLI in a
subprocess (as a user or cron would) against a config whose URLs point at an unused loopback
port: the check must fire before any request, so nothing ever listens there.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from crawler.cli.main import main
from crawler.runner import build_settings
from storage.manifest import Manifest
from storage.object_store import PushError, digest_file
from storage.s3 import store_for
from tests.conftest import cli, scrapy

PASSWORD = "s3cr3t-Pa55"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def outlets_yaml(tmp_path: Path, outlet: str = "", top: str = "") -> Path:
    """A config with one outlet 'a' at an unused loopback port; `outlet` adds lines to it."""
    base = f"http://127.0.0.1:{unused_port()}"
    lines = outlet or f"    start_urls: ['{base}/']\n"
    path = tmp_path / "outlets.yaml"
    path.write_text(f"{top}outlets:\n  - name: a\n{lines}", encoding="utf-8")
    return path


def assert_one_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 2, stderr a single ``newsarchiver: …`` line naming each of `names`."""
    err = result.stderr
    assert result.returncode == 2, err[-3000:]
    assert "Traceback" not in err and "Traceback" not in result.stdout
    lines = err.splitlines()
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith("newsarchiver: ")
    for name in names:
        assert name in lines[0]
    return lines[0]


def crawl(
    tmp_path: Path, config: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    archive = tmp_path / "archive"
    return cli("crawl", "--config", str(config), "--archive", str(archive), *args, timeout=timeout)


# --- the outlet config ----------------------------------------------------------------------


def test_invalid_ipv6_start_url(tmp_path: Path) -> None:
    config = outlets_yaml(tmp_path, "    start_urls: ['http://[::1/']\n")
    line = assert_one_line(crawl(tmp_path, config), str(config), "outlet 'a'", "'start_urls'")
    assert "not a valid URL (Invalid IPv6 URL): 'http://[::1/'" in line
    assert not (tmp_path / "archive").exists()


@pytest.mark.parametrize("key", ["start_urls", "sitemaps", "feeds"])
def test_credentials_in_a_config_url_are_refused_and_never_written(
    tmp_path: Path, key: str
) -> None:
    port = unused_port()
    config = outlets_yaml(tmp_path, f"    {key}: ['http://user:{PASSWORD}@127.0.0.1:{port}/x']\n")
    result = crawl(tmp_path, config)
    line = assert_one_line(result, str(config), "outlet 'a'", f"'{key}'")
    assert "credentials in URLs are not supported (drop the 'user:…@'): " in line
    assert f"'http://user:***@127.0.0.1:{port}/x'" in line
    assert PASSWORD not in result.stdout + result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "outlets.yaml"]
    assert all(PASSWORD.encode() not in p.read_bytes() for p in written)
    assert not (tmp_path / "archive").exists()


def test_a_bad_keep_params_value(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{unused_port()}"
    lines = f"    start_urls: ['{base}/']\n    keep_params: ['icid', 'a&b']\n"
    line = assert_one_line(crawl(tmp_path, outlets_yaml(tmp_path, lines)), "keep_params", "'a&b'")
    assert "not a query parameter name" in line
    assert not (tmp_path / "archive").exists()


def test_a_start_url_longer_than_urllength_limit(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/{'a' * 10_000}"
    config = outlets_yaml(tmp_path, f"    start_urls: ['{url}']\n")
    line = assert_one_line(crawl(tmp_path, config), str(config), "outlet 'a'", "'start_urls'")
    assert f"URL of {len(url)} characters, longer than URLLENGTH_LIMIT (2083)" in line
    assert len(line) < 400
    # the bound is the setting's: raised, the URL is crawled (here: refused, nothing listens)
    raised = crawl(tmp_path, config, "-s", "URLLENGTH_LIMIT=20000", "-s", "RETRY_TIMES=0")
    assert raised.returncode == 0, raised.stderr[-3000:]


@pytest.mark.parametrize("where", ["config", "setting"])
def test_control_characters_in_the_user_agent(tmp_path: Path, where: str) -> None:
    if where == "config":
        config = outlets_yaml(tmp_path, top='user_agent: "a\\r\\nX-Injected: 1"\n')
        result, names = crawl(tmp_path, config), (str(config), "key 'user_agent'")
    else:
        config = outlets_yaml(tmp_path)
        result, names = (
            crawl(tmp_path, config, "-s", "USER_AGENT=a\r\nX-Injected: 1"),
            ("USER_AGENT",),
        )
    line = assert_one_line(result, *names)
    assert "must not contain control characters (it is sent as an HTTP header): '\\r'" in line


# --- settings ----------------------------------------------------------------------------------


def test_zero_concurrency_per_domain_exits_at_once(tmp_path: Path) -> None:
    """It used to hang, SIGTERM included: the subprocess timeout bounds the test."""
    result = crawl(tmp_path, outlets_yaml(tmp_path), "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=0",
                   timeout=30)  # fmt: skip
    line = assert_one_line(result, "CONCURRENT_REQUESTS_PER_DOMAIN")
    assert line == "newsarchiver: CONCURRENT_REQUESTS_PER_DOMAIN must be at least 1, not 0"


def test_zero_concurrency_under_scrapy_crawl_is_the_same_one_line(tmp_path: Path) -> None:
    """`scrapy crawl outlets` checks the settings as `newsarchiver crawl` does (and the
    subprocess timeout bounds the test: it used to hang)."""
    result = scrapy("crawl", "outlets", "-L", "WARNING", "-a", f"config={outlets_yaml(tmp_path)}",
                    "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}",
                    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=0", timeout=30)  # fmt: skip
    line = assert_one_line(result, "CONCURRENT_REQUESTS_PER_DOMAIN")
    assert line == "newsarchiver: CONCURRENT_REQUESTS_PER_DOMAIN must be at least 1, not 0"
    assert not (tmp_path / "archive").exists()  # checked before the archive is made


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("DOWNLOAD_TIMEOUT=-1", "DOWNLOAD_TIMEOUT must be more than 0, not -1"),
        ("CONCURRENT_REQUESTS=-5", "CONCURRENT_REQUESTS must be at least 1, not -5"),
        ("CONCURRENT_REQUESTS=1e8", "CONCURRENT_REQUESTS must be a whole number, not '1e8'"),
        ("CONCURRENT_REQUESTS=100000", "CONCURRENT_REQUESTS must be at most 10000, not 100000"),
    ],
)
def test_out_of_bounds_settings(tmp_path: Path, setting: str, message: str) -> None:
    result = crawl(tmp_path, outlets_yaml(tmp_path), "-s", setting)
    assert assert_one_line(result) == f"newsarchiver: {message}"


# the other bounds, in-process (the subprocess cases above show the CLI path)
MORE_SETTINGS = [
    ("CONCURRENT_ITEMS=0", "CONCURRENT_ITEMS must be at least 1"),
    ("CONCURRENT_REQUESTS_PER_DOMAIN=20000", "CONCURRENT_REQUESTS_PER_DOMAIN must be at most"),
    ("DOWNLOAD_TIMEOUT=0", "DOWNLOAD_TIMEOUT must be more than 0, not 0"),
    ("DOWNLOAD_TIMEOUT=inf", "DOWNLOAD_TIMEOUT must be a finite number, not 'inf'"),
    ("DOWNLOAD_DELAY=-0.5", "DOWNLOAD_DELAY must be at least 0, not -0.5"),
    ("DOWNLOAD_MAXSIZE=-1", "DOWNLOAD_MAXSIZE must be at least 0"),
    ("DOWNLOAD_WARNSIZE=big", "DOWNLOAD_WARNSIZE must be a whole number, not 'big'"),
    ("REDIRECT_MAX_TIMES=-1", "REDIRECT_MAX_TIMES must be at least 0"),
    ("AUTOTHROTTLE_ENABLED=yes", "AUTOTHROTTLE_ENABLED must be True or False"),
    ("AUTOTHROTTLE_START_DELAY=-1", "AUTOTHROTTLE_START_DELAY must be at least 0"),
    ("AUTOTHROTTLE_MAX_DELAY=-1", "AUTOTHROTTLE_MAX_DELAY must be at least 0"),
    ("AUTOTHROTTLE_TARGET_CONCURRENCY=0", "AUTOTHROTTLE_TARGET_CONCURRENCY must be more than 0"),
    ("URLLENGTH_LIMIT=-1", "URLLENGTH_LIMIT must be at least 0"),
    ("LOGSTATS_INTERVAL=0", "LOGSTATS_INTERVAL must be more than 0"),
    ("RETRY_HTTP_CODES=403,99", "RETRY_HTTP_CODES must be a list of HTTP status codes (100 to"),
    ("RETRY_HTTP_CODES=403,x", "RETRY_HTTP_CODES must be a list of HTTP status codes"),
    ('DEFAULT_REQUEST_HEADERS={"X-A": "1\\r\\nX-B: 2"}', "DEFAULT_REQUEST_HEADERS: header values"),
    ("DEFAULT_REQUEST_HEADERS={", "DEFAULT_REQUEST_HEADERS must be JSON here"),
    ("EXTRACT_FUNCTION=crawler.settings.BOT_NAME", "EXTRACT_FUNCTION must name a function"),
    # names of files: the run's log and summary
    ("ARCHIVE_RUN_ID=../../escape", "ARCHIVE_RUN_ID must be 1-64 letters, digits"),
    ("ARCHIVE_RUN_ID=.hidden", "ARCHIVE_RUN_ID must be 1-64 letters, digits"),
    ("ARCHIVE_RUN_ID=a/b", "ARCHIVE_RUN_ID must be 1-64 letters, digits"),
    ("PUSH_TO=file://backup/x", "PUSH_TO: 'file://backup/x' names the host 'backup'"),
    ("PUSH_TO=ftp://host/x", "PUSH_TO: cannot push to 'ftp://host/x'"),
]


@pytest.mark.parametrize(("setting", "message"), MORE_SETTINGS)
def test_more_out_of_bounds_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    config = outlets_yaml(tmp_path)
    assert (
        main(["crawl", "--config", str(config), "--archive", str(tmp_path / "a"), "-s", setting])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"newsarchiver: {message}") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("setting", "name", "expected"),
    [
        ("RETRY_HTTP_CODES=429,503", "RETRY_HTTP_CODES", ["429", "503"]),
        ("RETRY_HTTP_CODES=", "RETRY_HTTP_CODES", []),
        ("URLLENGTH_LIMIT=0", "URLLENGTH_LIMIT", 0),
        ("DOWNLOAD_MAXSIZE=0", "DOWNLOAD_MAXSIZE", 0),
        ("CONCURRENT_REQUESTS=10000", "CONCURRENT_REQUESTS", 10000),
    ],
)
def test_sane_values_pass_and_apply(
    tmp_path: Path, setting: str, name: str, expected: list[str] | int
) -> None:
    settings = build_settings(str(tmp_path / "a"), [setting])
    got = settings.getlist(name) if isinstance(expected, list) else settings.getint(name)
    assert got == expected


def test_an_extract_function_that_cannot_be_imported(tmp_path: Path) -> None:
    result = crawl(tmp_path, outlets_yaml(tmp_path), "-s", "EXTRACT_FUNCTION=no.such.fn")
    line = assert_one_line(result, "EXTRACT_FUNCTION", "'no.such.fn'")
    assert "cannot be imported: ModuleNotFoundError: No module named 'no'" in line
    assert not (tmp_path / "archive").exists()


def test_a_file_uri_with_a_host_is_refused_wherever_it_is_given(tmp_path: Path) -> None:
    """file://backup/x reads as ./backup/x but means /x: refused, exit 2, nothing pushed."""
    config = outlets_yaml(tmp_path, top="push: file://backup/x\n")
    line = assert_one_line(crawl(tmp_path, config), "push", "file:///ABSOLUTE/PATH")
    assert "names the host 'backup'" in line
    result = crawl(tmp_path, outlets_yaml(tmp_path), "--push", "file://backup/x")
    assert "--push: 'file://backup/x' names the host" in assert_one_line(result)
    assert not (tmp_path / "archive").exists()  # refused before the crawl made anything


def test_push_worker_id_that_would_leave_the_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, target = tmp_path / "archive", tmp_path / "store"
    target.mkdir()
    archive.mkdir()
    Manifest(archive / "manifest.sqlite").close()
    capsys.readouterr()
    for bad in ("../../outside", "a/b", ".."):
        assert main(["push", "--archive", str(archive), "--to", f"file://{target}",
                     "--worker-id", bad]) == 2  # fmt: skip
        err = capsys.readouterr().err
        assert err.startswith("newsarchiver: --worker-id must be letters, digits") and bad in err
    assert list(target.iterdir()) == [] and not (tmp_path / "outside.sqlite").exists()


# --- --archive --------------------------------------------------------------------------------

WRITING_COMMANDS = {
    "crawl": ["--config", "CONFIG"],
    "retry": [],
    "push": ["--to", "file:///nonexistent-push-target"],
    "index": [],
    "export": ["--wacz", "OUT"],
    "reextract": [],
    "demo": [],
}


@pytest.mark.parametrize("command", sorted(WRITING_COMMANDS))
@pytest.mark.parametrize("kind", ["regular file", "/proc/self"])
def test_archive_that_is_no_writable_directory(tmp_path: Path, command: str, kind: str) -> None:
    if kind == "regular file":
        archive = tmp_path / "archive.txt"
        archive.write_text("not an archive\n", encoding="utf-8")
        why = "exists and is not a directory"
    else:
        archive, why = Path("/proc/self"), "is not writable"
    replace = {"CONFIG": str(outlets_yaml(tmp_path)), "OUT": str(tmp_path / "out.wacz")}
    extra = [replace.get(arg, arg) for arg in WRITING_COMMANDS[command]]
    result = cli(command, "--archive", str(archive), *extra, timeout=60)
    line = assert_one_line(result, str(archive), why)
    assert line == f"newsarchiver: ARCHIVE_DIR (--archive) {archive} {why}"


def test_a_read_only_command_still_says_no_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive.txt"
    archive.write_text("x", encoding="utf-8")
    line = assert_one_line(cli("failures", "--archive", str(archive), timeout=60))
    assert line == f"newsarchiver: no archive at {archive} (no manifest.sqlite)"


# --- extract ----------------------------------------------------------------------------------


def test_extract_of_a_missing_file(tmp_path: Path) -> None:
    page = tmp_path / "nope.html"
    line = assert_one_line(cli("extract", str(page), timeout=60))
    assert line == f"newsarchiver: extract: cannot read {page}: No such file or directory"


def test_extract_of_a_directory_without_pages(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a page", encoding="utf-8")
    line = assert_one_line(cli("extract", str(tmp_path), timeout=60))
    assert line == (f"newsarchiver: extract: no pages in {tmp_path} "
                    "(no .html, .htm, .html.gz, .htm.gz files)")  # fmt: skip


def test_extract_of_a_missing_file_among_pages(tmp_path: Path) -> None:
    """Every argument is checked before the first page's text is printed."""
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>x</p></body></html>", encoding="utf-8")
    result = cli("extract", str(page), str(tmp_path / "nope.html"), timeout=60)
    assert result.stdout == ""
    assert assert_one_line(result).endswith("nope.html: No such file or directory")


# --- telnet console and remote control: off ------------------------------------------------------


def test_telnet_console_and_remote_control_are_off(tmp_path: Path) -> None:
    settings = build_settings(str(tmp_path / "a"))
    assert not settings.getbool("TELNETCONSOLE_ENABLED")
    assert not settings.getbool("REMOTE_CONTROL_ENABLED")
    on = build_settings(
        str(tmp_path / "a"), ["TELNETCONSOLE_ENABLED=1", "REMOTE_CONTROL_ENABLED=1"]
    )
    assert on.getbool("TELNETCONSOLE_ENABLED") and on.getbool("REMOTE_CONTROL_ENABLED")

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    result = crawl(tmp_path, outlets_yaml(tmp_path), "-s", "RETRY_TIMES=0",
                   "-s", f"REMOTE_CONTROL_JOBS_DIR={jobs}", "-s", "LOG_LEVEL=DEBUG")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (log,) = (tmp_path / "archive" / "logs").glob("*.log")
    for text in (result.stdout + result.stderr, log.read_text(encoding="utf-8")):
        assert "Enabled extensions" in text  # the log Scrapy names its extensions in
        assert "Telnet Password" not in text and "telnet.TelnetConsole" not in text
        assert "Remote control" not in text and "remote_control.RemoteControl" not in text
    assert list(jobs.iterdir()) == []


def test_a_file_store_key_never_leaves_its_root(tmp_path: Path) -> None:
    store = store_for(f"file://{tmp_path / 'store'}")
    source = tmp_path / "page.txt"
    source.write_text("x", encoding="utf-8")
    for key in ("../outside.txt", "/etc/outside.txt", "a/../../outside.txt"):
        with pytest.raises(PushError, match="is no key inside"):
            store.put(source, key, digest_file(source, None, None))
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "store").exists()
