"""Export (part of) an archive as a WACZ 1.1.1 package, for ReplayWeb.page and sharing.

The zip holds ``archive/`` (the WARC files, stored uncompressed as the spec asks: they are
gzipped already), ``indexes/index.cdxj`` (their CDXJ lines), ``pages/pages.jsonl`` (one line per
archived article: url, title, ts, text) and ``datapackage.json`` listing every file with its
SHA-256 and size, plus ``datapackage-digest.json`` (the SHA-256 of datapackage.json). With
``outlet``/``since`` only the matching articles are pages, and only the WARC files that hold
their captures go in (whole: a WARC file is the unit of a WACZ), with the files holding the
captures their revisits refer to; a 304's line in the form ReplayWeb.page replays
(:func:`storage.index.replaywebpage_line`). Written to a temporary name and
renamed, so a killed export leaves no half a package.

Nothing is written for an export that cannot be what was asked: an outlet the archive does not
know (:class:`UnknownOutlet`), or no article to be a page (:class:`NothingToExport`, unless
``allow_empty``: a package without pages, the WARC files of a whole archive still in it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.clock import iso, utc_now
from storage.index import replaywebpage_line, update_index
from storage.layout import ArchiveLayout
from storage.manifest import Manifest

logger = logging.getLogger(__name__)

WACZ_VERSION = "1.1.1"


class ExportError(ValueError):
    """The export cannot be made as asked; nothing was written."""


class UnknownOutlet(ExportError):
    """The outlet asked for is not one of the archive's."""


class NothingToExport(ExportError):
    """No archived article matches: the package would have no page."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    pages: int
    warc_files: int
    bytes: int


def _sha256_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
            size += len(block)
    return size, "sha256:" + digest.hexdigest()


def _pages(layout: ArchiveLayout, manifest: Manifest, outlet: str | None,
           since: str | None) -> list[dict[str, Any]]:  # fmt: skip
    sql = (
        "SELECT a.url, a.final_url, a.outlet, a.fetched_at, a.warc_file, t.stem, t.title"
        " FROM articles a JOIN texts t ON t.id = a.text_id WHERE t.state = 'stored'"
    )
    params: list[Any] = []
    if outlet:
        sql += " AND a.outlet = ?"
        params.append(outlet)
    if since:
        sql += " AND a.fetched_at >= ?"
        params.append(since)
    pages = []
    for row in manifest.query(sql + " ORDER BY a.fetched_at, a.url", params):
        text_path = layout.text_path(row["stem"])
        if not text_path.exists():
            continue
        body = text_path.read_text(encoding="utf-8").split("\n\n", 1)
        pages.append({
            "id": hashlib.sha1(f"{row['final_url']} {row['fetched_at']}".encode()).hexdigest(),
            "url": row["final_url"], "title": row["title"], "ts": row["fetched_at"],
            "text": body[1].strip() if len(body) > 1 else "", "warc": row["warc_file"],
        })  # fmt: skip
    return pages


def _part(layout: ArchiveLayout, warc_name: str) -> list[str]:
    part = layout.index_part_path(warc_name)
    return part.read_text(encoding="utf-8").splitlines(keepends=True)


def export_wacz(
    layout: ArchiveLayout,
    out: Path,
    outlet: str | None = None,
    since: datetime | None = None,
    allow_empty: bool = False,
    *,
    software: str,
) -> ExportReport:
    """Write the WACZ `out` of the archive's articles (of `outlet`, fetched at or after `since`,
    an aware datetime); UnknownOutlet or NothingToExport, and nothing written, if it cannot.
    `software` names the program in datapackage.json (``newsarchiver 0.1.0``): the caller's,
    as this layer knows nothing of the package that uses it."""
    fetched_since = iso(since) if since else None  # the manifest's form: UTC, to the second
    manifest = Manifest(layout.manifest_path)
    try:
        if outlet and outlet not in (known := manifest.outlets()):
            raise UnknownOutlet(f"{outlet!r} is not an outlet of the archive {layout.root} "
                                f"(its outlets: {', '.join(sorted(known)) or 'none'})")  # fmt: skip
        update_index(layout)
        pages = _pages(layout, manifest, outlet, fetched_since)
    finally:
        manifest.close()
    if not pages and not allow_empty:
        which = "".join((f" of outlet {outlet}" if outlet else "",
                         f" fetched since {fetched_since}" if since else ""))  # fmt: skip
        raise NothingToExport(f"no archived article{which} in {layout.root}")
    everything = not outlet and not since
    names = {w.name for w in layout.closed_warcs()}
    wanted = names if everything else {p["warc"] for p in pages if p["warc"] in names}
    # the files holding the captures their revisits refer to go in too, lines and all
    referred = set()
    for name in wanted:
        for line in _part(layout, name):
            if '"refers_to"' in line:
                referred.add(json.loads(line.split(" ", 2)[2])["refers_to"]["filename"])
    if gone := sorted(referred - names):  # pushed and deleted here: their revisits won't replay
        logger.warning("the WACZ lacks %d WARC file(s) that revisits in it refer to (not in %s: "
                       "pushed and deleted?): %s", len(gone), layout.warc_dir,
                       ", ".join(gone[:5]))  # fmt: skip
    wanted |= referred & names
    warcs = sorted(layout.warc_dir / name for name in wanted)
    index_lines = sorted(replaywebpage_line(line) for w in warcs for line in _part(layout, w.name))

    page_lines = [json.dumps({"format": "json-pages-1.0", "id": "pages",
                              "title": "Archived articles", "hasText": True})]  # fmt: skip
    page_lines += [
        json.dumps({k: p[k] for k in ("id", "url", "title", "ts", "text")}, ensure_ascii=False)
        for p in pages
    ]
    members: list[tuple[str, Path | bytes]] = [(f"archive/{w.name}", w) for w in warcs]
    members.append(("indexes/index.cdxj", "".join(index_lines).encode("utf-8")))
    members.append(("pages/pages.jsonl", ("\n".join(page_lines) + "\n").encode("utf-8")))

    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    resources = []
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, source in members:
                if isinstance(source, Path):
                    # WARCs go stored: already gzipped, and readers seek into them
                    zf.write(source, name, compress_type=zipfile.ZIP_STORED)
                    size, digest = _sha256_file(source)
                else:
                    zf.writestr(name, source, compress_type=zipfile.ZIP_DEFLATED)
                    size, digest = len(source), "sha256:" + hashlib.sha256(source).hexdigest()
                resources.append({"name": os.path.basename(name).lower(), "path": name,
                                  "hash": digest, "bytes": size})  # fmt: skip
            package: dict[str, Any] = {
                "profile": "data-package",
                "resources": resources,
                "title": f"newsarchiver export of {layout.root.name}"
                + (f", outlet {outlet}" if outlet else "")
                + (f", since {fetched_since}" if since else ""),
                "created": iso(utc_now()),
                "wacz_version": WACZ_VERSION,
                "software": software,
            }
            if pages:
                package["mainPageURL"] = pages[0]["url"]
            data = json.dumps(package, indent=2).encode("utf-8")
            zf.writestr("datapackage.json", data, compress_type=zipfile.ZIP_DEFLATED)
            digest_doc = {"path": "datapackage.json",
                          "hash": "sha256:" + hashlib.sha256(data).hexdigest()}  # fmt: skip
            zf.writestr("datapackage-digest.json", json.dumps(digest_doc, indent=2),
                        compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportReport(out, len(pages), len(warcs), out.stat().st_size)
