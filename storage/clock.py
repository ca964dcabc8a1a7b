"""The archive's clock: the current time in UTC, the one ISO 8601 form every file and manifest
row writes, and run ids made from the time.

Kept apart from :mod:`storage.layout` (where things live in an archive) so that a component
needing only the time (the retry middleware's backoff, a lock's stamp) does not import the
archive's layout. Settings: none.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: the form every file and manifest row uses."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(now: datetime | None = None) -> str:
    """A crawl run's id: its start to the second, then 6 random hex digits (two runs started in
    the same second on one archive stay apart)."""
    now = now or utc_now()
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
