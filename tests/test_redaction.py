"""Secrets never written, in one process: URL redaction, what counts as a secret, the masking of
log records, the ``*_ENV`` settings, the lock file and the push URIs that would carry a secret.

tests/test_secrets.py runs the real commands and greps everything they wrote.
"""

from __future__ import annotations

import logging
import os
import pprint
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crawler import redaction
from crawler.outlets import ConfigError, parse_config
from crawler.redaction import (
    MASK,
    apply_env_settings,
    env_secrets,
    is_secret_name,
    mask,
    mask_data,
    protect,
    redact_url,
    setting_secrets,
    url_secrets,
)
from crawler.runner import reported
from crawler.settings_check import SettingsError
from storage import lock
from storage.object_store import PushError
from storage.s3 import store_for


@pytest.fixture
def masked() -> Iterator[None]:
    """The secrets a test registers are forgotten after it (the factory stays: it is inert)."""
    redaction.reset()
    yield
    redaction.reset()


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = ListHandler()
    log = logging.getLogger("test_redaction")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        log.removeHandler(handler)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),  # userinfo password
        ("redis://user:s3cret@host/0", "redis://user:***@host/0"),  # the user name is kept
        ("redis://lonepw@host/0", "redis://***@host/0"),  # Redis: a lone userinfo is a password
        ("redis://host:6379/0?password=s3cret&db=1", "redis://host:6379/0?password=***&db=1"),
        ("https://h/feed?a=1&token=abc#top", "https://h/feed?a=1&token=***#top"),
        (
            "https://h/p?pass=x;api_key=y&Signature=z",
            "https://h/p?pass=***;api_key=***&Signature=***",
        ),
        ("https://u:pw@h/p?q=a@b", "https://u:***@h/p?q=a@b"),
        # urlsplit refuses these (a bad IPv6 host, a bad port): redacted all the same
        ("http://u:p@ss@[::1/", "http://u:***@[::1/"),
        ("redis://:pw@host:notaport/0?password=x", "redis://:***@host:notaport/0?password=***"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "redis://host:6379/0",
        "http://u@h/",  # a user, no password
        "https://h/a:b@c",  # '@' in the path is no user info
        "https://h/p?q=1&page=2&tokens",  # no value, no secret name
        "https://h/p?password",  # a name without a value
        "not a url",
        "",
    ],
)
def test_redact_url_leaves_a_url_without_secrets_unchanged(url: str) -> None:
    assert redact_url(url) == url
    assert url_secrets(url) == set()


def test_url_secrets_as_written_and_decoded() -> None:
    assert url_secrets("redis://:p%40ss@h/0?token=a+b") == {"p%40ss", "p@ss", "a+b", "a b"}


def test_the_redact_functions_are_one() -> None:
    from crawler import outlets
    from crawler.cluster import state

    assert state.redact is redact_url and outlets.redact_url is redact_url


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("AWS_SESSION_TOKEN", True),
        ("NEWSFEED_SECRET", True),
        ("api_token", True),
        ("SMTP_PASSWORD", True),
        ("MY_KEY", True),
        ("SCHEDULER_QUEUE_KEY", False),  # scrapy-redis's Redis key pattern
        ("AWS_REGION_NAME", False),
        ("KEYS", False),
        ("REDIS_URL", False),  # not by name: its password is found in the URL
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_setting_secrets_by_name_and_in_urls() -> None:
    settings = Settings()
    settings.set("NEWSFEED_SECRET", "named-secret-1")
    settings.set("AWS_SECRET_ACCESS_KEY", "aws-secret-2")
    settings.set("REDIS_URL", "redis://127.0.0.1/0?password=query-pw-3")
    settings.set("FEEDS", {"ftp://user:feed-pw-4@h/items.jsonl": {"format": "jsonlines"}})
    settings.set("SCHEDULER_QUEUE_KEY", "%(spider)s:requests")
    found = setting_secrets(settings)
    assert {"named-secret-1", "aws-secret-2", "query-pw-3", "feed-pw-4"} <= found
    assert "%(spider)s:requests" not in found
    assert "guest" not in found  # Scrapy's default FTP_PASSWORD


