"""The archive's CDXJ index: ARCHIVE/indexes/index.cdxj, sorted, of every closed WARC file.

Each closed WARC has its own part, ``indexes/by-warc/<warc name>.cdxj``, in the lines
webrecorder's cdxj-indexer makes of it (the index pywb and ReplayWeb.page read). The WARC writer
(:class:`storage.warc.WarcFileWriter`) makes each line as it appends the record
(:func:`record_entry`, from what it wrote: no byte of the file is read back) and writes the part
atomically once the file is closed and renamed (:func:`write_part`); a closed WARC never changes.
:func:`update_index` merges the parts into ``index.cdxj``, rewritten atomically, and makes the
part of a closed WARC that has none by reading it (:func:`index_warc`, cdxj-indexer): a file
repaired after a kill, one closed before parts were written this way, or whose part could not be
written. Lines are ``SURT-key 14-digit-timestamp {json}`` with url, mime, status, digest, length,
offset and filename (the WARC file's name). :func:`lookup` lists the captures of one URL.

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
original is unknown keeps its own line, without ``"refers_to"``. The writer resolves a revisit
with the captures row it refers to (:func:`resolved_line`), the rebuild with the manifest's: the
same line either way.
"""

from __future__ import annotations

import heapq
import io
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdxj_indexer.main import write_cdx_index
from surt import surt
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParser
from warcio.timeutils import iso_date_to_timestamp

from storage.atomic import write_atomic
from storage.layout import ArchiveLayout
from storage.manifest import Manifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexUpdate:
    indexed: list[str]  # WARC files new to index.cdxj now (their writer's parts, or read)
    total_files: int
    lines: int
    read: list[str] = field(default_factory=list)  # of those, indexed by reading the file


# Parts made before revisits were resolved are made again once (INDEX_FORMAT in by-warc/FORMAT)
INDEX_FORMAT = "3"
SERVER_NOT_MODIFIED = "server-not-modified"  # the short form of a 304 revisit's WARC-Profile
Originals = Callable[[list[str]], dict[str, dict[str, Any]]]  # record ids -> captures rows

# What cdxj-indexer does with a record, for record_entry to do the same without the file
_MIME_CUT = re.compile(r"[;\s]")  # CDXJIndexer.RE_SPACE: a Content-Type to its first word
_HTTP_PARSER = StatusAndHeadersParser(ArcWarcRecordLoader.HTTP_TYPES, verify=False)


def record_entry(
    rec_type: str, target_uri: str, warc_date: str, http_block: bytes | None,
    payload_digest: str | None, offset: int, length: int, filename: str,
) -> dict[str, Any]:  # fmt: skip
    """The entry (as :func:`parse_line` gives it) cdxj-indexer makes of a response or revisit
    record with these headers, written at `offset` (`length` bytes, gzipped) of `filename`:
    WARC-Target-URI as warcio reads it back, mime and status from the HTTP block as warcio
    parses it (`http_block`: the bytes the record has, status line to blank line)."""
    url = target_uri.strip()  # warcio's header parser: the value stripped
    if url.startswith("<") and url.endswith(">"):  # ArcWarcRecordLoader._ensure_target_uri_format
        url = url[1:-1]
    url = url.replace(" ", "%20")
    http = None
    if http_block and url.startswith(ArcWarcRecordLoader.HTTP_SCHEMES):
        try:
            http = _HTTP_PARSER.parse(io.BytesIO(http_block))
        except EOFError:  # an empty revisit: no HTTP headers
            http = None
    fields: dict[str, Any] = {"url": url}
    if rec_type == "revisit":
        fields["mime"] = "warc/revisit"
    elif http:
        mime = http.get_header("content-type")
        if mime is not None:
            fields["mime"] = _MIME_CUT.split(mime, 1)[0].strip() if mime else mime
    if http:
        fields["status"] = http.get_statuscode()
    if payload_digest:
        fields["digest"] = payload_digest
    fields.update(length=str(length), offset=str(offset), filename=filename)
    try:
        key = surt(url)
    except Exception:  # as cdxj-indexer: an URL surt cannot take is its own key
        key = url
    return {"urlkey": key, "timestamp": iso_date_to_timestamp(warc_date), **fields}


