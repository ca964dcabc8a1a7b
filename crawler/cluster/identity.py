"""A worker's id: who it is in the run's Redis keys, in its WARC names and in its pushed part.

Unless given (``--worker-id`` / ``CLUSTER_WORKER_ID``) it is the host name and a short hash of
the resolved archive directory, ``<host>_<8 hex>``: two workers on one machine, each with its own
archive, get two ids, and one archive keeps its id from run to run. An archive that holds WARCs
named with the bare host name (written by an earlier version, whose default that was) keeps the
bare host name, so its pushed part (``manifests/<id>.sqlite``) stays the same.

A given id reaches file names (WARCs) and object keys (``manifests/<id>.sqlite``,
``indexes/<id>/``): it must be letters, digits, ``_`` and ``.`` (no ``-``: WARC names are split on
it), first a letter or digit, at most :data:`MAX_LENGTH` characters; anything else is exit 2,
naming the option it came from.

Settings read: ``CLUSTER_WORKER_ID``, ``ARCHIVE_DIR``, ``WARC_PREFIX``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from scrapy.settings import BaseSettings

from storage.layout import safe_hostname

MAX_LENGTH = 64
WORKER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$")
HOST_MAX = MAX_LENGTH - 9  # room for "_" and the hash


def check_worker_id(value: object, option: str) -> str:
    """`value` if it is a safe worker id; else ValueError naming `option`."""
    if not isinstance(value, str) or not WORKER_ID_RE.match(value):
        raise ValueError(f"{option} must be letters, digits, '_' or '.', first a letter or digit, "
                         f"at most {MAX_LENGTH} characters (it goes into WARC file names and "
                         f"object keys), not {value!r:.100}")  # fmt: skip
    return value


def default_worker_id(archive_dir: str | Path, warc_prefix: str = "") -> str:
    """``<host>_<hash of the archive's path>``; the bare host for an archive named so before."""
    host = safe_hostname()[:HOST_MAX] or "localhost"
    root = Path(archive_dir).expanduser().resolve()
    if warc_prefix and any((root / "warc").glob(f"{glob_escape(warc_prefix)}_{host}-*")):
        return host
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{host}_{digest}"


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def worker_id(settings: BaseSettings) -> str:
    """The crawl's worker id: the given one, or this archive's default."""
    given = settings.get("CLUSTER_WORKER_ID")
    if given:
        return str(given)
    return default_worker_id(settings.get("ARCHIVE_DIR") or ".", settings.get("WARC_PREFIX") or "")
