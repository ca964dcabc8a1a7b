"""The archive's CDXJ index: ARCHIVE/indexes/index.cdxj, sorted, of every closed WARC file.

Each closed WARC is indexed once, by cdxj-indexer (the index pywb and ReplayWeb.page read), into
``indexes/by-warc/<warc name>.cdxj``; a closed WARC never changes, so later updates only index
the new files. ``index.cdxj`` is the sorted merge of them all, rewritten atomically. Lines are
``SURT-key 14-digit-timestamp {json}`` with url, mime, status, digest, length, offset and
filename (the WARC file's name). :func:`lookup` lists the captures of one URL.

Revisits name the capture they refer to (``WARC-Refers-To``, found in the manifest's
``captures``) in ``"refers_to"``: its timestamp, filename, offset and length. A
``server-not-modified`` revisit (a 304) is replayed by pywb and ReplayWeb.page with its own HTTP
headers: an empty 304, so every hub page of an incremental crawl replayed blank, and the replay
without a timestamp picks just that capture. Its line here (what pywb reads) is therefore the
capture it refers to: the revisit's URL and time, the original response's filename, offset,
length, status and mime, and the revisit record itself in ``"revisit"`` (profile, status,
filename, offset, length). ReplayWeb.page rejects a record whose time is not its line's, so
:func:`replaywebpage_line` turns such a line back into the revisit's own, status 200: it
resolves the revisit to its original and serves the original's payload. Identical-payload
revisits keep their own lines (both tools look the original up); ReplayWeb.page would not take a
record of another URL than the line's. The WARC keeps every record as written; a revisit whose
original is unknown keeps its own line, without ``"refers_to"``.
"""

from __future__ import annotations

import heapq
import io
import json
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdxj_indexer.main import write_cdx_index
from surt import surt
from warcio.archiveiterator import ArchiveIterator

from storage.atomic import write_atomic
from storage.layout import ArchiveLayout
from storage.manifest import Manifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexUpdate:
    indexed: list[str]  # WARC files indexed now
    total_files: int
    lines: int


def _by_warc_dir(layout: ArchiveLayout) -> Path:
    return layout.indexes_dir / "by-warc"


# Parts made before revisits were resolved are made again once (INDEX_FORMAT in by-warc/FORMAT)
INDEX_FORMAT = "3"
SERVER_NOT_MODIFIED = "server-not-modified"  # the short form of a 304 revisit's WARC-Profile
Originals = Callable[[list[str]], dict[str, dict[str, Any]]]  # record ids -> captures rows


def index_warc(warc: Path, originals: Originals | None = None) -> bytes:
    """The sorted CDXJ lines of one WARC file, filename fields being the file's name; with
    `originals` (Manifest.captures_by_record_id), revisits indexed as what they refer to."""
    out = io.StringIO()
    write_cdx_index(out, [str(warc)], {"sort": True, "dir_root": str(warc.parent)})
    lines = out.getvalue().splitlines(keepends=True)
    if originals is not None:
        lines = _resolve_revisits(warc, lines, originals)
    return "".join(lines).encode("utf-8")


def _resolve_revisits(warc: Path, lines: list[str], originals: Originals) -> list[str]:
    revisits = {}
    for i, line in enumerate(lines):
        if '"warc/revisit"' in line:
            entry = parse_line(line)
            if entry.get("mime") == "warc/revisit":
                revisits[i] = entry
    if not revisits:
        return lines
    refers = _refers_to(warc, sorted({int(e["offset"]) for e in revisits.values()}))
    found = originals([r for r, _ in refers.values()])
    for i, entry in revisits.items():
        record_id, profile = refers.get(int(entry["offset"]), ("", ""))
        original = found.get(record_id)
        if original is None or original["record_type"] != "response":
            continue
        data: dict[str, Any] = {k: v for k, v in entry.items() if k not in ("urlkey", "timestamp")}
        data["refers_to"] = {"timestamp": _timestamp(original["warc_date"]),
                             "filename": original["warc_file"],
                             "offset": str(original["warc_offset"]),
                             "length": str(original["warc_length"])}  # fmt: skip
        if profile == SERVER_NOT_MODIFIED:
            own: dict[str, Any] = {"profile": profile}
            own.update((k, entry[k]) for k in ("status", "filename", "offset", "length"))
            data.update(
                mime=(original["content_type"] or "unk").split(";")[0].strip().lower(),
                status=str(original["status"]),
                digest=original["payload_digest"] or data.get("digest"),
                filename=original["warc_file"], offset=str(original["warc_offset"]),
                length=str(original["warc_length"]), revisit=own,
            )  # fmt: skip
        lines[i] = f"{entry['urlkey']} {entry['timestamp']} {json.dumps(data)}\n"
    return sorted(lines)  # as cdxj-indexer sorts: the merge needs each part in order


