"""What the command groups share: the ``-s NAME=VALUE`` option, the push target, the manifest
of an existing archive and the dates of ``--since``/``--until``, each a ConfigError (exit 2)
when wrong. Reads no settings."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone

from crawler.outlets import ConfigError
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.object_store import PushError, check_target


def add_set(p: argparse.ArgumentParser) -> None:
    """The repeatable ``-s NAME=VALUE`` setting override, as in scrapy."""
    p.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Scrapy or newsarchiver setting (repeatable)",
    )


def checked_target(target: str | None, option: str) -> str | None:
    """A push target that names its store unambiguously; else a ConfigError (exit 2)."""
    if not target:
        return None
    try:
        return check_target(target)
    except PushError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def open_manifest(archive: str) -> Manifest:
    """The manifest of an existing archive; a ConfigError (exit 2) when there is none."""
    layout = ArchiveLayout(archive)
    if not layout.manifest_path.exists():
        raise ConfigError(f"no archive at {layout.root} (no manifest.sqlite)")
    return Manifest(layout.manifest_path)


DATE_EXAMPLES = "e.g. 2026-03-01 or 2026-03-01T06:00:00Z"


def parse_date(value: str, option: str, end: bool = False) -> datetime:
    """An option's ISO 8601 date or date-time, aware (UTC unless it says); `end`: a date alone
    means the midnight after it (``--until 2026-03-01`` keeps all of March 1st)."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read the Z
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        # "month must be in 1..12" says what is wrong; "Invalid isoformat string" only repeats it
        why = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
        raise ConfigError(f"{option}: {value!r} is not an ISO 8601 date or date-time{why}; "
                          f"{DATE_EXAMPLES}") from None  # fmt: skip
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if end and len(text) == 10:  # YYYY-MM-DD
        when += timedelta(days=1)
    return when


def parse_day(value: str, option: str) -> str:
    """An option that takes a day only (YYYY-MM-DD), as given."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise ConfigError(f"{option} must be a date YYYY-MM-DD, not {value!r}")
