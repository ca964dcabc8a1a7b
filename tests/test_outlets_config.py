"""The outlet config loader: a bad file names the outlet and the key, and the CLI exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawler.cli.main import main
from crawler.outlets import ConfigError, load_config, parse_config, redact_url

GOOD = """\
user_agent: "newsarchiver-test/0.1 (+https://example.org/contact)"
outlets:
  - name: iconnews
    start_urls: ["https://iconnews.example/"]
    sitemaps: ["https://iconnews.example/sitemap.xml"]
    feeds: ["https://www.iconnews.example/rss.xml"]
    allow: ['/news/\\d+-']
    deny: ['/video/']
    depth: 3
  - name: wire
    feeds: ["http://127.0.0.1:8081/rss.xml"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "outlets.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_defaults_and_hosts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    icon, wire = config.outlets
    assert config.user_agent.startswith("newsarchiver-test/0.1")
    assert icon.depth == 3 and wire.depth == 2
    assert icon.hosts == {"iconnews.example"}  # www. and the bare host are one outlet
    assert wire.hosts == {"127.0.0.1:8081"}
    assert icon.owns("https://www.iconnews.example/news/12-x")
    assert not icon.owns("https://elsewhere.example/news/12-x")
    assert not wire.owns("http://127.0.0.1:9999/")  # another port is another host
    assert icon.allowed_article("https://iconnews.example/news/12-bridge") is True
    assert icon.allowed_article("https://iconnews.example/about") is False
    assert wire.allowed_article("http://127.0.0.1:8081/x") is None  # page signals decide
    assert icon.denied("https://iconnews.example/video/1")


BAD = [
    ("outlets:\n  - start_urls: ['https://a.example/']\n", "outlet '#1', key 'name'", "missing"),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n"
        "  - name: a\n    start_urls: ['https://b.example/']\n",
        "outlet 'a', key 'name'",
        "duplicate",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    allow: ['(unclosed']\n",
        "outlet 'a', key 'allow'",
        "bad regular expression",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['ftp://a.example/']\n",
        "key 'start_urls'",
        "not an http",
    ),
    ("outlets:\n  - name: a\n    start_urls: ['https://']\n", "key 'start_urls'", "not an http"),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    sitemap: ['x']\n",
        "outlet 'a', key 'sitemap'",
        "unknown key",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    depth: two\n",
        "outlet 'a', key 'depth'",
        "whole number",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    deny: {x: 1}\n",
        "outlet 'a', key 'deny'",
        "list of non-empty strings",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    drop: ['div[']\n",
        "outlet 'a', key 'drop'",
        "bad CSS selector",
    ),
    ("outlets:\n  - name: a\n", "outlet 'a', key 'start_urls'", "at least one of"),
    ("outlet:\n  - name: a\n", "key 'outlet'", "unknown key"),
    ("outlets: []\n", "key 'outlets'", "non-empty list"),
    ("outlets:\n  - name: a\n   start_urls: [\n", "", "not valid YAML at line"),
    (
        "outlets:\n  - name: a\n    start_urls: ['http://[::1/']\n",
        "outlet 'a', key 'start_urls'",
        "not a valid URL (Invalid IPv6 URL)",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example:99999/']\n",
        "outlet 'a', key 'start_urls'",
        "not a valid URL (Port out of range",
    ),
    (
        f"outlets:\n  - name: a\n    start_urls: ['https://a.example/{'x' * 10_000}']\n",
        "outlet 'a', key 'start_urls'",
        "URL of 10018 characters, longer than URLLENGTH_LIMIT (2083)",
    ),
    (
        'user_agent: "a\\r\\nX-Injected: 1"\noutlets:\n  - name: a\n'
        "    start_urls: ['https://a.example/']\n",
        "key 'user_agent'",
        "must not contain control characters (it is sent as an HTTP header): '\\r' at position 1",
    ),
    (
        'outlets:\n  - name: a\n    feeds: ["https://a.example/rss\\x07"]\n',
        "outlet 'a', key 'feeds'",
        "control character",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    keep_params: {x: 1}\n",
        "outlet 'a', key 'keep_params'",
        "list of non-empty strings",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n"
        "    keep_params: ['utm_source=rss']\n",
        "outlet 'a', key 'keep_params'",
        "not a query parameter name: 'utm_source=rss'",
    ),
    (
        "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n    keep_params: [3]\n",
        "outlet 'a', key 'keep_params'",
        "list of non-empty strings",
    ),
]


