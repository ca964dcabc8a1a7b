"""Every fault of the fault-injection outlet: its outcome, reason, attempts and WARC records,
and that the rest of the crawl finished; then the runs after it (due retries, gave_up, retry).
A crawl stopped while a retry waits and a crashing extraction worker: tests/test_fault_stops.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.faults import (
    BRIEF,
    BRIEF_PARAGRAPHS,
    BRIEF_TITLE,
    FAULTS,
    LINKED_ARTICLE,
    PDF,
    PROBE_PREFIX,
    UTF16_PARAGRAPHS,
    UTF16_TITLE,
    FaultSite,
    article_title,
    long_link_path,
)
from storage.manifest import Manifest
from testkit.mockserver import MockServer
from tests.conftest import FAST, cli

# Fast retries for the test: the defaults (2 s base, 60 s cap) are for real outlets.
SETTINGS = [
    *FAST,
    "-s", "RETRY_BASE_DELAY=0.2", "-s", "RETRY_MAX_DELAY=1", "-s", "DOWNLOAD_TIMEOUT=1",
    "-s", "DOWNLOAD_MAXSIZE=1048576", "-s", "RETRY_AFTER_MAX=10", "-s", "RETRY_RUNS_MAX=2",
]  # fmt: skip


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    served: list[Any]


@dataclass
class Faulty:
    site: FaultSite
    archive: Path
    config: Path
    first: Run

    def crawl(self, *extra: str, command: str = "crawl") -> Run:
        self.site.clear_requests()
        args = ["--archive", str(self.archive), *SETTINGS, *extra]
        if command == "crawl":
            args = ["--config", str(self.config), *args]
        result = cli(command, *args)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        return Run(result, self.site.requests)

    def failures(self) -> dict[str, dict[str, Any]]:
        manifest = Manifest(self.archive / "manifest.sqlite")
        try:
            return {row["url"].removeprefix(self.site.base_url): row for row in manifest.failures()}
        finally:
            manifest.close()

    def titles(self) -> set[str]:
        return {json.loads(p.read_text())["title"] for p in (self.archive / "text").glob("*.json")}


@pytest.fixture(scope="module")
def faulty(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    root = tmp_path_factory.mktemp("faults")
    site = mockserver.faults("faults", hang_seconds=10)
    f = Faulty(site, root / "archive", site.write_config(root / "faults.yaml"), None)  # type: ignore[arg-type]
    f.first = f.crawl()
    yield f


def warc_responses(archive: Path) -> list[Any]:
    """(record type, target URI, HTTP status, metadata payload) of every record but warcinfo."""
    out = []
    for path in sorted((archive / "warc").glob("*.warc.gz*")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "warcinfo":
                    continue
                status = rec.http_headers.get_statuscode() if rec.http_headers else None
                meta = rec.content_stream().read() if rec.rec_type == "metadata" else b""
                out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), status,
                            meta))  # fmt: skip
    return out


def statuses(f: Faulty, path: str) -> list[str | None]:
    """HTTP status of each answer to `path` in the WARC: response records, and revisit records
    (a repeated identical body is kept once, then referred to)."""
    url = f.site.url(path)
    return [s for kind, u, s, _ in warc_responses(f.archive)
            if kind in ("response", "revisit") and u == url]  # fmt: skip


ARCHIVED = {"/f/ok": ["200"], "/f/bad-charset": ["200"], "/f/403-twice": ["403", "403", "200"],
            "/f/429-retry-after": ["429", "200"], "/f/503-once": ["503", "200"],
            "/f/utf16-header": ["200"], LINKED_ARTICLE: ["200"], BRIEF: ["200"]}  # fmt: skip


@pytest.mark.parametrize("path", sorted(ARCHIVED))
def test_transient_failures_heal_in_the_same_run_every_attempt_in_the_warc(
    faulty: Faulty, path: str
) -> None:
    assert article_title(path) in faulty.titles()
    assert statuses(faulty, path) == ARCHIVED[path]
    assert path not in faulty.failures()


def test_bad_charset_page_is_archived_with_its_bad_bytes_replaced(faulty: Faulty) -> None:
    title = article_title("/f/bad-charset")
    (sidecar,) = [p for p in (faulty.archive / "text").glob("*.json")
                  if json.loads(p.read_text())["title"] == title]  # fmt: skip
    text = sidecar.with_suffix(".txt").read_text(encoding="utf-8")
    assert "Bad bytes \ufffd\ufffd here" in text and "This is paragraph 4" in text


def test_a_brief_headlined_with_an_error_code_is_archived_as_text(faulty: Faulty) -> None:
    (sidecar,) = [p for p in (faulty.archive / "text").glob("*.json")
                  if json.loads(p.read_text())["title"] == BRIEF_TITLE]  # fmt: skip
    text = sidecar.with_suffix(".txt").read_text(encoding="utf-8")
    assert all(p in text for p in BRIEF_PARAGRAPHS)
    stats = first_run_stats(faulty)
    assert stats["soft_failures/kept_article/brief"] == 1  # "404" matched, its text won
    assert [r.status for r in faulty.first.served if r.path == BRIEF] == [200]  # fetched once


def test_the_probe_is_asked_once_and_tells_the_sites_soft_404s(faulty: Faulty) -> None:
    probes = [r for r in faulty.first.served if r.path.startswith(PROBE_PREFIX)]
    assert [r.status for r in probes] == [200]  # the site answers "missing" pages with 200
    paths = [r.path for r in faulty.first.served]
    assert paths.index(probes[0].path) < paths.index("/")  # answered before any seed is asked
    assert statuses(faulty, probes[0].path) == ["200"]  # in the WARC like any exchange
    assert not [u for u in faulty.failures() if u.startswith(PROBE_PREFIX)]  # no failure
    stats = first_run_stats(faulty)
    assert stats["soft_failures/probe/sent"] == 1
    assert "soft_failures/probe/late" not in stats
    assert stats["soft_failures/probe/answered_200"] == 1
    assert stats["soft_failures/fingerprint_match"] == 4  # /f/missing, each of its attempts
    row = faulty.failures()["/f/missing"]
    assert row["detail"] == "an error, block or challenge page served with a success status"


def test_retry_after_is_honoured(faulty: Faulty) -> None:
    times = [r.at for r in faulty.first.served if r.path == "/f/429-retry-after"]
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0  # Retry-After: 1


def test_retries_back_off_without_blocking_the_crawl(faulty: Faulty) -> None:
    times = [r.at for r in faulty.first.served if r.path == "/f/challenge"]
    gaps = [b - a for a, b in pairwise(times)]
    assert len(gaps) == 3
    assert all(g >= 0.1 for g in gaps)  # base 0.2 s with equal jitter: at least half of it
    ok = next(r.at for r in faulty.first.served if r.path == "/f/ok")
    assert ok < times[-1]  # other pages went on while /f/challenge waited


FAILED = {  # path: (reason, attempts, status, what the WARC holds for it)
    "/f/challenge": ("http_403", 4, 403, ["403"] * 4),
    "/f/challenge-200": ("blocked", 4, 200, ["200"] * 4),
    "/f/soft-404": ("soft_404", 4, 200, ["200"] * 4),
    "/f/missing": ("soft_404", 4, 200, ["200"] * 4),  # no error word: like the probe's answer
    "/f/gone": ("http_404", 1, 404, ["404"]),
    "/f/hang": ("timeout", 4, None, []),
    "/f/reset": ("connection", 4, None, []),
    "/f/truncated": ("truncated", 4, None, []),
    "/f/loop-a": ("redirect_loop", 1, 302, ["302"]),
    "/f/chain": ("redirect_loop", 1, 302, ["302"]),
    "/f/oversize": ("too_large", 1, None, []),
    "/f/gzip-bomb": ("too_large", 1, None, ["200"]),
    "/f/pdf": ("not_html", 1, 200, ["200"]),
    "/f/pdf-untyped": ("not_html", 1, 200, ["200"]),
}


LONG_LINK_FAILURES = 1  # the in-scope long link, listed once (its row's URL is shortened)


@pytest.mark.parametrize("path", sorted(FAILED))
def test_each_fault_is_listed_with_its_reason_and_attempts(faulty: Faulty, path: str) -> None:
    reason, attempts, status, warc = FAILED[path]
    row = faulty.failures()[path]
    assert (row["reason"], row["attempts"], row["status"]) == (reason, attempts, status)
    assert row["outlet"] == "faulty" and row["runs_failed"] == 1
    assert row["state"] == ("gave_up" if reason == "http_404" else "pending")
    assert (row["next_retry_at"] is None) == (reason == "http_404")
    assert article_title(path) not in faulty.titles()  # never written as text
    if warc is not None:
        assert statuses(faulty, path) == warc
    if not warc:  # no response at all: each attempt is a request + a metadata record
        url = faulty.site.url(path)
        meta = [m for kind, u, _, m in warc_responses(faulty.archive)
                if kind == "metadata" and u == url]  # fmt: skip
        assert len(meta) == attempts and all(m.startswith(b"fetch-error: ") for m in meta)


def test_redirect_loops_stop_with_every_hop_in_the_warc(faulty: Faulty) -> None:
    def hops(prefix: str) -> list[str]:
        return [u.removeprefix(faulty.site.base_url) for kind, u, s, _ in
                warc_responses(faulty.archive) if kind == "response" and prefix in u]  # fmt: skip

    assert hops("/f/loop-") == ["/f/loop-a", "/f/loop-b"]  # back to loop-a: a loop, stopped
    assert hops("/f/chain") == ["/f/chain"] + [f"/f/chain/{i}" for i in range(1, 11)]  # the cap


def test_gzip_bomb_is_kept_compressed_in_the_warc(faulty: Faulty) -> None:
    url = faulty.site.url("/f/gzip-bomb")
    for path in (faulty.archive / "warc").glob("*.warc.gz"):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if (
                    rec.rec_type == "response"
                    and rec.rec_headers.get_header("WARC-Target-URI") == url
                ):
                    assert rec.raw_stream.read() == faulty.site.bomb  # 32 KB, never inflated


def test_the_crawl_completed_and_its_summary_counts_failures_by_reason(faulty: Faulty) -> None:
    (summary_path,) = (faulty.archive / "runs").glob("*.json")
    summary = json.loads(summary_path.read_text())
    assert summary["finish_reason"] == "finished"
    assert "failure_records/errors" not in summary["stats"]  # every failure was written
    assert "warc/errors" not in summary["stats"]
    outlet = summary["outlets"]["faulty"]
    assert outlet["archived"] == len(ARCHIVED)
    expected: dict[str, int] = {"url_too_long": LONG_LINK_FAILURES}
    for reason, *_ in FAILED.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert outlet["failed"] == expected
    assert outlet["retried"] > 0
    lines = (faulty.archive / "failures.jsonl").read_text().splitlines()
    assert len(lines) == len(FAILED) + LONG_LINK_FAILURES


def test_failures_command_table_and_json(faulty: Faulty) -> None:
    table = cli("failures", "--archive", str(faulty.archive))
    assert table.returncode == 0
    assert "redirect_loop" in table.stdout and "/f/gzip-bomb" in table.stdout
    data = json.loads(cli("failures", "--archive", str(faulty.archive), "--json").stdout)
    assert len(data) == len(FAILED) + LONG_LINK_FAILURES
    assert {"url", "outlet", "reason", "status", "attempts", "next_retry_at"} <= set(data[0])
    only = json.loads(
        cli("failures", "--archive", str(faulty.archive), "--json", "--reason", "too_large").stdout
    )
    assert sorted(d["url"].rsplit("/", 1)[-1] for d in only) == ["gzip-bomb", "oversize"]


def first_run_stats(f: Faulty) -> dict[str, Any]:
    (path,) = (f.archive / "runs").glob("*.json")  # before the second run's tests
    stats: dict[str, Any] = json.loads(path.read_text())["stats"]
    return stats


def failures_json(f: Faulty, *args: str) -> list[dict[str, Any]]:
    result = cli("failures", "--archive", str(f.archive), "--json", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_a_pdf_at_an_article_url_is_listed_not_html_and_kept_in_the_warc(faulty: Faulty) -> None:
    rows = {r["url"].removeprefix(faulty.site.base_url): r
            for r in failures_json(faulty, "--reason", "not_html")}  # fmt: skip
    assert set(rows) == {"/f/pdf", "/f/pdf-untyped"}
    assert rows["/f/pdf"]["detail"].startswith("Content-Type application/pdf")
    # no useful Content-Type: the first bytes tell
    assert rows["/f/pdf-untyped"]["detail"] == (
        "Content-Type application/octet-stream, sniffed application/pdf"
    )
    urls = {faulty.site.url(p) for p in rows}
    bodies = []
    for path in sorted((faulty.archive / "warc").glob("*.warc.gz")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if (
                    rec.rec_type == "response"
                    and rec.rec_headers.get_header("WARC-Target-URI") in urls
                ):
                    bodies.append(rec.content_stream().read())
    # the document itself is archived as received: once, the second is a revisit of it
    assert bodies == [PDF]
    stats = first_run_stats(faulty)
    assert stats["failures/not_html"] == 2 and stats["spider/failed/not_html"] == 2


def test_non_html_linked_from_a_hub_is_counted_not_listed(faulty: Faulty) -> None:
    assert statuses(faulty, "/media/map") == ["200"]  # fetched, in the WARC
    assert "/media/map" not in faulty.failures()
    assert first_run_stats(faulty)["spider/not_html"] == 3  # the two PDFs and the image


def test_a_utf8_page_declaring_utf16_is_stored_as_its_real_text(faulty: Faulty) -> None:
    (sidecar,) = [p for p in (faulty.archive / "text").glob("*.json")
                  if json.loads(p.read_text())["title"] == UTF16_TITLE]  # fmt: skip
    text = sidecar.with_suffix(".txt").read_text(encoding="utf-8")
    assert text == UTF16_TITLE + "\n\n" + "\n\n".join(UTF16_PARAGRAPHS) + "\n"
    stats = first_run_stats(faulty)
    assert stats["charset/mismatch"] == 1 and stats["charset/mismatch/utf-16"] == 1
    assert stats["charset/from/sniffed"] >= 1
    log = next((faulty.archive / "logs").glob("*.log")).read_text(encoding="utf-8")
    url = faulty.site.url("/f/utf16-header")
    assert f"charset: {url} declared utf-16, decoded as utf-8 (sniffed)" in log


def test_a_link_past_the_url_length_limit_is_listed_once_and_the_crawl_goes_on(
    faulty: Faulty,
) -> None:
    full = faulty.site.url(long_link_path())
    rows = failures_json(faulty, "--reason", "url_too_long")
    assert len(rows) == LONG_LINK_FAILURES  # the off-scope long link is not the outlet's
    (row,) = rows
    assert row["url"] == full[:200] + "…" and row["outlet"] == "faulty"
    assert f"a URL of {len(full)} characters (URLLENGTH_LIMIT 2083)" in row["detail"]
    assert row["state"] == "gave_up" and row["next_retry_at"] is None  # nothing to request
    assert not [r for r in faulty.first.served if r.path.startswith("/f/long-link")]
    stats = first_run_stats(faulty)
    # listed once, though two hubs link it: the second link is dropped as a repeat of the first
    assert stats["urllength/failed"] == 1 and stats["spider/links/repeated"] >= 1
    assert stats["failures/url_too_long"] == 1
    assert article_title(LINKED_ARTICLE) in faulty.titles()  # linked after the long links


def test_second_run_retries_only_what_is_due_and_heals(faulty: Faulty) -> None:
    # time travel: two failures are due now, the rest are not due for an hour
    manifest = Manifest(faulty.archive / "manifest.sqlite")
    for path in ("/f/challenge", "/f/soft-404"):
        manifest.query("UPDATE failures SET next_retry_at = '2000-01-01T00:00:00Z' WHERE url = ?",
                       (faulty.site.url(path),))  # fmt: skip
    manifest.close()
    faulty.site.heal("/f/challenge")
    run = faulty.crawl()
    asked = {r.path for r in run.served}
    assert {"/", "/f/challenge", "/f/soft-404"} <= asked
    assert "/f/ok" not in asked  # archived already: not downloaded again
    not_due = set(FAILED) - {"/f/challenge", "/f/soft-404"}
    assert not (asked & not_due), asked & not_due  # backing off across runs
    failures = faulty.failures()
    assert "/f/challenge" not in failures  # healed: off the list, archived
    assert article_title("/f/challenge") in faulty.titles()
    events = Manifest(faulty.archive / "manifest.sqlite").query(
        "SELECT reason FROM failure_events WHERE url = ?", (faulty.site.url("/f/challenge"),)
    )
    assert [e["reason"] for e in events] == ["http_403"]  # its history stays
    soft = failures["/f/soft-404"]
    assert (soft["runs_failed"], soft["attempts"]) == (2, 8)
    assert soft["state"] == "gave_up"  # RETRY_RUNS_MAX=2 in this test


def test_retry_command_retries_pending_now_and_all_includes_gave_up(faulty: Faulty) -> None:
    faulty.site.heal("/f/503-once")  # already fine; heal the truncated page
    faulty.site.heal("/f/truncated")
    run = faulty.crawl(command="retry")
    asked = {r.path for r in run.served}
    assert "/f/truncated" in asked and "/f/soft-404" not in asked and "/" not in asked
    assert "/f/truncated" not in faulty.failures()
    run = faulty.crawl("--all", command="retry")
    assert "/f/soft-404" in {r.path for r in run.served}
    served = {r.path for r in run.served
              if not r.path.startswith(("/f/chain/", "/f/loop-b", PROBE_PREFIX))}  # fmt: skip
    assert served - {"/robots.txt"} <= set(FAULTS)  # failures only: no discovery
    # and the outlet's probe, once: the soft 404s retried are judged by its answer
    assert len([r for r in run.served if r.path.startswith(PROBE_PREFIX)]) == 1
