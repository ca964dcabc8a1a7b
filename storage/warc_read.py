"""Read one archived response back from its WARC record, as the server sent it.

Used where the archive's own copy stands in for a page: a hub that answered 304 is parsed from
its original capture (:mod:`crawler.middlewares.not_modified`), ``reextract`` extracts texts
again. A revisit record is followed to the capture it refers to. A record that is not there (its
file gone or cut short, an offset that does not start a record) is :class:`RecordMissing`, never
a bare StopIteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from storage.layout import ArchiveLayout
from storage.manifest import Manifest

MAX_REVISIT_HOPS = 5  # a revisit refers to a response; a chain longer than this is broken


class RecordMissing(LookupError):
    """The WARC record a manifest row or a sidecar names is not in the archive."""


@dataclass(frozen=True)
class StoredResponse:
    body: bytes  # decoded of its Content-Encoding
    headers: list[tuple[str, str]]  # as received, Content-Encoding included
    status: int
    record_id: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def read_response(
    layout: ArchiveLayout,
    manifest: Manifest | None,
    warc_file: str,
    offset: int,
    hops: int = 0,
    url: str | None = None,
) -> StoredResponse:
    """The response record at (warc_file, offset), a revisit followed to its original (through
    the manifest's captures; without one, a revisit is RecordMissing). With `url`, the record
    there must be a capture of that URL: where a record is comes from a request's meta, which
    a shared queue could have forged."""
    if Path(warc_file).name != warc_file or warc_file.startswith("."):
        raise RecordMissing(f"{warc_file!r:.200} is not the name of a WARC file")
    path = layout.warc_dir / warc_file
    try:
        record = _record_at(path, offset)
    except OSError as exc:
        raise RecordMissing(f"{warc_file}: {exc.strerror or exc}") from None
    if record is None:
        raise RecordMissing(f"no WARC record at offset {offset} of {warc_file}")
    rec_type, rec_id, refers, status, headers, body, target = record
    if url is not None and target != url:
        raise RecordMissing(f"the record at offset {offset} of {warc_file} is a capture of "
                            f"{target!r:.200}, not of {url!r:.200}")  # fmt: skip
    if rec_type == "revisit":
        rows = (
            manifest.query(
                "SELECT warc_file, warc_offset FROM captures WHERE record_id = ?", (refers,)
            )
            if manifest is not None
            else []
        )
        if not rows or hops >= MAX_REVISIT_HOPS:
            raise RecordMissing(f"the capture {refers} a revisit in {warc_file} refers to")
        return read_response(layout, manifest, rows[0]["warc_file"], rows[0]["warc_offset"],
                             hops + 1)  # fmt: skip
    if rec_type != "response":
        raise RecordMissing(f"the record at offset {offset} of {warc_file} is a {rec_type}")
    return StoredResponse(body, headers, status, rec_id)


def _record_at(
    path: Path, offset: int
) -> tuple[str, str, str, int, list[tuple[str, str]], bytes, str] | None:
    with path.open("rb") as fh:
        if offset >= fh.seek(0, 2):
            return None
        fh.seek(offset)
        try:
            record = next(iter(ArchiveIterator(fh)))
            body = record.content_stream().read() if record.rec_type == "response" else b""
        except StopIteration:
            return None
        except Exception as exc:  # a cut or corrupt record: warcio raises what it meets
            raise RecordMissing(f"unreadable WARC record at offset {offset} of {path.name}: "
                                f"{type(exc).__name__}: {exc}") from None  # fmt: skip
        h = record.rec_headers
        http = record.http_headers
        status = int(http.get_statuscode() or 0) if http is not None else 0
        headers = list(http.headers) if http is not None else []
        return (record.rec_type or "", h.get_header("WARC-Record-ID") or "",
                h.get_header("WARC-Refers-To") or "", status, headers, body,
                h.get_header("WARC-Target-URI") or "")  # fmt: skip
