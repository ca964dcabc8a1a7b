"""Start-up checks of the project's settings; every error names the setting.

A bad value must stop the crawl before the first request, not disable a component: Scrapy's
``NotConfigured`` would switch WARC capture off with a warning and the crawl would go on without
evidence. So components raise :class:`SettingsError` (the CLI exits 2 on it) and keep
``NotConfigured`` for their on/off flag only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from scrapy.settings import BaseSettings

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
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, not {value:g}")
    return value


def _int(settings: BaseSettings, name: str, minimum: int) -> int:
    return int(_number(settings, name, minimum, int))


def _float(settings: BaseSettings, name: str, minimum: float) -> float:
    return float(_number(settings, name, minimum))


def _positive(settings: BaseSettings, name: str) -> float:
    value = _float(settings, name, 0)
    if value <= 0:
        # botocore takes 0 as "no timeout": a stalled server would hold the push for ever
        raise SettingsError(f"{name} must be more than 0 seconds, not {value:g}")
    return value


def _at_most(value: int, name: str, maximum: int) -> int:
    if value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def _one_of(settings: BaseSettings, name: str, choices: tuple[str, ...]) -> str:
    value = settings.get(name)
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


CHECKS: dict[str, Callable[[BaseSettings, str], Any]] = {
    "WARC_MAX_SIZE": lambda s, n: _int(s, n, 64 * 1024),
    "WARC_GZIP_LEVEL": lambda s, n: _at_most(_int(s, n, 0), n, 9),
    "WARC_MAX_PENDING_BYTES": lambda s, n: _int(s, n, 0),
    "WARC_FSYNC": lambda s, n: _one_of(s, n, ("close", "record")),
    "ARCHIVE_MIN_FREE_MB": lambda s, n: _float(s, n, 0),
    "EXTRACT_WORKERS": lambda s, n: _int(s, n, 0),
    "EXTRACT_MIN_CHARS": lambda s, n: _int(s, n, 0),
    "EXTRACT_TIMEOUT": lambda s, n: _float(s, n, 0),
    "DOWNLOAD_MAXSIZE": lambda s, n: _int(s, n, 0),
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
}


def check_settings(settings: BaseSettings) -> None:
    """Raise SettingsError for the first setting that is unusable."""
    archive_dir = settings.get("ARCHIVE_DIR")
    if not isinstance(archive_dir, str) or not archive_dir.strip():
        raise SettingsError("ARCHIVE_DIR must name a directory (set it with --archive)")
    prefix = settings.get("WARC_PREFIX")
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise SettingsError(
            f"WARC_PREFIX must be letters, digits, '_' or '.' (it starts each WARC file name and "
            f"'-' separates the name's fields), not {prefix!r}"
        )
    for name, check in CHECKS.items():
        check(settings, name)
    if settings.getbool("CLUSTER_ENABLED"):
        check_cluster(settings)


CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
WORKER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


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
    if worker and (not isinstance(worker, str) or not WORKER_ID_RE.match(worker)):
        raise SettingsError(f"CLUSTER_WORKER_ID must be letters, digits, '_' or '.' (it goes "
                            f"into WARC file names), not {worker!r}")  # fmt: skip
    heartbeat = _float(settings, "CLUSTER_HEARTBEAT", 0.1)
    ttl = _int(settings, "CLUSTER_WORKER_TTL", 1)
    if ttl < 2 * heartbeat:
        raise SettingsError(
            f"CLUSTER_WORKER_TTL must be at least twice CLUSTER_HEARTBEAT ({heartbeat:g} s), "
            f"not {ttl}: a live worker would look dead"
        )
    _float(settings, "CLUSTER_REDIS_LOST_TIMEOUT", 0)
    _float(settings, "CLUSTER_IDLE_POLL", 0.01)
