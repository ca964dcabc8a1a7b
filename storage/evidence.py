"""Text and evidence in pairs after a killed crawl: what the ``.open`` repair found, squared with
the manifest.

A crawl commits a text only once the WARC records it names are in the file (flushed), but its
``captures`` rows go to the manifest in batches and a power cut can still take the file's last
bytes. So after :func:`storage.warc_repair.repair_open_warcs`, for each repaired file,
:func:`reconcile`:

- adds the ``captures`` rows of surviving records that the manifest does not have (re-derived
  from the records themselves), so revisits, conditional requests, ``lookup`` and the index see
  every capture;
- removes the ``captures`` rows of records that did not survive (a conditional request or a
  revisit must not refer to them);
- drops every article whose response record did not survive (its manifest row, and its text
  file and sidecar when no other URL shares the text; the text's number is not reused) and
  lists its URL as a failure due now (reason ``warc_record_lost``), so the next crawl fetches it
  again instead of skipping it as archived.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from storage.failures import FailureLog
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.warc_repair import RepairResult

logger = logging.getLogger(__name__)

LOST_REASON = "warc_record_lost"


@dataclass
class Reconciled:
    captures_added: int = 0
    captures_removed: int = 0
    articles_dropped: int = 0
    texts_dropped: list[str] = field(default_factory=list)  # stems


def reconcile(
    layout: ArchiveLayout, manifest: Manifest, result: RepairResult, run_id: str = ""
) -> Reconciled:
    """Square the manifest and the text files with the records that survived in one repaired
    file (called by the repair before the file is renamed: see
    :func:`storage.warc_repair.repair_warc`)."""
    done = Reconciled()
    warc_file = result.written_as
    rows = manifest.query("SELECT warc_offset FROM captures WHERE warc_file = ?", (warc_file,))
    known = {r["warc_offset"] for r in rows}
    missing = [row for row in result.captures if row["warc_offset"] not in known]
    if missing:
        manifest.add_captures(missing)
        done.captures_added += len(missing)
        logger.warning("re-derived %d capture row(s) of %s from its records", len(missing),
                       result.name)  # fmt: skip
    kept = {row["warc_offset"] for row in result.captures}
    gone = [r["warc_offset"] for r in rows if r["warc_offset"] not in kept]
    if gone:  # rows committed for records the file lost: nothing may refer to them any more
        with manifest.transaction() as db:
            db.executemany("DELETE FROM captures WHERE warc_file = ? AND warc_offset = ?",
                           [(warc_file, offset) for offset in gone])  # fmt: skip
        done.captures_removed += len(gone)
    lost = [
        a
        for a in manifest.query("SELECT * FROM articles WHERE warc_file = ?", (warc_file,))
        if a["warc_offset"] not in kept
    ]
    failures = FailureLog(manifest, layout.failures_path, run_id=run_id)
    for article in lost:
        done.articles_dropped += 1
        if stem := _drop_article(layout, manifest, article["url"], article["text_id"]):
            done.texts_dropped.append(stem)
        failures.record(
            article["url"], article["outlet"], LOST_REASON, status=article["http_status"],
            detail=f"its response record in {warc_file} at offset {article['warc_offset']} did "
            "not survive the killed crawl; the text was dropped",
            attempts=0, kind="page", due_now=True,
        )  # fmt: skip
    return done


def _drop_article(layout: ArchiveLayout, manifest: Manifest, url: str, text_id: int) -> str:
    """Remove one article row; the text too when no other URL has it. Returns the dropped
    text's stem, or ''."""
    with manifest.transaction() as db:
        db.execute("DELETE FROM articles WHERE url = ? AND text_id = ?", (url, text_id))
        others = db.execute("SELECT 1 FROM articles WHERE text_id = ?", (text_id,)).fetchone()
        row = db.execute("SELECT stem FROM texts WHERE id = ?", (text_id,)).fetchone()
        if others is not None or row is None:
            return ""
        db.execute("DELETE FROM texts WHERE id = ?", (text_id,))
    stem = str(row["stem"])
    # the .txt first: a .txt under its final name always has its sidecar
    for path in (layout.text_path(stem), layout.sidecar_path(stem)):
        path.unlink(missing_ok=True)
    logger.warning("dropped text %s: its WARC record did not survive the killed crawl", stem)
    return stem
