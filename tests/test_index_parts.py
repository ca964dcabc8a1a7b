"""Index parts the WARC writer makes as it appends records (storage/warc.py, storage/index.py).

The lines must be those a rebuild from the files makes (cdxj-indexer, revisits resolved through
the manifest), byte for byte; a crawl's index update must not read a WARC back; a writer killed
before closing its file leaves no part, and the index makes that one from the repaired file.
"""

from __future__ import annotations

import builtins
import gzip
import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request

from crawler.extensions.warc_capture import WarcCapture, to_exchange
from storage import index as index_module
from storage.index import index_warc, parse_line, update_index
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from tests.test_warc_capture import HTML, make_capture, response

BASE = "http://127.0.0.1:1"


@contextmanager
def warc_reads(monkeypatch: pytest.MonkeyPatch, warc_dir: Path) -> Iterator[list[str]]:
    """The files in `warc_dir` opened for reading meanwhile (open, io.open, Path.open,
    os.open)."""
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def is_warc(path: Any) -> bool:
        if not isinstance(path, str | os.PathLike):
            return False  # a file descriptor
        return Path(os.fspath(path)).parent == warc_dir

    def watched_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if is_warc(file) and ("r" in mode or "+" in mode):
            seen.append(os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def watched_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if is_warc(path) and flags & (os.O_WRONLY | os.O_RDWR) != os.O_WRONLY:
            seen.append(os.fspath(path))
        return real_os_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", watched_open)
        patch.setattr(io, "open", watched_open)
        patch.setattr(os, "open", watched_os_open)
        yield seen


def write_all_kinds(ext: WarcCapture) -> None:
    """Every kind of exchange the crawl writes, over three files (64 KB each)."""
    answers = [
        response(f"{BASE}/a", 200, HTML, **{"Content-Type": "text/html; charset=utf-8"}),
        response(f"{BASE}/gz", 200, gzip.compress(HTML + b"gz"),
                 **{"Content-Encoding": "gzip", "Content-Type": "Text/HTML ;charset=x"}),
        response(f"{BASE}/gone", 404, b"not here", **{"Content-Type": "text/plain"}),
        response(f"{BASE}/old", 301, b"", Location="/new"),  # no Content-Type: no mime
        response(f"{BASE}/empty-type", 200, b"x", **{"Content-Type": ""}),
        response(f"{BASE}/file", 200, b"%PDF", **{"Content-Type": "application/pdf",
                 "Content-Disposition": "attachment; filename=\"caf\xe9.pdf\""}),
        response(f"{BASE}/with space?q=1&r=%C3%A9", 200, b"odd url", **{"Content-Type": "text/x"}),
        response(f"{BASE}/a-copy", 200, HTML, **{"Content-Type": "text/html"}),  # identical
        response(f"{BASE}/a", 304, b"", ETag='"v1"'),  # server-not-modified: resolved
        response(f"{BASE}/unknown", 304, b""),  # no capture to refer to: a plain response
    ]  # fmt: skip
    for i in range(4):  # incompressible bodies: the file rotates, revisits refer across files
        answers.append(response(f"{BASE}/big{i}", 200, os.urandom(40_000)))
        answers.append(response(f"{BASE}/a-again{i}", 200, HTML, **{"Content-Type": "text/html"}))
        answers.append(response(f"{BASE}/a", 304, b""))
    for answer in answers:
        ext._write(to_exchange(answer.request, answer))
    ext._write_failed_attempt(Request(f"{BASE}/timeout"), "TimeoutError: took too long")


def rebuilt_parts(layout: ArchiveLayout) -> dict[str, bytes]:
    manifest = Manifest(layout.manifest_path)
    try:
        return {w.name: index_warc(w, manifest.captures_by_record_id)
                for w in layout.closed_warcs()}  # fmt: skip
    finally:
        manifest.close()


def test_the_writer_makes_the_lines_a_rebuild_from_the_files_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = ArchiveLayout(tmp_path)
    with warc_reads(monkeypatch, layout.warc_dir) as reads:
        ext = make_capture(tmp_path, WARC_MAX_SIZE=64 * 1024)
        write_all_kinds(ext)
        ext._close()
        assert ext.writer is not None
        done = update_index(layout, upgrade=False, written=set(ext.writer.parts_written))
    assert reads == []  # the capture and the crawl's index update read no WARC back
    warcs = [w.name for w in layout.closed_warcs()]
    assert len(warcs) >= 3 and sorted(ext.writer.parts_written) == warcs
    assert done.read == [] and sorted(done.indexed) == warcs
    assert (layout.index_parts_dir / "FORMAT").read_text() == index_module.INDEX_FORMAT

    parts = {name: layout.index_part_path(name).read_bytes() for name in warcs}
    assert parts == rebuilt_parts(layout)  # file by file, line for line
    entries = [parse_line(line) for line in layout.index_path.read_text().splitlines()]
    assert len(entries) == 10 + 3 * 4  # responses and revisits; not requests nor metadata
    by_url: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_url.setdefault(entry["url"], []).append(entry)
    a = f"{BASE}/a"
    profiles = [e.get("revisit", {}).get("profile") for e in by_url[a]]
    assert profiles.count(None) == 1 and profiles.count("server-not-modified") == 5
    assert all(e["offset"] == by_url[a][0]["offset"] and e["mime"] == "text/html"
               for e in by_url[a])  # pywb replays the original for every 304  # fmt: skip
    copies = [e for url, es in by_url.items() if "a-again" in url or "copy" in url for e in es]
    assert all(e["mime"] == "warc/revisit" and "refers_to" in e for e in copies)
    assert {e["refers_to"]["filename"] for e in copies} == {by_url[a][0]["filename"]}
    assert len({e["filename"] for e in copies}) > 1  # revisits in later files, indexed there
    assert by_url[f"{BASE}/gz"][0]["mime"] == "Text/HTML"  # as cdxj-indexer cuts it
    assert by_url[f"{BASE}/empty-type"][0]["mime"] == ""
    assert "mime" not in by_url[f"{BASE}/old"][0]
    assert f"{BASE}/with%20space?q=1&r=%C3%A9" in by_url  # as warcio reads the URI back

    crawl_index = layout.index_path.read_bytes()
    shutil.rmtree(layout.index_parts_dir)
    layout.index_path.unlink()
    rebuilt = update_index(layout)  # `newsarchiver index` on an archive without an index
    assert sorted(rebuilt.read) == warcs
    assert layout.index_path.read_bytes() == crawl_index


def test_a_killed_writer_leaves_no_part_and_the_index_makes_it_from_the_repaired_file(
    tmp_path: Path,
) -> None:
    layout = ArchiveLayout(tmp_path)
    killed = make_capture(tmp_path)
    for i in range(3):
        r = response(f"{BASE}/{i}", 200, HTML + str(i).encode(), **{"Content-Type": "text/html"})
        killed._write(to_exchange(r.request, r))
    # SIGKILL here: the file is .open, its lines were only in memory
    assert not layout.index_parts_dir.exists() or not list(layout.index_parts_dir.iterdir())
    assert list(layout.tmp_dir.iterdir()) == []
    nxt = make_capture(tmp_path)  # the next crawl repairs the file
    nxt._close()
    assert nxt.writer is not None
    assert nxt.writer.parts_written == []  # it wrote nothing: no file, no part
    done = update_index(layout, upgrade=False, written=set(nxt.writer.parts_written))
    (warc,) = layout.closed_warcs()
    assert done.read == done.indexed == [warc.name]
    assert layout.index_part_path(warc.name).read_bytes() == rebuilt_parts(layout)[warc.name]
    assert len(layout.index_path.read_text().splitlines()) == 3


def test_a_part_that_cannot_be_written_is_made_from_the_closed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = ArchiveLayout(tmp_path)
    ext = make_capture(tmp_path)
    r = response(f"{BASE}/a", 200, HTML, **{"Content-Type": "text/html"})
    ext._write(to_exchange(r.request, r))

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("storage.warc.write_part", full)
    ext._close()
    monkeypatch.undo()
    (warc,) = layout.closed_warcs()  # closed and renamed all the same: the evidence is whole
    assert ext.writer is not None and ext.writer.parts_written == []
    done = update_index(layout, upgrade=False, written=set())
    assert done.read == [warc.name]
    line = json.loads(layout.index_path.read_text().split(" ", 2)[2])
    assert (line["url"], line["status"]) == (f"{BASE}/a", "200")