def test_env_secrets() -> None:
    environ = {
        "AWS_SECRET_ACCESS_KEY": "abcd",  # short, but a credential by name
        "GITHUB_TOKEN": "long-enough-token",
        "SHORT_KEY": "1",  # too short to mask in free text: it would mask every "1"
        "MY_REDIS": "redis://:env-url-pw@h/0",
        "NAMED_BY_SETTING": "named-var",
        "NAMED_URL": "redis://:named-url-pw@h/0",  # its password only: the host stays readable
        "HOOK_TOKEN": "https://hooks.example/T0/secret-path",  # a secret URL without a password
        "HOME": "/home/x",
    }
    assert env_secrets(environ, ["NAMED_BY_SETTING", "NAMED_URL"]) == {
        "abcd", "long-enough-token", "env-url-pw", "named-var", "named-url-pw",
        "https://hooks.example/T0/secret-path",
    }  # fmt: skip


def test_log_records_are_masked(masked: None, log_lines: list[str]) -> None:
    settings = Settings({"API_TOKEN": "tok-3a7f9", "REDIS_URL": "redis://:rpw-77c1@h:1/0"})
    protect(settings, environ={"AWS_SECRET_ACCESS_KEY": "env-aws-5d2"})
    log = logging.getLogger("test_redaction")
    log.info("token %s, url %s", "tok-3a7f9", "redis://:rpw-77c1@h:1/0")
    log.info("dict args %(x)s", {"x": "env-aws-5d2"})
    log.info("nothing to hide %d", 5)
    try:
        raise RuntimeError("failed with tok-3a7f9")
    except RuntimeError:
        log.exception("boom")
    text = "\n".join(log_lines)
    for secret in ("tok-3a7f9", "rpw-77c1", "env-aws-5d2"):
        assert secret not in text
    assert "token ***, url redis://:***@h:1/0" in log_lines[0]
    assert log_lines[2] == "nothing to hide 5"
    assert "RuntimeError: failed with ***" in text


def test_overridden_settings_are_masked_by_name(masked: None, log_lines: list[str]) -> None:
    """Scrapy's crawler logs the settings it was given; a secret too short to mask in free text
    is masked there by its name."""
    protect(Settings(), environ={})
    shown = {"AWS_SECRET_ACCESS_KEY": "ab", "FTP_PASSWORD": "xy", "LOG_LEVEL": "DEBUG"}
    logging.getLogger("test_redaction").info(
        "Overridden settings:\n%(settings)s", {"settings": pprint.pformat(shown)}
    )
    assert log_lines == [
        "Overridden settings:\n"
        + pprint.pformat(
            {"AWS_SECRET_ACCESS_KEY": MASK, "FTP_PASSWORD": MASK, "LOG_LEVEL": "DEBUG"}
        )
    ]


def test_mask_data(masked: None) -> None:
    protect(Settings({"X_SECRET": "data-secret"}), environ={})
    assert mask_data({"a": ["x data-secret y", 3], "data-secret": None}) == {
        "a": ["x *** y", 3], "***": None,
    }  # fmt: skip
    assert mask("no secret") == "no secret"


def test_env_settings_name_the_variable() -> None:
    settings = Settings()
    settings.set("AWS_SECRET_ACCESS_KEY_ENV", "MY_AWS_SECRET", priority="cmdline")
    settings.set("REDIS_URL_ENV", "MY_REDIS", priority="cmdline")
    settings.set("OTHER_ENV", "IGNORED", priority="cmdline")  # not a secret's: left alone
    apply_env_settings(settings, {"MY_AWS_SECRET": "from-env", "MY_REDIS": "redis://:pw@h/0"})
    assert settings["AWS_SECRET_ACCESS_KEY"] == "from-env"
    assert settings.getpriority("AWS_SECRET_ACCESS_KEY") == settings.getpriority("REDIS_URL_ENV")
    assert settings["REDIS_URL"] == "redis://:pw@h/0"
    with pytest.raises(SettingsError, match="AWS_SECRET_ACCESS_KEY_ENV names the environment"):
        apply_env_settings(settings, {})


