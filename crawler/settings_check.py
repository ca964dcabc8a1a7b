"""Start-up checks of the project's settings; every error names the setting.

A bad value must stop the crawl before the first request, not disable a component: Scrapy's
``NotConfigured`` would switch WARC capture off with a warning and the crawl would go on without
evidence. So components raise :class:`SettingsError` (the CLI exits 2 on it) and keep
``NotConfigured`` for their on/off flag only.

Checked: the project's own settings (``ARCHIVE_DIR``, ``ARCHIVE_RUN_ID``, ``WARC_*``,
``EXTRACT_*`` with ``EXTRACT_FUNCTION`` imported, ``PUSH_*`` with ``PUSH_TO`` a target that names
its store unambiguously, ``RETRY_*``, ``STORIES_*``, ``CLUSTER_*``, ``QUIET_*``) and the Scrapy
settings the crawl relies on, which Scrapy itself takes as given: a concurrency of 0 hangs the crawl
(SIGTERM included), a negative ``DOWNLOAD_TIMEOUT`` fails every URL, a CR/LF in ``USER_AGENT``
or ``DEFAULT_REQUEST_HEADERS`` injects a header into every request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from crawler.cluster.identity import check_worker_id
from crawler.outlets import control_character
from storage.layout import check_token
from storage.object_store import PushError, check_target

# A bound for the concurrency settings: far above what one machine can use, below what would
# make Scrapy allocate slots and tasks without end.
MAX_CONCURRENCY = 10_000
BOOL_WORDS = {"1", "0", "true", "false", "True", "False"}  # what Scrapy's getbool accepts
PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


class SettingsError(ValueError):
    """A setting has a value the crawl cannot run with."""


def _number(settings: BaseSettings, name: str, minimum: float, cast: type = float) -> Any:
    raw = settings.get(name)
    try:
        value = cast(raw)
    except (TypeError, ValueError):
        kind = "a whole number" if cast is int else "a number"
        raise SettingsError(f"{name} must be {kind}, not {raw!r}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, not {raw!r}")
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, not {value:g}")
    return value


def _int(settings: BaseSettings, name: str, minimum: int) -> int:
    return int(_number(settings, name, minimum, int))


def _float(settings: BaseSettings, name: str, minimum: float) -> float:
    return float(_number(settings, name, minimum))


def _at_most(value: int, name: str, maximum: int) -> int:
    if value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def _ratio(value: float, name: str) -> float:
    if value > 1:
        raise SettingsError(f"{name} is a share of 0 to 1 (0.25: a quarter), not {value:g}")
    return value


def _one_of(settings: BaseSettings, name: str, choices: tuple[str, ...]) -> str:
    value = settings.get(name)
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _positive(settings: BaseSettings, name: str) -> float:
    # e.g. botocore takes a 0 timeout as "none": a stalled server would hold the push for ever
    value = _float(settings, name, -math.inf)
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0, not {value:g}")
    return value


def _fraction(settings: BaseSettings, name: str) -> float:
    """A similarity threshold: more than 0 (0 would join everything), at most 1."""
    value = _float(settings, name, -math.inf)
    if not 0 < value <= 1:
        raise SettingsError(f"{name} must be more than 0 and at most 1, not {value:g}")
    return value


def _concurrency(settings: BaseSettings, name: str) -> int:
    return _at_most(_int(settings, name, 1), name, MAX_CONCURRENCY)


def _bool(settings: BaseSettings, name: str) -> bool:
    raw = settings.get(name)
    if isinstance(raw, str) and raw not in BOOL_WORDS:
        raise SettingsError(f"{name} must be True or False (or 1 or 0), not {raw!r}")
    try:
        return settings.getbool(name)
    except ValueError:
        raise SettingsError(f"{name} must be True or False (or 1 or 0), not {raw!r}") from None


def _http_codes(settings: BaseSettings, name: str) -> list[int]:
    raw = settings.get(name)
    try:
        codes = [int(c) for c in settings.getlist(name)]
    except (TypeError, ValueError):
        codes = [0]  # refused below
    if not all(100 <= c <= 599 for c in codes):
        raise SettingsError(
            f"{name} must be a list of HTTP status codes (100 to 599, comma-separated with -s), "
            f"not {raw!r}"
        )
    return codes


def _header(settings: BaseSettings, name: str) -> None:
    value = settings.get(name)
    if not isinstance(value, str):
        raise SettingsError(f"{name} must be a string, not {value!r}")
    if bad := control_character(value):
        raise SettingsError(f"{name} {bad}")


def _headers(settings: BaseSettings, name: str) -> None:
    try:
        headers = settings.getdict(name)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a mapping (JSON with -s), not "
                            f"{settings.get(name)!r}") from None  # fmt: skip
    for header, value in headers.items():
        for part, what in ((str(header), "names"), (str(value), "values")):
            if bad := control_character(part):
                raise SettingsError(f"{name}: header {what} {bad} (header {str(header)!r})")


def _function(settings: BaseSettings, name: str) -> Any:
    """Import the function now: a typo would otherwise crash the crawl once it has begun."""
    path = settings.get(name)
    try:
        function = load_object(path)
    except Exception as exc:  # an import runs the module's code: anything can come out of it
        raise SettingsError(
            f"{name} must be the import path of a function (module.function), but {path!r} "
            f"cannot be imported: {type(exc).__name__}: {exc}"
        ) from None
    if not callable(function):
        raise SettingsError(
            f"{name} must name a function, but {path!r} is a {type(function).__name__}"
        )
    return function


CHECKS: dict[str, Callable[[BaseSettings, str], Any]] = {
    "WARC_MAX_SIZE": lambda s, n: _int(s, n, 64 * 1024),
    "WARC_GZIP_LEVEL": lambda s, n: _at_most(_int(s, n, 0), n, 9),
    "WARC_MAX_PENDING_BYTES": lambda s, n: _int(s, n, 0),
    "WARC_FSYNC": lambda s, n: _one_of(s, n, ("close", "record")),
    "ARCHIVE_MIN_FREE_MB": lambda s, n: _float(s, n, 0),
    "ARCHIVE_REQUISITES": _bool,
    "ARCHIVE_REQUISITES_HUBS": _bool,
    "ARCHIVE_REQUISITES_MAX_SIZE": lambda s, n: _int(s, n, 1),
    "ARCHIVE_REQUISITES_MAX_PER_PAGE": lambda s, n: _int(s, n, 1),
    "ARCHIVE_REQUISITES_MAX_PER_RUN": lambda s, n: _int(s, n, 1),
    "EXTRACT_WORKERS": lambda s, n: _int(s, n, 0),
    "EXTRACT_MIN_CHARS": lambda s, n: _int(s, n, 0),
    "EXTRACT_TIMEOUT": lambda s, n: _float(s, n, 0),
    # Scrapy's, in the order of crawler/settings.py
    "USER_AGENT": _header,
    "DEFAULT_REQUEST_HEADERS": _headers,
    "ROBOTSTXT_OBEY": _bool,
    "CONCURRENT_REQUESTS": _concurrency,
    "CONCURRENT_REQUESTS_PER_DOMAIN": _concurrency,
    "DOWNLOAD_DELAY": lambda s, n: _float(s, n, 0),
    "AUTOTHROTTLE_ENABLED": _bool,
    "AUTOTHROTTLE_START_DELAY": lambda s, n: _float(s, n, 0),
    "AUTOTHROTTLE_MAX_DELAY": lambda s, n: _float(s, n, 0),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": _positive,
    "CONCURRENT_ITEMS": _concurrency,
    "DOWNLOAD_TIMEOUT": _positive,
    "DOWNLOAD_MAXSIZE": lambda s, n: _int(s, n, 0),  # 0: no limit
    "DOWNLOAD_WARNSIZE": lambda s, n: _int(s, n, 0),
    "REDIRECT_MAX_TIMES": lambda s, n: _int(s, n, 0),
    "URLLENGTH_LIMIT": lambda s, n: _int(s, n, 0),  # 0: no limit
    "RETRY_ENABLED": _bool,
    "RETRY_HTTP_CODES": _http_codes,
    "LOGSTATS_INTERVAL": _positive,
    "TELNETCONSOLE_ENABLED": _bool,
    "REMOTE_CONTROL_ENABLED": _bool,
    # the project's
    "WARC_ENABLED": _bool,
    "EXTRACT_ENABLED": _bool,
    "TEXT_ENABLED": _bool,
    "TEXT_FSYNC": _bool,
    "SEARCH_INDEX_ENABLED": _bool,
    "RETRY_JITTER": _bool,
    "RETRY_SOFT_FAILURES": _bool,
    "CLUSTER_ENABLED": _bool,
    "RETRY_TIMES": lambda s, n: _int(s, n, 0),
    "PUSH_WORKERS": lambda s, n: _int(s, n, 1),
    "PUSH_MULTIPART_THRESHOLD": lambda s, n: _int(s, n, 5 * 1024 * 1024),
    "PUSH_MULTIPART_CHUNKSIZE": lambda s, n: _int(s, n, 5 * 1024 * 1024),
    "PUSH_MAX_CONCURRENCY": lambda s, n: _int(s, n, 1),
    "PUSH_CONNECT_TIMEOUT": lambda s, n: _positive(s, n),
    "PUSH_READ_TIMEOUT": lambda s, n: _positive(s, n),
    "PUSH_RETRIES": lambda s, n: _at_most(_int(s, n, 0), n, 20),
    "PUSH_OBJECT_TIMEOUT": lambda s, n: _float(s, n, 0),
    "RETRY_RUNS_MAX": lambda s, n: _int(s, n, 1),
    "RETRY_BASE_DELAY": lambda s, n: _float(s, n, 0),
    "RETRY_MAX_DELAY": lambda s, n: _float(s, n, 0),
    "RETRY_AFTER_MAX": lambda s, n: _float(s, n, 0),
    "RETRY_RUN_BACKOFF": lambda s, n: _float(s, n, 0),
    "RETRY_RUN_BACKOFF_FACTOR": lambda s, n: _float(s, n, 1),
    "QUIET_ENABLED": _bool,
    "QUIET_FAILURE_RATIO": lambda s, n: _ratio(_float(s, n, 0), n),
    "QUIET_FAILURE_MIN": lambda s, n: _int(s, n, 1),
    "STORIES_ENABLED": _bool,
    "STORIES_NEAR_DUPLICATE_THRESHOLD": _fraction,
    "STORIES_RELATED_THRESHOLD": _fraction,
    "STORIES_WINDOW_DAYS": lambda s, n: _float(s, n, 0),
}


def check_settings(settings: BaseSettings) -> None:
    """Raise SettingsError for the first setting that is unusable."""
    archive_dir = settings.get("ARCHIVE_DIR")
    if not isinstance(archive_dir, str) or not archive_dir.strip():
        raise SettingsError("ARCHIVE_DIR must name a directory (set it with --archive)")
    check_archive_dir(archive_dir)
    prefix = settings.get("WARC_PREFIX")
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise SettingsError(
            f"WARC_PREFIX must be letters, digits, '_' or '.' (it starts each WARC file name and "
            f"'-' separates the name's fields), not {prefix!r}"
        )
    run_id = settings.get("ARCHIVE_RUN_ID")
    if run_id:  # it names the run's summary and log files
        _token(str(run_id), "ARCHIVE_RUN_ID")
    if settings.get("PUSH_TO"):
        _target(settings.get("PUSH_TO"), "PUSH_TO")
    for name, check in CHECKS.items():
        check(settings, name)
    if settings.getbool("EXTRACT_ENABLED"):
        _function(settings, "EXTRACT_FUNCTION")
    if settings.getbool("CLUSTER_ENABLED"):
        check_cluster(settings)


def _token(value: str, name: str) -> str:
    try:
        return check_token(value, name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _target(value: Any, name: str) -> str:
    try:
        return check_target(str(value))
    except PushError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def check_archive_dir(archive: str | Path) -> None:
    """Raise SettingsError unless `archive` is a directory this process can write in, or one
    it can create; creates nothing itself (a bad config found next must leave no trace)."""
    path = Path(archive)
    where = f"ARCHIVE_DIR (--archive) {path}"
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{where} exists and is not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise SettingsError(f"{where} is not writable")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SettingsError(f"{where} cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SettingsError(f"{where} cannot be created: {parent} is not writable")


CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def check_cluster(settings: BaseSettings) -> None:
    url = settings.get("REDIS_URL")
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL must be redis://[:password@]host[:port][/db] (or rediss://"
                            " or unix://) when CLUSTER_ENABLED is on")  # fmt: skip
    name = settings.get("CLUSTER_NAME")
    if not isinstance(name, str) or not CLUSTER_NAME_RE.match(name):
        raise SettingsError(f"CLUSTER_NAME must be letters, digits, '_', '.', ':' or '-' (it "
                            f"prefixes every Redis key), not {name!r}")  # fmt: skip
    worker = settings.get("CLUSTER_WORKER_ID")
    if worker:
        try:
            check_worker_id(worker, "CLUSTER_WORKER_ID")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    heartbeat = _float(settings, "CLUSTER_HEARTBEAT", 0.1)
    ttl = _int(settings, "CLUSTER_WORKER_TTL", 1)
    if ttl < 2 * heartbeat:
        raise SettingsError(
            f"CLUSTER_WORKER_TTL must be at least twice CLUSTER_HEARTBEAT ({heartbeat:g} s), "
            f"not {ttl}: a live worker would look dead"
        )
    _float(settings, "CLUSTER_REDIS_LOST_TIMEOUT", 0)
    _float(settings, "CLUSTER_IDLE_POLL", 0.01)
    _float(settings, "CLUSTER_SYNC_INTERVAL", 0.01)
    # at most one batched step (crawler.cluster.queue_state.MAX_BATCH)
    _at_most(_int(settings, "CLUSTER_PREFETCH", 1), "CLUSTER_PREFETCH", 1000)
    _float(settings, "CLUSTER_FLUSH_INTERVAL", 0.01)
    _at_most(_int(settings, "CLUSTER_TEXT_NUMBERS_AHEAD", 1), "CLUSTER_TEXT_NUMBERS_AHEAD", 1000)
