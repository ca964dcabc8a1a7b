"""A push against a stalled or trickling endpoint ends in bounded time; multipart uploads of a
killed push are resumed, and a failed one leaves no upload behind (SeaweedFS on loopback)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import lock
from testkit.bad_endpoints import SilentServer, StallProxy, TrickleServer, wait_for
from testkit.s3_server import S3Server
from tests.conftest import Crawl

CLI = [sys.executable, "-m", "crawler.cli"]
PART = 5 * 1024 * 1024
MULTIPART = ["-s", f"PUSH_MULTIPART_THRESHOLD={PART}", "-s", f"PUSH_MULTIPART_CHUNKSIZE={PART}"]
# small timeouts, so a stalled endpoint fails the push in seconds
QUICK = ["-s", "PUSH_CONNECT_TIMEOUT=1", "-s", "PUSH_READ_TIMEOUT=1", "-s", "PUSH_RETRIES=1"]


def environ(server: S3Server, endpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(server.env())
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def push(server: S3Server, archive: Path, to: str, *args: str,
         endpoint: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([*CLI, "push", "--archive", str(archive), "--to", to, *args],
                          capture_output=True, text=True, env=environ(server, endpoint),
                          timeout=300, check=False)  # fmt: skip


def unfinished(server: S3Server, bucket: str) -> list[dict[str, object]]:
    uploads: list[dict[str, object]] = (
        server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    )
    return uploads


def ledger_rows(archive: Path) -> list[str]:
    db = sqlite3.connect(archive / "manifest.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT key FROM meta WHERE key LIKE 'push_upload:%'")]
    finally:
        db.close()


@pytest.fixture
def archive(demo_crawl: Crawl, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, copy)
    return copy


def big_warc(archive: Path, size: int = 4 * PART) -> Path:
    path = archive / "warc" / "newsarchiver-20990101000000-00001-host.warc.gz"
    path.write_bytes(os.urandom(size))
    return path


def assert_one_line_timeout(result: subprocess.CompletedProcess[str], endpoint: str) -> None:
    assert result.returncode == 4, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("newsarchiver: push to s3://") and " failed: " in lines[0]
    assert endpoint in lines[0] and "timed out" in lines[0], lines[0]


def test_stalled_endpoint_fails_in_bounded_time_and_frees_the_lock(
    s3_server: S3Server, archive: Path
) -> None:
    with SilentServer() as stalled:
        start = time.monotonic()
        result = push(s3_server, archive, "s3://stalled/p", *QUICK, endpoint=stalled.url)
        elapsed = time.monotonic() - start
    assert_one_line_timeout(result, stalled.url)
    assert "no answer within 1 s, 2 tries" in result.stderr
    # 2 tries of 1 s and a backoff of at most 2 s, plus start-up; before: 120 s x 6
    assert elapsed < 20, elapsed
    with lock.held(archive / ".lock"):  # released: the next cron crawl can run
        pass
    status = subprocess.run([*CLI, "status", "--archive", str(archive)], capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert status.returncode == 0 and "in use" not in status.stdout


def test_trickling_server_is_ended_by_the_object_deadline(
    s3_server: S3Server, archive: Path
) -> None:
    # a byte every 0.2 s: no read waits 1 s, so the read timeout never fires; unchecked, one
    # response would take 200 s
    with TrickleServer(interval=0.2, length=1000) as trickle:
        start = time.monotonic()
        result = push(s3_server, archive, "s3://trickle/p", *QUICK,
                      "-s", "PUSH_OBJECT_TIMEOUT=2", endpoint=trickle.url)  # fmt: skip
        elapsed = time.monotonic() - start
    assert_one_line_timeout(result, trickle.url)
    assert "not done within 2 s (the deadline of one object)" in result.stderr, result.stderr
    assert elapsed < 20, elapsed


def test_killed_multipart_push_is_resumed_from_its_parts(
    s3_server: S3Server, archive: Path
) -> None:
    s3_server.make_bucket("resume")
    big = big_warc(archive)
    key = f"p/warc/{big.name}"
    client = s3_server.client()
    with StallProxy(s3_server.ports["s3"], stall={3}) as proxy:
        # one part at a time: parts 1 and 2 reach the server, part 3 never does
        proc = subprocess.Popen([*CLI, "push", "--archive", str(archive), "--to", "s3://resume/p",
                                 *MULTIPART, "-s", "PUSH_MAX_CONCURRENCY=1"],
                                env=environ(s3_server, proxy.url), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:

            def two_parts_there() -> bool:
                assert proc.poll() is None, proc.communicate()
                ups = [u for u in unfinished(s3_server, "resume") if u["Key"] == key]
                return bool(ups) and len(client.list_parts(
                    Bucket="resume", Key=key, UploadId=ups[0]["UploadId"]
                ).get("Parts", [])) == 2  # fmt: skip

            wait_for(two_parts_there, 120, "two parts of the big WARC on the server")
        finally:
            proc.send_signal(signal.SIGKILL)  # no cleanup runs
            proc.communicate()
    assert len(ledger_rows(archive)) == 1  # the killed push's upload, for the next one
    # an upload of the same key the push did not start (another tool, a lost ledger): stale
    client.create_multipart_upload(Bucket="resume", Key=key, ChecksumAlgorithm="SHA256")

    with StallProxy(s3_server.ports["s3"]) as counting:
        result = push(s3_server, archive, "s3://resume/p", *MULTIPART, endpoint=counting.url)
    assert result.returncode == 0, result.stderr
    assert "resumed 1 upload(s) (2 of 4 parts reused)" in result.stdout
    assert "aborted 1 stale upload(s)" in result.stdout
    assert counting.parts == {3: 1, 4: 1}  # parts 1 and 2 were not sent again
    head = client.head_object(Bucket="resume", Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == big.stat().st_size
    assert str(head.get("ChecksumSHA256", "")).endswith("-4")
    assert client.get_object(Bucket="resume", Key=key)["Body"].read() == big.read_bytes()
    db = sqlite3.connect(archive / "manifest.sqlite")
    (verified,) = db.execute("SELECT verified FROM pushes WHERE path = ?",
                             (f"warc/{big.name}",)).fetchone()  # fmt: skip
    db.close()
    assert verified == "checksum"  # the composite of the four parts, two of them reused
    assert unfinished(s3_server, "resume") == []
    assert ledger_rows(archive) == []


def test_multipart_past_its_deadline_is_aborted(s3_server: S3Server, archive: Path) -> None:
    s3_server.make_bucket("deadline")
    big_warc(archive, 3 * PART)
    with StallProxy(s3_server.ports["s3"], stall={2}) as proxy:
        start = time.monotonic()
        result = push(s3_server, archive, "s3://deadline/p", *MULTIPART, *QUICK,
                      "-s", "PUSH_READ_TIMEOUT=30", "-s", "PUSH_OBJECT_TIMEOUT=3",
                      endpoint=proxy.url)  # fmt: skip
        elapsed = time.monotonic() - start
    assert_one_line_timeout(result, proxy.url)
    assert "not done within 3 s" in result.stderr
    assert elapsed < 25, elapsed  # the deadline, not the 30 s read timeout
    assert unfinished(s3_server, "deadline") == []  # the abort went through
    assert ledger_rows(archive) == []
    again = push(s3_server, archive, "s3://deadline/p", *MULTIPART)
    assert again.returncode == 0, again.stderr
    assert "resumed" not in again.stdout and "aborted" not in again.stdout


def test_push_timeout_settings_are_checked(archive: Path) -> None:
    for setting, words in (
        ("PUSH_READ_TIMEOUT=0", "PUSH_READ_TIMEOUT must be more than 0"),
        ("PUSH_CONNECT_TIMEOUT=x", "PUSH_CONNECT_TIMEOUT must be a number"),
        ("PUSH_RETRIES=-1", "PUSH_RETRIES must be at least 0"),
        ("PUSH_OBJECT_TIMEOUT=-5", "PUSH_OBJECT_TIMEOUT must be at least 0"),
    ):
        result = subprocess.run([*CLI, "push", "--archive", str(archive), "--to", "s3://x/p",
                                 "-s", setting], capture_output=True, text=True, timeout=60,
                                check=False)  # fmt: skip
        assert result.returncode == 2, (setting, result.stderr)
        assert words in result.stderr, result.stderr
