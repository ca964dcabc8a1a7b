"""Atomic file writes: temporary file in ARCHIVE/tmp, fsync, rename into place.

A crawl killed at any moment leaves either the whole file or none of it under its final name;
what a killed writer left in tmp/ is removed by :func:`clean_tmp` when the next crawl starts.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, tmp_dir: Path, *, fsync: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)


def json_bytes(data: dict[str, Any]) -> bytes:
    """A sidecar's bytes: indented UTF-8 JSON ending in a newline, as every sidecar is written."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def clean_tmp(tmp_dir: Path) -> int:
    """Remove what a killed writer left behind; returns how many files went."""
    removed = 0
    for leftover in tmp_dir.glob("*.tmp"):
        leftover.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.warning("removed %d partial file(s) left in %s by an earlier run", removed, tmp_dir)
    return removed
