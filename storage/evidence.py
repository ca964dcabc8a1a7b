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
  again instead of skipping it as archived; a text other URLs keep has its sidecar rebuilt from
  them (:func:`storage.sidecar.credit_text`: the canonical copy among those left);
- rebuilds the sidecars of the texts with several copies that have one in the file: a kill
  between a copy's manifest row and its sidecar's rewrite left that sidecar a copy short.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from storage.failures import FailureLog, RetryPolicy
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.sidecar import credit_text
from storage.warc_repair import RepairResult

logger = logging.getLogger(__name__)

LOST_REASON = "warc_record_lost"


@dataclass(frozen=True)
class Dropped:
    """A text dropped because its record did not survive: what else names it (a distributed
    crawl's shared state) is the caller's to undo."""

    stem: str
    sha256: str
    seq: int
    urls: tuple[str, ...]


@dataclass
class Reconciled:
    captures_added: int = 0
    captures_removed: int = 0
    articles_dropped: int = 0
    sidecars_rebuilt: int = 0
    texts_dropped: list[Dropped] = field(default_factory=list)


def reconcile(
    layout: ArchiveLayout,
    manifest: Manifest,
    result: RepairResult,
    policy: RetryPolicy,
    run_id: str = "",
) -> Reconciled:
    """Square the manifest and the text files with the records that survived in one repaired
    file (called by the repair before the file is renamed: see
    :func:`storage.warc_repair.repair_warc`). Each step can be run again: a kill in the middle
    leaves the file ``.open``, and the next start does what is left."""
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
    if result.name != result.written_as:
        # moved aside because its name was taken: the rows under that name are another file's
        logger.warning("%s was repaired as %s: its manifest rows are left as they are",
                       result.written_as, result.name)  # fmt: skip
        return done
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
    failures = FailureLog(manifest, layout.failures_path, policy, run_id)
    for article in lost:
        # listed first: a kill after this step still has the URL fetched again
        failures.record(
            article["url"], article["outlet"], LOST_REASON, status=article["http_status"],
            detail=f"its response record in {warc_file} at offset {article['warc_offset']} did "
            "not survive the killed crawl; the text was dropped",
            attempts=0, kind="page", due_now=True,
        )  # fmt: skip
        done.articles_dropped += 1
        if dropped := _drop_article(layout, manifest, article):
            done.texts_dropped.append(dropped)
    shared = manifest.query(
        "SELECT DISTINCT a.text_id FROM articles a JOIN texts t ON t.id = a.text_id"
        " WHERE a.warc_file = ? AND t.state = 'stored'"
        " AND (SELECT COUNT(*) FROM articles b WHERE b.text_id = a.text_id) > 1",
        (warc_file,),
    )
    for row in shared:
        if credit_text(layout, manifest, row["text_id"]).written:
            done.sidecars_rebuilt += 1
    if done.sidecars_rebuilt:
        logger.warning("rebuilt %d sidecar(s) a copy short after the killed crawl",
                       done.sidecars_rebuilt)  # fmt: skip
    return done


def _drop_article(layout: ArchiveLayout, manifest: Manifest, article: Any) -> Dropped | None:
    """Remove one article row; the text too when no other URL has it (files first, then the
    rows, so that a kill in between leaves a row the next start finds again). A text that other
    URLs keep gets its sidecar rebuilt from them."""
    text = manifest.query("SELECT id, sha256, stem FROM texts WHERE id = ?", (article["text_id"],))
    others = [
        a for a in manifest.articles_for_text(article["text_id"]) if a["url"] != article["url"]
    ]
    if text and others:
        _residecar(layout, manifest, str(text[0]["stem"]), article["text_id"], article["url"])
    elif text:
        stem = str(text[0]["stem"])
        for path in (layout.text_path(stem), layout.sidecar_path(stem)):  # the .txt first
            path.unlink(missing_ok=True)
    with manifest.transaction() as db:
        db.execute("DELETE FROM articles WHERE url = ? AND text_id = ?",
                   (article["url"], article["text_id"]))  # fmt: skip
        if text and not others:
            db.execute("DELETE FROM texts WHERE id = ?", (article["text_id"],))
    if not text or others:
        return None
    logger.warning("dropped text %s: its WARC record did not survive the killed crawl", stem)
    urls = (article["url"], article["final_url"], article["canonical_url"])
    return Dropped(stem, str(text[0]["sha256"]), int(text[0]["id"]) - 1,
                   tuple(u for u in dict.fromkeys(urls) if u))  # fmt: skip


def _residecar(layout: ArchiveLayout, manifest: Manifest, stem: str, text_id: int,
               url: str) -> None:  # fmt: skip
    """The sidecar of a text whose copy at `url` lost its record, rebuilt from the copies left
    (the canonical one among them named first)."""
    if not layout.sidecar_path(stem).exists():
        return
    sidecar = credit_text(layout, manifest, text_id, without=url).sidecar
    logger.warning("text %s now names %s: the record of %s did not survive",
                   stem, sidecar["url"], url)  # fmt: skip
