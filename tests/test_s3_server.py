"""Tests of testkit/s3_server.py, the loopback SeaweedFS S3 server the push tests run against.

They pin down how this server answers the things a push depends on (checksums, error codes,
surviving a SIGKILL), so a SeaweedFS upgrade that changes one of them fails here, with a clear
name, rather than somewhere in the push tests; and that the launcher fails fast, with weed's
own words, when its port is taken. (That it starts and answers is what every push test shows.)
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

# the `s3_server` fixture comes from tests/conftest.py, which imports it from testkit.s3_server
from testkit.s3_server import S3Server

MiB = 1024 * 1024


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(error code, HTTP status) of a ClientError."""
    response: Any = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh bucket per test: the server is shared by the whole session."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.make_bucket(name)
    return name


def test_put_with_sha256_checksum_round_trips(s3_server: S3Server, bucket: str) -> None:
    s3 = s3_server.client()
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="a/b.txt", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == b64_sha256(body)

    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == body
    # a single-part object's ChecksumSHA256 is the plain SHA-256 of its bytes, as on AWS
    head = s3.head_object(Bucket=bucket, Key="a/b.txt", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64_sha256(body)
    assert head["ContentLength"] == len(body)


def test_wrong_checksum_is_rejected(s3_server: S3Server, bucket: str) -> None:
    # the server verifies the checksum the client sends rather than just storing it
    s3 = s3_server.client()
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumSHA256=b64_sha256(b"other"))
    # (its message blames a Content-MD5 even when the SHA-256 is the wrong one)
    assert error_of(excinfo) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_requests_need_the_right_keys(s3_server: S3Server, bucket: str) -> None:
    assert len(s3_server.secret_key) == 40
    with pytest.raises(ClientError) as excinfo:
        s3_server.client(aws_secret_access_key="x" * 40).list_buckets()
    assert error_of(excinfo) == ("SignatureDoesNotMatch", 403)

    with pytest.raises(ClientError) as excinfo:
        s3_server.client(aws_access_key_id="nobody").list_buckets()
    assert error_of(excinfo) == ("InvalidAccessKeyId", 403)

    # unsigned writes are refused once an identity file is given
    anonymous = s3_server.client(config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as excinfo:
        anonymous.put_object(Bucket=bucket, Key="anonymous", Body=b"x")
    assert error_of(excinfo) == ("AccessDenied", 403)


def test_missing_bucket(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    # HEAD responses have no body, so botocore can only report the status as the code
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket="no-such-bucket")
    assert error_of(excinfo) == ("404", 404)

    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert error_of(excinfo) == ("NoSuchBucket", 404)

    # -s3.autoCreateBucket=false: weed would otherwise create the bucket on a PUT
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert error_of(excinfo) == ("NoSuchBucket", 404)


def test_multipart_upload_round_trips(s3_server: S3Server, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3 = s3_server.client()
    s3.upload_file(
        str(source), bucket, "big.bin", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=config
    )

    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target))
    assert target.read_bytes() == data

    # a multipart object's checksum is COMPOSITE, as on AWS: the SHA-256 of the parts' SHA-256
    # digests, suffixed "-<parts>", so not comparable with a SHA-256 of the whole file
    parts = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == f"{base64.b64encode(composite).decode()}-3"
    assert head["ChecksumType"] == "COMPOSITE"
    assert head["ETag"].endswith('-3"')
    assert head["ContentLength"] == len(data)


def test_kill_and_restart_keep_data(s3_server: S3Server, bucket: str) -> None:
    # one attempt, short timeout: the point is to see the server gone, not to wait for it
    s3 = s3_server.client(config=Config(connect_timeout=2, retries={"total_max_attempts": 1}))
    body = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key="before-kill", Body=body)
    ports = dict(s3_server.ports)

    s3_server.kill()
    assert not s3_server.running
    with pytest.raises(EndpointConnectionError):
        s3.head_object(Bucket=bucket, Key="before-kill")

    s3_server.restart()
    assert s3_server.running
    assert s3_server.ports == ports
    # the same client (same endpoint) reads what was written before the kill, and writes again
    assert s3.get_object(Bucket=bucket, Key="before-kill")["Body"].read() == body
    s3.put_object(Bucket=bucket, Key="after-restart", Body=b"again")
    assert s3.get_object(Bucket=bucket, Key="after-restart")["Body"].read() == b"again"


def test_start_fails_fast_with_the_log_when_a_port_is_taken(tmp_path: Path) -> None:
    server = S3Server(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", server.ports["s3"]))
        blocker.listen()
        with pytest.raises(RuntimeError, match="weed exited") as excinfo:
            server.start(timeout=20)
    assert "not available" in str(excinfo.value)  # weed's own message, from the log tail
    assert not server.running
