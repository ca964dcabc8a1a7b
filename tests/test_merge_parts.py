"""A worker's manifest comes from the bucket, written by whoever can write there: the merge reads
only intact manifests of plain tables, and says which parts it refused and why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.manifest import Manifest
from storage.merge import merge_manifests


def part(path: Path, run_id: str) -> Path:
    manifest = Manifest(path)
    manifest.start_run(run_id, "2026-12-02T08:00:00Z", {"outlets": []})
    manifest.close()
    return path


def runs(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [run for (run,) in db.execute("SELECT run_id FROM runs ORDER BY run_id")]


def test_a_part_with_a_view_for_a_table_is_refused_and_the_others_merged(tmp_path: Path) -> None:
    good = part(tmp_path / "good.sqlite", "run-good")
    hostile = part(tmp_path / "hostile.sqlite", "run-hostile")
    with sqlite3.connect(hostile) as db:  # a view stands in for the captures table
        db.execute("DROP TABLE captures")
        db.execute("CREATE VIEW captures AS SELECT * FROM runs")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all\n" * 100)
    merged = tmp_path / "merged.sqlite"
    report = merge_manifests([hostile, good, garbage], merged)
    assert runs(merged) == ["run-good"]  # nothing of the refused parts
    assert [r.split(" ", 1)[0] for r in report.refused] == ["hostile.sqlite", "garbage.sqlite"]
    assert "captures is a view" in report.refused[0]
    assert "not a manifest" in report.refused[1]
    line = report.line()
    assert line.startswith("merged 1 manifest(s)") and "refused hostile.sqlite" in line


def test_a_part_missing_a_table_is_refused(tmp_path: Path) -> None:
    thin = part(tmp_path / "thin.sqlite", "run-thin")
    with sqlite3.connect(thin) as db:
        db.execute("DROP TABLE failure_events")
    report = merge_manifests([thin, part(tmp_path / "ok.sqlite", "run-ok")], tmp_path / "m.sqlite")
    assert report.refused == ["thin.sqlite (failure_events is missing)"]
    assert runs(tmp_path / "m.sqlite") == ["run-ok"]


def test_a_part_whose_name_reads_as_a_uri_query_is_still_read(tmp_path: Path) -> None:
    odd = part(tmp_path / "w?mode=rwc#x.sqlite", "run-odd")  # a key from the bucket, as named
    report = merge_manifests([odd], tmp_path / "m.sqlite")
    assert report.refused == [] and runs(tmp_path / "m.sqlite") == ["run-odd"]
    names = {p.name for p in tmp_path.iterdir()}
    assert {n for n in names if not n.startswith(odd.name)} == {"m.sqlite"}  # no "w" file made
