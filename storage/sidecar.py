"""A text's sidecar (``text/NNN_HASH.json``), built in one place from the text's copies.

A copy is one URL that had the text: one ``articles`` row of the manifest (its outlet, URLs,
fetched time, WARC record and the page's own published date, author and language). The same
text at two outlets' URLs (a syndicated story) is stored once and credited to both: the sidecar
lists every outlet with each of its copies under ``outlets``. Its top-level fields describe the
**canonical copy**, chosen by :func:`canonical_key` whatever order the crawl fetched them in: the
first published by the page's published date (a date without a time is the start of its day,
UTC; a copy whose page gave no date comes after every dated one), then the first URL in sort
order. ``other_urls`` (every other URL, sorted) stays for readers of the older sidecar. Each copy
(and the top level, for the canonical copy) has its ``canonical_url``: the identity of its URL
(:mod:`storage.url_identity`; tracking parameters and fragment gone, the query sorted), what the
crawl asks "archived already?" by; ``url`` is the URL as fetched, the WARC record's.

:func:`build_sidecar` is pure: the pipeline, the crash repair (:mod:`storage.evidence`) and the
merge of a distributed crawl's manifests (:mod:`storage.merge`) all build the sidecar with it.
:func:`credit_text` rebuilds one text's sidecar from the manifest, writes it atomically when it
changed and points the manifest's ``texts.url``/``texts.outlet`` at the canonical copy.

A copy stored before the manifest kept published date, author, language and record id per URL
(schema version 1) has them from the previous sidecar, when that names the same URL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from storage.atomic import json_bytes, write_atomic
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.url_identity import canonical_or_none

# what each copy in `outlets` says, in this order (the names of the top-level fields)
COPY_FIELDS = (
    "url", "final_url", "canonical_url", "fetched_at", "published", "author", "http_status",
    "warc_file", "warc_record_offset", "warc_record_id",
)  # fmt: skip
# taken from the previous sidecar for a copy the manifest has them not for (schema version 1)
_LEGACY_FIELDS = ("published", "author", "language", "warc_record_id")


def published_key(value: str | None) -> str | None:
    """`value` (ISO 8601) in a form that sorts by time: a date as it is, a date and time in UTC
    to the second. None for no date or one that does not parse."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:  # no offset given: read as UTC, the archive's own clock
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_key(copy: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Sorts the canonical copy first: dated before undated, earliest date, then the URL."""
    when = published_key(copy.get("published"))
    return (when is None, when or "", str(copy["url"]))


def copy_of(row: Mapping[str, Any] | sqlite3.Row) -> dict[str, Any]:
    """One ``articles`` row (its columns: ``warc_offset``) or a copy as the sidecar lists it
    (``warc_record_offset``), as a copy."""
    keys = set(row.keys())

    def get(name: str) -> Any:
        return row[name] if name in keys else None

    offset = get("warc_offset") if "warc_offset" in keys else get("warc_record_offset")
    return {
        "url": row["url"], "final_url": get("final_url"),
        # a copy of an older sidecar had none: its URL's by the default rules
        "canonical_url": get("canonical_url") or canonical_or_none(row["url"]),
        "outlet": get("outlet"),
        "fetched_at": get("fetched_at"), "published": get("published"), "author": get("author"),
        "language": get("language"), "http_status": get("http_status"),
        "warc_file": get("warc_file"), "warc_record_offset": offset,
        "warc_record_id": get("warc_record_id"),
    }  # fmt: skip


def _previous_copies(previous: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """URL -> what the previous sidecar said about that copy."""
    if not previous:
        return {}
    known: dict[str, Mapping[str, Any]] = {}
    for copies in (previous.get("outlets") or {}).values():
        for entry in copies:
            if isinstance(entry, Mapping) and entry.get("url"):
                known[str(entry["url"])] = entry
    if previous.get("url"):  # the top level: a sidecar from before `outlets`
        known.setdefault(str(previous["url"]), previous)
    return known


def build_sidecar(
    text_file: str,
    sha256: str,
    title: str | None,
    rows: Iterable[Mapping[str, Any] | sqlite3.Row],
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The sidecar of a text whose copies are `rows` (``articles`` rows or :func:`copy_of`
    dicts); `previous` is the sidecar it replaces, if any."""
    copies = [copy_of(r) for r in rows]
    if not copies:
        raise ValueError(f"{text_file}: a sidecar needs at least one copy")
    before = _previous_copies(previous)
    for copy in copies:
        old = before.get(copy["url"], {})
        for name in _LEGACY_FIELDS:
            if copy[name] is None and old.get(name) is not None:
                copy[name] = old[name]
    copies.sort(key=canonical_key)
    first = copies[0]
    outlets: dict[str, list[dict[str, Any]]] = {}
    for copy in copies:  # the canonical outlet first, each outlet's copies in the same order
        outlets.setdefault(str(copy["outlet"]), []).append({f: copy[f] for f in COPY_FIELDS})
    language = first["language"] or next((c["language"] for c in copies if c["language"]), None)
    return {
        "text_file": text_file,
        "url": first["url"], "final_url": first["final_url"],
        "canonical_url": first["canonical_url"], "outlet": first["outlet"],
        "title": title if title is not None else (previous or {}).get("title"),
        "author": first["author"], "published": first["published"],
        "language": language or (previous or {}).get("language"),
        "fetched_at": first["fetched_at"], "sha256": sha256,
        "warc_file": first["warc_file"], "warc_record_offset": first["warc_record_offset"],
        "warc_record_id": first["warc_record_id"], "http_status": first["http_status"],
        "other_urls": sorted({c["url"] for c in copies[1:]} - {first["url"]}),
        "outlets": outlets,
    }  # fmt: skip


@dataclass(frozen=True)
class Credited:
    sidecar: dict[str, Any]
    written: bool  # the sidecar file changed
    moved: bool  # the canonical copy is another one than the manifest named


def read_sidecar(layout: ArchiveLayout, stem: str) -> dict[str, Any] | None:
    try:
        data = json.loads(layout.sidecar_path(stem).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def credit_text(
    layout: ArchiveLayout,
    manifest: Manifest,
    text_id: int,
    *,
    without: str | None = None,
    write: bool = True,
    fsync: bool = True,
) -> Credited:
    """Rebuild text `text_id`'s sidecar from its copies in the manifest (`without`: all but the
    copy of that URL, one that is being dropped), write it if it changed (`write`: the text's
    files are on this disk), and point the manifest at its canonical copy. Run in the caller's
    writer thread: it reads and writes the sidecar and the manifest."""
    text = manifest.text_row(text_id)
    if text is None:
        raise KeyError(f"no text {text_id} in the manifest")
    copies = [copy_of(r) for r in manifest.articles_for_text(text_id) if r["url"] != without]
    for copy in copies:
        if copy["warc_record_id"] is None and copy["warc_file"]:
            # a row without its record id (one the schema migration found no capture row for,
            # the capture re-derived since by a repair): the capture's
            record = manifest.query(
                "SELECT record_id FROM captures WHERE warc_file = ? AND warc_offset = ?",
                (copy["warc_file"], copy["warc_record_offset"]),
            )
            copy["warc_record_id"] = record[0]["record_id"] if record else None
    previous = read_sidecar(layout, text["stem"]) if write else None
    sidecar = build_sidecar(layout.text_path(text["stem"]).name, text["sha256"], text["title"],
                            copies, previous)  # fmt: skip
    written = write and sidecar != previous
    if written:
        write_atomic(layout.sidecar_path(text["stem"]), json_bytes(sidecar), layout.tmp_dir,
                     fsync=fsync)  # fmt: skip
    canonical = (sidecar["url"], sidecar["outlet"])
    moved = (text["url"], text["outlet"]) != canonical
    if moved:
        manifest.set_canonical(text_id, *canonical)
    return Credited(sidecar, written, moved and text["url"] is not None)
