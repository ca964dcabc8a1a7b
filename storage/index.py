"""The archive's CDXJ index: ARCHIVE/indexes/index.cdxj, sorted, of every closed WARC file.

Each closed WARC is indexed once, by cdxj-indexer (the index pywb and ReplayWeb.page read), into
``indexes/by-warc/<warc name>.cdxj``; a closed WARC never changes, so later updates only index
the new files. ``index.cdxj`` is the sorted merge of them all, rewritten atomically. Lines are
``SURT-key 14-digit-timestamp {json}`` with url, mime, status, digest, length, offset and
filename (the WARC file's name). :func:`lookup` lists the captures of one URL.
"""

from __future__ import annotations

import heapq
import io
import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdxj_indexer.main import write_cdx_index
from surt import surt

from storage.atomic import write_atomic
from storage.layout import ArchiveLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexUpdate:
    indexed: list[str]  # WARC files indexed now
    total_files: int
    lines: int


def _by_warc_dir(layout: ArchiveLayout) -> Path:
    return layout.indexes_dir / "by-warc"


def index_warc(warc: Path) -> bytes:
    """The sorted CDXJ lines of one WARC file, filename fields being the file's name."""
    out = io.StringIO()
    write_cdx_index(out, [str(warc)], {"sort": True, "dir_root": str(warc.parent)})
    return out.getvalue().encode("utf-8")


def update_index(layout: ArchiveLayout) -> IndexUpdate:
    """Index the closed WARC files not indexed yet and rewrite index.cdxj; returns what it did."""
    by_warc = _by_warc_dir(layout)
    by_warc.mkdir(parents=True, exist_ok=True)
    layout.tmp_dir.mkdir(parents=True, exist_ok=True)
    indexed = []
    warcs = layout.closed_warcs()
    for warc in warcs:
        part = by_warc / f"{warc.name}.cdxj"
        if not part.exists():
            write_atomic(part, index_warc(warc), layout.tmp_dir)
            indexed.append(warc.name)
    # WARC files deleted after a verified push stay in the index: their captures are in S3
    parts = sorted(by_warc.glob("*.cdxj"))
    lines = 0
    merged = io.BytesIO()
    with ExitStack() as stack:
        files = [stack.enter_context(p.open("rb")) for p in parts]
        for line in heapq.merge(*files):
            merged.write(line)
            lines += 1
    write_atomic(layout.index_path, merged.getvalue(), layout.tmp_dir)
    if indexed:
        logger.info("indexed %d WARC file(s); %s has %d lines", len(indexed), layout.index_path,
                    lines)  # fmt: skip
    return IndexUpdate(indexed, len(parts), lines)


def parse_line(line: str) -> dict[str, Any]:
    key, timestamp, data = line.rstrip("\n").split(" ", 2)
    return {"urlkey": key, "timestamp": timestamp, **json.loads(data)}


def lookup(layout: ArchiveLayout, url: str) -> list[dict[str, Any]]:
    """Every capture of `url` in index.cdxj (responses, revisits), oldest first."""
    key = surt(url)
    prefix = key + " "
    found: list[dict[str, Any]] = []
    if not layout.index_path.exists():
        return found
    with layout.index_path.open("r", encoding="utf-8") as fh:
        for line in fh:  # sorted: stop once past the key
            if line.startswith(prefix):
                found.append(parse_line(line))
            elif found or line[: len(key)] > key:
                break
    return found