def test_lock_file_holds_no_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / ".lock"
    path.write_text("old\n")
    path.chmod(0o644)  # a lock file from before: made world-readable
    argv = ["/venv/bin/newsarchiver", "crawl", "--redis", "redis://:lock-pw-91@h/0",
            "-s", "AWS_SECRET_ACCESS_KEY=lock-secret-92"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    lock.acquire(path)
    try:
        text = path.read_text()
        mode = stat.S_IMODE(os.stat(path).st_mode)
    finally:
        lock.release(path)
    assert "lock-pw-91" not in text and "lock-secret-92" not in text
    assert "command=newsarchiver crawl\n" in text and f"pid={os.getpid()}\n" in text
    assert mode == 0o600


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/usr/bin/newsarchiver", "retry", "-s", "X_SECRET=1"], "newsarchiver retry"),
        (["/repo/crawler/cli/__main__.py", "push", "--archive", "a"], "newsarchiver push"),
        (["/venv/bin/scrapy", "crawl", "outlets", "-s", "A=b"], "scrapy crawl"),
        (["/venv/lib/scrapy/__main__.py", "crawl", "outlets"], "scrapy crawl"),
        (["/usr/bin/newsarchiver", "--redis=redis://:pw@h"], "newsarchiver"),
        ([], "?"),
    ],
)
def test_command_name(argv: list[str], name: str) -> None:
    assert lock.command_name(argv) == name


def test_push_uri_with_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PushError, match=r"credentials in the URI") as caught:
        store_for("s3://AKIAFAKE:push-secret-5@bucket/prefix")
    assert "push-secret-5" not in str(caught.value)
    raw = {"outlets": [{"name": "a", "start_urls": ["https://a.example/"]}],
           "push": "s3://bucket/prefix?X-Amz-Signature=cfg-sig-6"}  # fmt: skip
    with pytest.raises(ConfigError, match="a push URI takes no query") as refused:
        parse_config(raw, source="outlets.yaml")
    assert "cfg-sig-6" not in str(refused.value)
    raw["push"] = "s3://AKIAFAKE:cfg-secret-7@bucket/prefix"
    with pytest.raises(ConfigError, match="credentials in the URI") as refused:
        parse_config(raw, source="outlets.yaml")
    assert "cfg-secret-7" not in str(refused.value)


@pytest.mark.parametrize(
    "uri",
    [
        "https://AKIAFAKE:odd-scheme-secret-8@minio.lan/bucket",  # not a store scheme
        "s3://bucket/prefix#tok=odd-scheme-secret-8",  # a fragment
        "s3://bucket/prefix?token=odd-scheme-secret-8",
        "ftp://u:odd-scheme-secret-8@host/x",
    ],
)
def test_a_refused_push_uri_is_never_quoted_with_its_secret(uri: str) -> None:
    with pytest.raises(PushError) as caught:
        store_for(uri)
    assert "odd-scheme-secret-8" not in str(caught.value)


def test_an_unforeseen_error_is_a_crash_whose_traceback_has_no_secret(
    masked: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python prints an uncaught exception itself, knowing no secrets: `reported` prints it
    masked (a botocore error quotes its endpoint URL, user info and all)."""
    protect({"AWS_ENDPOINT_URL": "https://u:endpoint-secret-9@s3.lan"}, environ={})

    def fails() -> int:
        raise RuntimeError("Could not connect to https://u:endpoint-secret-9@s3.lan/bucket")

    assert reported(fails) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError" in err and "s3.lan/bucket" in err
    assert "endpoint-secret-9" not in err
