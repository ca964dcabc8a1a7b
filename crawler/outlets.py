"""Load and validate the outlet config file (YAML) into :class:`CrawlConfig`.

A bad file stops the crawl before any request: :class:`ConfigError` names the file, the outlet and
the key, and the CLI turns it into exit code 2. The outlet's hosts are those of its URLs
(``start_urls``, ``sitemaps``, ``feeds``); links are followed only inside them. ``keep_params``:
query parameters the outlet needs that are otherwise dropped as trackers
(:mod:`storage.url_identity`), names only (no ``=``, ``&``, ``#``, spaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cssselect import GenericTranslator, SelectorError
from w3lib.url import safe_url_string

from crawler.redaction import redact_url
from storage.object_store import PushError, check_target
from storage.url_identity import UrlForms, keep_set, url_forms

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_DEPTH = 2
TOP_KEYS = {"user_agent", "outlets", "push"}
URL_LIST_KEYS = ("start_urls", "sitemaps", "feeds")
REGEX_LIST_KEYS = ("allow", "deny")
SELECTOR_LIST_KEYS = ("drop", "keep")
OUTLET_KEYS = {
    "name", "depth", "recrawl_after", "keep_params", *URL_LIST_KEYS, *REGEX_LIST_KEYS,
    *SELECTOR_LIST_KEYS,
}  # fmt: skip
PARAM_NAME_RE = re.compile(r"^[^\s=&#?]{1,100}$")  # a query parameter's name, as it is written
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Scrapy's URLLENGTH_LIMIT default: its UrlLengthMiddleware drops a longer request with no more
# than a debug line, so a longer start URL would be a silent no-op. 0 turns the bound off.
URL_LENGTH_LIMIT = 2083
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ConfigError(ValueError):
    """The outlet config is unusable; the message says where and what to fix."""

    def __init__(self, message: str, *, source: str = "", outlet: str = "", key: str = "") -> None:
        where = ", ".join(
            part
            for part in (
                source,
                f"outlet {outlet!r}" if outlet else "",
                f"key {key!r}" if key else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.source, self.outlet, self.key = source, outlet, key


def host_key(url: str) -> str:
    """The host an URL belongs to, for "is this link inside the outlet": host[:port], no www."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port in (None, default) else f"{host}:{port}"


@dataclass(frozen=True)
class OutletConfig:
    """One outlet: where to start, what counts as an article, what to leave alone."""

    name: str
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    depth: int = DEFAULT_DEPTH
    recrawl_after: float | None = None  # seconds; None: an archived article is never fetched again
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    keep_params: tuple[str, ...] = ()  # tracking parameters this outlet's URLs keep
    _allow_re: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)
    _deny_re: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    @cached_property  # asked for every link the crawl finds
    def hosts(self) -> frozenset[str]:
        return frozenset(host_key(u) for u in (*self.start_urls, *self.sitemaps, *self.feeds))

    @cached_property
    def kept_params(self) -> frozenset[str]:
        """``keep_params`` as :func:`storage.url_identity.url_forms` takes them."""
        return keep_set(self.keep_params)

    def url_forms(self, url: str) -> UrlForms:
        """`url`'s fetch form and identity for this outlet (:mod:`storage.url_identity`)."""
        return url_forms(url, self.kept_params)

    def owns(self, url: str) -> bool:
        return host_key(url) in self.hosts

    def denied(self, url: str) -> bool:
        return any(p.search(url) for p in self._deny_re)

    def allowed_article(self, url: str) -> bool | None:
        """True/False when `allow` decides; None without `allow` (page signals decide)."""
        if not self._allow_re:
            return None
        return any(p.search(url) for p in self._allow_re)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "depth": self.depth}
        if self.recrawl_after is not None:
            out["recrawl_after"] = self.recrawl_after
        for key in (*URL_LIST_KEYS, *REGEX_LIST_KEYS, *SELECTOR_LIST_KEYS, "keep_params"):
            if value := getattr(self, key):
                out[key] = list(value)
        return out