@pytest.mark.parametrize(("text", "where", "what"), BAD)
def test_bad_config_names_outlet_and_key(tmp_path: Path, text: str, where: str, what: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert where in message and what in message
    assert str(tmp_path / "outlets.yaml") in message


@pytest.mark.parametrize(("text", "where", "what"), BAD[:3])
def test_cli_exits_2_on_a_bad_config_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, what: str
) -> None:
    config = write(tmp_path, text)
    code = main(["crawl", "--config", str(config), "--archive", str(tmp_path / "archive")])
    err = capsys.readouterr().err
    assert code == 2
    assert where in err and what in err
    assert not (tmp_path / "archive").exists()  # stopped before the crawl touched anything


def test_cli_exits_2_on_unknown_outlet_and_bad_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, GOOD)
    archive = str(tmp_path / "archive")
    assert main(["crawl", "--config", str(config), "--archive", archive, "--outlet", "nope"]) == 2
    assert "no outlet named 'nope'" in capsys.readouterr().err
    assert (
        main(["crawl", "--config", str(config), "--archive", archive, "-s", "WARC_MAX_SIZE=-5"])
        == 2
    )
    assert "WARC_MAX_SIZE must be at least" in capsys.readouterr().err
    crawl = ["crawl", "--config", str(config), "--archive", archive]
    assert main([*crawl, "-s", "WARC_GZIP_LEVEL=10"]) == 2
    assert "WARC_GZIP_LEVEL must be at most 9, not 10" in capsys.readouterr().err
    assert main(["crawl", "--config", str(config), "--archive", archive, "-s", "NOEQUALS"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["crawl", "--config", str(tmp_path / "missing.yaml"), "--archive", archive]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["start_urls", "sitemaps", "feeds"])
@pytest.mark.parametrize(
    ("userinfo", "shown"),
    [("user:s3cr3t-pw@", "user:***@"), ("user:s3cr3t-pw@with@", "user:***@"), ("user@", "user@")],
)
def test_credentials_in_a_url_are_refused_without_showing_the_password(
    tmp_path: Path, key: str, userinfo: str, shown: str
) -> None:
    text = f"outlets:\n  - name: a\n    {key}: ['http://{userinfo}a.example:8080/x']\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert f"outlet 'a', key '{key}': credentials in URLs are not supported" in message
    assert f"'http://{shown}a.example:8080/x'" in message
    assert "s3cr3t" not in message and "pw@with" not in message


def test_url_length_follows_urllength_limit(tmp_path: Path) -> None:
    url = f"https://a.example/{'é' * 700}"  # 700 characters, 4200 once %-escaped as Scrapy sends
    path = write(tmp_path, f"outlets:\n  - name: a\n    start_urls: ['{url}']\n")
    with pytest.raises(ConfigError, match="URL of 4218 characters, longer than URLLENGTH_LIMIT"):
        load_config(path)
    assert load_config(path, url_length_limit=5000).outlets[0].start_urls == (url,)
    assert load_config(path, url_length_limit=0).outlets[0].start_urls == (url,)  # 0: no bound


def test_redact_url() -> None:
    assert redact_url("https://u:pw@h/p?q=a@b") == "https://u:***@h/p?q=a@b"
    assert redact_url("http://u:p@ss@[::1/") == "http://u:***@[::1/"  # urlsplit refuses it
    assert redact_url("http://u@h/") == "http://u@h/"  # no password to hide
    assert redact_url("https://h/a:b@c") == "https://h/a:b@c"  # '@' in the path is no user info


def test_the_bundled_example_config_loads() -> None:
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "outlets.example.yaml")
    assert [o.name for o in config.outlets] == ["harbourtimes", "valleywire"]
    assert config.outlets[1].drop == ("aside.promo", "div.newsletter-signup")


ONE_OUTLET = "outlets:\n  - name: a\n    start_urls: ['https://a.example/']\n"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600.0), ("'3600'", 3600.0), ("90s", 90.0), ("12h", 43200.0), ("7d", 604800.0),
     ("1.5", 1.5), ("2w", 1209600.0)],
)  # fmt: skip
def test_recrawl_after_takes_seconds_or_a_duration(value: str, seconds: float) -> None:
    raw = yaml.safe_load(f"{ONE_OUTLET}    recrawl_after: {value}\n")
    assert parse_config(raw, source="o.yaml").outlets[0].recrawl_after == seconds


@pytest.mark.parametrize("value", ["soon", "true", "-5", "[1h]", "5 years"])
def test_a_bad_recrawl_after_names_the_key(value: str) -> None:
    raw = yaml.safe_load(f"{ONE_OUTLET}    recrawl_after: {value}\n")
    with pytest.raises(ConfigError, match=r"recrawl_after.*must be a duration like 3600"):
        parse_config(raw, source="o.yaml")
