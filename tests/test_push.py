"""Pushing an archive to a real S3-compatible server (SeaweedFS on loopback)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from testkit.s3_server import S3Server
from tests.conftest import FAST, Crawl

CLI = [sys.executable, "-m", "crawler.cli"]


def push(server: S3Server, *args: str, env: dict[str, str] | None = None,
         keys: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`newsarchiver push …` with the server's keys in the environment (the AWS way)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(server.env())
    if not keys:
        del environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]
    environ.update(env or {})
    return subprocess.run([*CLI, "push", *args], capture_output=True, text=True, env=environ,
                          timeout=300, check=False)  # fmt: skip


def local_files(archive: Path) -> dict[str, Path]:
    skip = {"tmp", "manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm", ".lock"}
    # derived indexes, not pushed: `newsarchiver index --search --stories` makes them again
    skip |= {f"{db}.sqlite{end}" for db in ("search", "stories") for end in ("", "-wal", "-shm")}
    return {
        p.relative_to(archive).as_posix(): p
        for p in archive.rglob("*")
        if p.is_file()
        and p.relative_to(archive).parts[0] not in skip
        and not p.name.endswith(".open")
    }


@pytest.fixture
def archive(demo_crawl: Crawl, tmp_path: Path) -> Path:
    """A copy of the crawled demo archive, with a WARC still being written."""
    copy = tmp_path / "archive"
    shutil.copytree(demo_crawl.archive, copy)
    (copy / "warc" / "newsarchiver-20990101000000-00009-host.warc.gz.open").write_bytes(b"x" * 10)
    return copy


def test_full_push_every_object_is_the_local_file(s3_server: S3Server, archive: Path) -> None:
    s3_server.make_bucket("full")
    result = push(s3_server, "--archive", str(archive), "--to", "s3://full/news/2026")
    assert result.returncode == 0, result.stderr
    files = local_files(archive)
    stored = s3_server.objects("full", "news/2026/")
    assert set(stored) == {f"news/2026/{rel}" for rel in files} | {"news/2026/manifest.sqlite"}
    client = s3_server.client()
    for rel, path in files.items():
        key = f"news/2026/{rel}"
        body = client.get_object(Bucket="full", Key=key)["Body"].read()
        assert body == path.read_bytes(), rel
        head = client.head_object(Bucket="full", Key=key, ChecksumMode="ENABLED")
        sha = hashlib.sha256(body).digest()
        assert head["Metadata"]["sha256"] == sha.hex()
        assert head["ChecksumSHA256"] == base64.b64encode(sha).decode()
    # the manifest goes as a consistent snapshot that opens as sqlite
    snapshot = archive.parent / "snapshot.sqlite"
    snapshot.write_bytes(
        client.get_object(Bucket="full", Key="news/2026/manifest.sqlite")["Body"].read()
    )
    db = sqlite3.connect(snapshot)
    assert db.execute("SELECT COUNT(*) FROM texts").fetchone()[0] == len(
        list((archive / "text").glob("*.txt"))
    )
    assert f"pushed {len(files) + 1} file(s)" in result.stdout

    # a second push uploads nothing; a file changed since is pushed again
    again = push(s3_server, "--archive", str(archive), "--to", "s3://full/news/2026")
    assert again.returncode == 0 and "pushed 0 file(s)" in again.stdout
    with (archive / "failures.jsonl").open("a") as fh:
        fh.write('{"url": "https://a.example/x"}\n')
    changed = push(s3_server, "--archive", str(archive), "--to", "s3://full/news/2026")
    assert "pushed 1 file(s)" in changed.stdout
    body = client.get_object(Bucket="full", Key="news/2026/failures.jsonl")["Body"].read()
    assert body == (archive / "failures.jsonl").read_bytes()
    status = subprocess.run([*CLI, "status", "--archive", str(archive)], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "not yet pushed to s3://full/news/2026: 0 file(s)" in status


def test_dry_run_lists_and_uploads_nothing(s3_server: S3Server, archive: Path) -> None:
    s3_server.make_bucket("dry")
    result = push(s3_server, "--archive", str(archive), "--to", "s3://dry", "--dry-run")
    assert result.returncode == 0
    assert "would push manifest.sqlite" in result.stdout
    assert f"would push {next(iter(sorted(local_files(archive))))}" in result.stdout
    assert s3_server.objects("dry") == {}


def test_wrong_credentials_missing_bucket_unreachable_endpoint(
    s3_server: S3Server, archive: Path
) -> None:
    s3_server.make_bucket("creds")
    secret = "wrong-secret-do-not-print-0123456789abcd"
    wrong = push(s3_server, "--archive", str(archive), "--to", "s3://creds",
                 env={"AWS_SECRET_ACCESS_KEY": secret})  # fmt: skip
    assert wrong.returncode == 4
    assert "access denied" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    assert secret not in wrong.stdout + wrong.stderr

    missing = push(s3_server, "--archive", str(archive), "--to", "s3://made-by-push/x")
    assert missing.returncode == 4
    assert "does not exist" in missing.stderr and "--create-bucket" in missing.stderr
    created = push(s3_server, "--archive", str(archive), "--to", "s3://made-by-push/x",
                   "--create-bucket")  # fmt: skip
    assert created.returncode == 0 and s3_server.objects("made-by-push")

    nowhere = push(s3_server, "--archive", str(archive), "--to", "s3://creds",
                   "--endpoint-url", "http://127.0.0.1:9")  # fmt: skip
    assert nowhere.returncode == 4 and "cannot reach http://127.0.0.1:9" in nowhere.stderr

    nokeys = push(s3_server, "--archive", str(archive), "--to", "s3://creds", keys=False,
                  env={"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                       "AWS_CONFIG_FILE": "/nonexistent"})  # fmt: skip
    assert nokeys.returncode == 4 and "no AWS credentials" in nokeys.stderr


def test_scrapy_aws_settings_are_honoured_and_never_printed(
    s3_server: S3Server, archive: Path
) -> None:
    s3_server.make_bucket("settings")
    result = subprocess.run(
        [*CLI, "push", "--archive", str(archive), "--to", "s3://settings/p",
         "-s", f"AWS_ACCESS_KEY_ID={s3_server.access_key}",
         "-s", f"AWS_SECRET_ACCESS_KEY={s3_server.secret_key}",
         "-s", f"AWS_ENDPOINT_URL={s3_server.endpoint_url}", "-s", "AWS_REGION_NAME=us-east-1"],
        capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert s3_server.secret_key not in result.stdout + result.stderr
    assert "p/manifest.sqlite" in s3_server.objects("settings")


def test_multipart_upload_is_verified_against_its_parts(s3_server: S3Server, archive: Path) -> None:
    s3_server.make_bucket("multi")
    big = archive / "warc" / "newsarchiver-20990101000000-00001-host.warc.gz"
    big.write_bytes(os.urandom(12 * 1024 * 1024 + 123))
    result = push(s3_server, "--archive", str(archive), "--to", "s3://multi",
                  "-s", "PUSH_MULTIPART_THRESHOLD=5242880",
                  "-s", "PUSH_MULTIPART_CHUNKSIZE=5242880")  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = f"warc/{big.name}"
    head = s3_server.client().head_object(Bucket="multi", Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == big.stat().st_size
    assert head.get("ChecksumSHA256", "").endswith("-3")  # three parts, each checked
    body = s3_server.client().get_object(Bucket="multi", Key=key)["Body"].read()
    assert body == big.read_bytes()
    db = sqlite3.connect(archive / "manifest.sqlite")
    (verified,) = db.execute("SELECT verified FROM pushes WHERE path = ?", (key,)).fetchone()
    assert verified == "checksum"


def test_server_killed_midway_then_the_next_push_completes(
    s3_server: S3Server, archive: Path
) -> None:
    s3_server.make_bucket("midway")
    for i in range(8):  # enough bytes that the push is still going when the server dies
        (archive / "warc" / f"newsarchiver-20990101000000-{i + 10:05d}-host.warc.gz").write_bytes(
            os.urandom(6 * 1024 * 1024)
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_server.env())
    # in parts (6 MiB: two each), so the server dies in the middle of a multipart upload
    multipart = ["-s", "PUSH_MULTIPART_THRESHOLD=5242880", "-s", "PUSH_MULTIPART_CHUNKSIZE=5242880"]
    proc = subprocess.Popen([*CLI, "push", "--archive", str(archive), "--to", "s3://midway",
                             "-s", "PUSH_WORKERS=1", *multipart], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not s3_server.objects("midway"):
        assert proc.poll() is None, "the push ended before the server could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        s3_server.kill()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 4, out + err
        assert "cannot reach" in err or "failed" in err
    finally:
        s3_server.restart()
    result = push(s3_server, "--archive", str(archive), "--to", "s3://midway", *multipart)
    assert result.returncode == 0, result.stderr
    stored = s3_server.objects("midway")
    client = s3_server.client()
    # the upload the dead server could not abort was resumed or aborted by the next push
    assert client.list_multipart_uploads(Bucket="midway").get("Uploads", []) == []
    for rel, path in local_files(archive).items():
        assert rel in stored, rel
        assert client.get_object(Bucket="midway", Key=rel)["Body"].read() == path.read_bytes()


def test_delete_local_after_verify_removes_only_pushed_warcs(
    s3_server: S3Server, archive: Path
) -> None:
    s3_server.make_bucket("delete")
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    result = push(s3_server, "--archive", str(archive), "--to", "s3://delete",
                  "--delete-local-after-verify")  # fmt: skip
    assert result.returncode == 0 and f"deleted {len(warcs)} local WARC" in result.stdout
    assert not list((archive / "warc").glob("*.warc.gz"))
    assert list((archive / "warc").glob("*.open"))  # never pushed, never deleted
    assert {f"warc/{w.name}" for w in warcs} <= set(s3_server.objects("delete"))
    assert list((archive / "text").glob("*.txt"))  # texts stay


def test_crawl_with_push_pushes_when_it_ends(
    s3_server: S3Server, demo_site: Any, tmp_path: Path
) -> None:
    s3_server.make_bucket("cron")
    config = demo_site.write_config(tmp_path / "outlets.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3_server.env())
    result = subprocess.run(
        [*CLI, "crawl", "--config", str(config), "--archive", str(tmp_path / "a"), *FAST,
         "--push", "s3://cron/news"], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pushed " in result.stdout
    stored = s3_server.objects("cron")
    assert "news/manifest.sqlite" in stored
    assert {f"news/{rel}" for rel in local_files(tmp_path / "a")} <= set(stored)