@dataclass(frozen=True)
class CrawlConfig:
    outlets: tuple[OutletConfig, ...]
    user_agent: str | None = None
    source: str = ""
    push: str | None = None  # s3://bucket/prefix (or file:///path): push when a crawl ends

    def outlet(self, name: str) -> OutletConfig:
        for outlet in self.outlets:
            if outlet.name == name:
                return outlet
        raise KeyError(name)

    def select(self, names: Iterable[str] | None) -> CrawlConfig:
        """Only the named outlets (all when `names` is empty); an unknown name is a ConfigError."""
        wanted = [n for n in (names or ()) if n]
        if not wanted:
            return self
        known = {o.name for o in self.outlets}
        for name in wanted:
            if name not in known:
                raise ConfigError(
                    f"no outlet named {name!r} (known: {', '.join(sorted(known))})",
                    source=self.source,
                )
        return CrawlConfig(
            tuple(o for o in self.outlets if o.name in wanted), self.user_agent, self.source,
            self.push,
        )  # fmt: skip

    def check_url_length(self, limit: int) -> None:
        """ConfigError for a URL longer than `limit` (the crawl's ``URLLENGTH_LIMIT``; 0: none)."""
        for outlet in self.outlets if limit else ():
            for key in URL_LIST_KEYS:
                for url in getattr(outlet, key):
                    length = len(safe_url_string(url))  # as Scrapy's Request has it: %-escaped
                    if length > limit:
                        raise ConfigError(
                            f"URL of {length} characters, longer than URLLENGTH_LIMIT ({limit}): "
                            f"Scrapy would drop it; {redact_url(url)[:60]}…",
                            source=self.source, outlet=outlet.name, key=key,
                        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outlets": [o.as_dict() for o in self.outlets]}
        if self.user_agent:
            out["user_agent"] = self.user_agent
        if self.push:
            out["push"] = self.push
        return out


def load_config(path: str | Path, url_length_limit: int = URL_LENGTH_LIMIT) -> CrawlConfig:
    """Read and validate a YAML outlet config; raises ConfigError on any problem.

    `url_length_limit` is the crawl's ``URLLENGTH_LIMIT``: a longer URL is refused here.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the config file: {exc.strerror or exc}", source=source
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the config file is not UTF-8 ({exc.reason})", source=source) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML{at}: {problem}", source=source) from exc
    return parse_config(data, source=source, url_length_limit=url_length_limit)


def parse_config(
    data: Any, source: str = "<config>", url_length_limit: int = URL_LENGTH_LIMIT
) -> CrawlConfig:
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with an 'outlets' list at the top", source=source)
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(
                f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})", source=source, key=str(key)
            )
    user_agent = data.get("user_agent")
    if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()):
        raise ConfigError("must be a non-empty string", source=source, key="user_agent")
    if user_agent is not None and (bad := control_character(user_agent)):
        raise ConfigError(bad, source=source, key="user_agent")
    raw_outlets = data.get("outlets")
    if not isinstance(raw_outlets, list) or not raw_outlets:
        raise ConfigError("must be a non-empty list of outlets", source=source, key="outlets")
    outlets: list[OutletConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_outlets):
        outlet = _parse_outlet(raw, index, source)
        if outlet.name in seen:
            raise ConfigError(
                "duplicate outlet name", source=source, outlet=outlet.name, key="name"
            )
        seen.add(outlet.name)
        outlets.append(outlet)
    push = data.get("push")
    if push is not None:
        if not isinstance(push, str):
            raise ConfigError("must be s3://BUCKET/PREFIX or file:///PATH", source=source,
                              key="push")  # fmt: skip
        try:
            check_target(push)
        except PushError as exc:
            raise ConfigError(str(exc), source=source, key="push") from None
    config = CrawlConfig(tuple(outlets), user_agent.strip() if user_agent else None, source, push)
    config.check_url_length(url_length_limit)
    return config


def _parse_outlet(raw: Any, index: int, source: str) -> OutletConfig:
    label = f"#{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError("each outlet must be a mapping", source=source, outlet=label)
    name = raw.get("name")
    if name is None:
        raise ConfigError(
            "missing (every outlet needs a name)", source=source, outlet=label, key="name"
        )
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            source=source,
            outlet=label,
            key="name",
        )

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, source=source, outlet=name, key=key)

    for key in raw:
        if key not in OUTLET_KEYS:
            raise fail(str(key), f"unknown key (allowed: {', '.join(sorted(OUTLET_KEYS))})")
    lists = {key: _string_list(raw, key, fail)
             for key in OUTLET_KEYS - {"name", "depth", "recrawl_after"}}  # fmt: skip
    for key in URL_LIST_KEYS:
        for url in lists[key]:
            _check_url(url, key, fail)
    if not any(lists[key] for key in URL_LIST_KEYS):
        raise fail("start_urls", "an outlet needs at least one of start_urls, sitemaps or feeds")
    compiled = {key: tuple(_compile(p, key, fail) for p in lists[key]) for key in REGEX_LIST_KEYS}
    for key in SELECTOR_LIST_KEYS:
        for selector in lists[key]:
            try:
                GenericTranslator().css_to_xpath(selector)
            except SelectorError as exc:
                raise fail(key, f"bad CSS selector {selector!r}: {exc}") from exc
    for param in lists["keep_params"]:
        if not PARAM_NAME_RE.match(param):
            raise fail("keep_params", f"not a query parameter name: {param!r}")
    depth = raw.get("depth", DEFAULT_DEPTH)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= 20:
        raise fail("depth", f"must be a whole number from 0 to 20, not {depth!r}")
    recrawl_after = _duration(raw.get("recrawl_after"), fail)
    return OutletConfig(
        name=name,
        depth=depth,
        recrawl_after=recrawl_after,
        keep_params=tuple(dict.fromkeys(lists["keep_params"])),
        **{
            key: tuple(lists[key])
            for key in (*URL_LIST_KEYS, *REGEX_LIST_KEYS, *SELECTOR_LIST_KEYS)
        },
        _allow_re=compiled["allow"],
        _deny_re=compiled["deny"],
    )


def _duration(value: Any, fail: Any) -> float | None:
    """`recrawl_after`: seconds, or a number with s, m, h, d or w ("12h", "7d")."""
    if value is None:
        return None
    match = DURATION_RE.match(str(value)) if not isinstance(value, bool) else None
    if not match:
        raise fail("recrawl_after", f"must be a duration like 3600, 12h or 7d, not {value!r}")
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


def _string_list(raw: dict[str, Any], key: str, fail: Any) -> list[str]:
    value = raw.get(key, [])
    if isinstance(value, str):  # a lone string is a list of one, as people write it
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, f"must be a list of non-empty strings, not {type(value).__name__}")
    return [v.strip() for v in value]


def control_character(value: str) -> str:
    """Why `value` cannot go into an HTTP header ("" when it can): a CR or LF would start a
    header of its own (header injection), other control characters are refused by servers."""
    match = CONTROL_RE.search(value)
    if not match:
        return ""
    return (
        f"must not contain control characters (it is sent as an HTTP header): "
        f"{match.group()!r} at position {match.start()}"
    )


def _check_url(url: str, key: str, fail: Any) -> None:
    shown = redact_url(url)
    shown = shown if len(shown) <= 200 else f"{shown[:200]}…"  # the message stays one line
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise fail(key, f"not a valid URL ({exc}): {shown!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(key, f"not an http(s) URL: {shown!r}")
    if parts.username is not None or parts.password is not None:
        # Scrapy does not log in with them, and the URL (password and all) would be written to
        # the log, the failures, the manifest and every WARC record.
        raise fail(key, f"credentials in URLs are not supported (drop the 'user:…@'): {shown!r}")
    if CONTROL_RE.search(url):
        raise fail(key, f"control character in {shown!r}")


def _compile(pattern: str, key: str, fail: Any) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise fail(key, f"bad regular expression {pattern!r}: {exc}") from exc