def replaywebpage_line(line: str) -> str:
    """The line as ReplayWeb.page replays it (for a WACZ): a 304's resolved line turned back
    into its revisit record's own, with status 200 (see the module docstring)."""
    if '"revisit"' not in line:
        return line
    key, timestamp, raw = line.rstrip("\n").split(" ", 2)
    data = json.loads(raw)
    own = data.pop("revisit", None)
    if not own:
        return line
    data.update(mime="warc/revisit", status="200", filename=own["filename"],
                offset=own["offset"], length=own["length"])  # fmt: skip
    return f"{key} {timestamp} {json.dumps(data)}\n"


def _timestamp(warc_date: str) -> str:
    """A WARC-Date (2026-03-01T12:00:00Z, maybe with fractions) as CDXJ's 14 digits."""
    return "".join(ch for ch in warc_date if ch.isdigit())[:14]


def _refers_to(warc: Path, offsets: list[int]) -> dict[int, tuple[str, str]]:
    """offset -> (WARC-Refers-To, short profile) of the revisit records at these offsets."""
    out = {}
    with warc.open("rb") as fh:
        for offset in offsets:
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)), None)
            if record is None or record.rec_type != "revisit":
                continue
            headers = record.rec_headers
            profile = (headers.get_header("WARC-Profile") or "").rstrip("/").rsplit("/", 1)[-1]
            out[offset] = (headers.get_header("WARC-Refers-To") or "", profile)
    return out


def update_index(layout: ArchiveLayout, upgrade: bool = True) -> IndexUpdate:
    """Index the closed WARC files not indexed yet and rewrite index.cdxj; returns what it did.

    Parts made by an older version (``by-warc/FORMAT``) are made again with `upgrade` (the
    index and export commands); a crawl passes False: re-indexing a large archive must not hold
    the crawl's close and its lock for hours, so its new files are indexed and the rest waits
    for ``newsarchiver index``."""
    by_warc = _by_warc_dir(layout)
    by_warc.mkdir(parents=True, exist_ok=True)
    layout.tmp_dir.mkdir(parents=True, exist_ok=True)
    indexed = []
    warcs = layout.closed_warcs()
    format_file = by_warc / "FORMAT"
    stale = not format_file.exists() or format_file.read_text().strip() != INDEX_FORMAT
    manifest = Manifest(layout.manifest_path) if layout.manifest_path.exists() else None
    try:
        originals = manifest.captures_by_record_id if manifest is not None else None
        for warc in warcs:
            part = by_warc / f"{warc.name}.cdxj"
            if (stale and upgrade) or not part.exists():
                write_atomic(part, index_warc(warc, originals), layout.tmp_dir)
                indexed.append(warc.name)
    finally:
        if manifest is not None:
            manifest.close()
    if stale and (upgrade or len(indexed) == len(warcs)):
        write_atomic(format_file, INDEX_FORMAT.encode(), layout.tmp_dir)
    elif stale:
        logger.warning("%d index part(s) of %s were made by an older version (revisits not "
                       "resolved for replay): `newsarchiver index` makes them again",
                       len(warcs) - len(indexed), layout.indexes_dir)  # fmt: skip
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
