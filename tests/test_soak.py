"""The kill -9 soak, short: three SIGKILLs of crawls of a local outlet, then the audit.

``make soak`` runs twenty (bench/soak.py); this runs the same rounds and the same audit so that
every ``make test`` proves a killed crawl loses no evidence and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from bench.soak import soak


def test_three_sigkills_lose_no_evidence_and_leave_no_process(tmp_path: Path) -> None:
    result, kills = soak(kills=3, pages=120, seed=7, work=tmp_path)
    assert [k.mode for k in kills] == ["process", "group", "process"]
    assert not any(k.finished_first for k in kills), "a crawl ended before its kill point"
    assert [k.left_behind for k in kills] == [0, 0, 0]
    assert result.problems == []
    assert result.archived == result.articles == 120
    assert result.texts == 120
    assert result.texts_without_record == 0
    assert result.records_without_row == 0
    assert result.warcio_check_failures == 0 and result.open_left == 0
    assert result.runs_running == 0 and result.runs_killed == 3
    assert result.numbers_reused == 0