def entry_line(entry: Mapping[str, Any]) -> str:
    """An entry (:func:`parse_line`'s form) as its CDXJ line."""
    data = {k: v for k, v in entry.items() if k not in ("urlkey", "timestamp")}
    return f"{entry['urlkey']} {entry['timestamp']} {json.dumps(data)}\n"


def resolved_line(
    entry: Mapping[str, Any], original: Mapping[str, Any] | None, profile: str
) -> str | None:
    """The line of a revisit record (`entry`, `profile` its WARC-Profile's last part) that
    refers to the captures row `original`; None when it keeps its own (original unknown)."""
    if original is None or original.get("record_type") != "response":
        return None
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
    return f"{entry['urlkey']} {entry['timestamp']} {json.dumps(data)}\n"


def short_profile(warc_profile: str) -> str:
    """A WARC-Profile URI's last part: ``server-not-modified``, ``identical-payload-digest``."""
    return warc_profile.rstrip("/").rsplit("/", 1)[-1]


def part_bytes(lines: Iterable[str]) -> bytes:
    """A part's content: the lines sorted, a repeated one once (as cdxj-indexer's sort)."""
    out: list[str] = []
    for line in sorted(lines):
        if not out or out[-1] != line:
            out.append(line)
    return "".join(out).encode("utf-8")


def write_part(layout: ArchiveLayout, warc_name: str, lines: Iterable[str]) -> None:
    """The part of a closed WARC file, written atomically (a kill leaves it whole or absent).
    The first part of an archive also marks its parts as of this INDEX_FORMAT."""
    parts = layout.index_parts_dir
    parts.mkdir(parents=True, exist_ok=True)
    layout.tmp_dir.mkdir(parents=True, exist_ok=True)
    format_file = parts / "FORMAT"
    if not format_file.exists() and next(parts.glob("*.cdxj"), None) is None:
        write_atomic(format_file, INDEX_FORMAT.encode(), layout.tmp_dir)
    write_atomic(layout.index_part_path(warc_name), part_bytes(lines), layout.tmp_dir)


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
        resolved = resolved_line(entry, found.get(record_id), profile)
        if resolved is not None:
            lines[i] = resolved
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
            profile = short_profile(headers.get_header("WARC-Profile") or "")
            out[offset] = (headers.get_header("WARC-Refers-To") or "", profile)
    return out


def update_index(
    layout: ArchiveLayout, upgrade: bool = True, written: Collection[str] = ()
) -> IndexUpdate:
    """Merge the parts of every closed WARC file into index.cdxj, making the missing ones from
    the files; returns what it did. `written`: the WARC files whose parts the caller's writer
    made (a crawl's), new to the index.

    Parts made by an older version (``by-warc/FORMAT``) are made again with `upgrade` (the
    index and export commands); a crawl passes False: re-indexing a large archive must not hold
    the crawl's close and its lock for hours, so its new files are indexed and the rest waits
    for ``newsarchiver index``."""
    by_warc = layout.index_parts_dir
    by_warc.mkdir(parents=True, exist_ok=True)
    layout.tmp_dir.mkdir(parents=True, exist_ok=True)
    warcs = layout.closed_warcs()
    format_file = by_warc / "FORMAT"
    stale = not format_file.exists() or format_file.read_text().strip() != INDEX_FORMAT
    to_read = [
        w for w in warcs if (stale and upgrade) or not layout.index_part_path(w.name).exists()
    ]
    indexed = [w.name for w in warcs if w.name in written and w not in to_read]
    read: list[str] = []
    manifest = Manifest(layout.manifest_path) if to_read and layout.manifest_path.exists() else None
    try:
        originals = manifest.captures_by_record_id if manifest is not None else None
        for warc in to_read:
            write_atomic(layout.index_part_path(warc.name), index_warc(warc, originals),
                         layout.tmp_dir)  # fmt: skip
            read.append(warc.name)
    finally:
        if manifest is not None:
            manifest.close()
    indexed += read
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
        logger.info("indexed %d WARC file(s) (%d read back); %s has %d lines", len(indexed),
                    len(read), layout.index_path, lines)  # fmt: skip
    return IndexUpdate(indexed, len(parts), lines, read)


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
