"""The S3 object store an archive is pushed to, and the push target's URI: the scheme picks the
class (``STORE_SCHEMES``, :func:`store_for`; :func:`storage.object_store.check_target`).

``s3://bucket/prefix`` is :class:`S3Store` (AWS S3, MinIO, Ceph RGW, SeaweedFS, R2, B2 through
boto3), ``file:///path`` is :class:`storage.object_store.FSStore` (another disk, a mounted
share). Both have the interface of :class:`storage.object_store.ObjectStore`. Errors are
:class:`~storage.object_store.PushError` with one line saying what to fix, and never a
credential.

S3 credentials and endpoint come the AWS way (``AWS_ENDPOINT_URL``, the standard credential
chain, ``AWS_PROFILE``), or from Scrapy's ``AWS_*`` settings when they are set. Every object
carries its SHA-256 as ``x-amz-checksum-sha256`` (checked by the server on upload) and as
metadata ``sha256``; ``verify`` compares both with the local file, a multipart upload's checksum
as the composite of its parts. A file from ``multipart_threshold`` goes up in parts
(:mod:`storage.multipart`: a killed push's upload is resumed by the next push, a failed one is
aborted); ``unfinished`` lists the uploads a killed push left under the prefix.

Time is bounded (:class:`TransferSettings`): ``connect_timeout`` and ``read_timeout`` for each
request, ``retries`` more tries of a request that failed on the network or a 5xx, and
``object_timeout`` for all of one object's upload and verification (``with store.deadline():``,
:mod:`storage.deadline`), which a server trickling bytes cannot stretch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from storage.deadline import DeadlineExceeded, Deadlines, track_connections
from storage.multipart import MultipartUploader, PutResult, UploadLedger
from storage.object_store import (
    FileDigest,
    FSStore,
    MiB,
    ObjectStore,
    PushError,
    check_target,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferSettings:
    multipart_threshold: int = 64 * MiB
    multipart_chunksize: int = 64 * MiB
    max_concurrency: int = 8
    connect_timeout: float = 10.0  # seconds to connect
    read_timeout: float = 60.0  # seconds without a byte from the server
    retries: int = 3  # tries of a failed request after the first
    object_timeout: float = 900.0  # seconds for one object's upload and verification; 0: none


class S3Store:
    scheme: ClassVar[str] = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: str = "auto",
        verify_tls: bool | str | None = None,
        transfer: TransferSettings | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.target = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.transfer = transfer or TransferSettings()
        self.part_size: int | None = self.transfer.multipart_chunksize
        self.threshold: int | None = self.transfer.multipart_threshold
        if addressing_style == "auto":
            # MinIO, SeaweedFS, Ceph and most other servers reached by URL want path-style
            host = urlsplit(self.endpoint_url or "").hostname or ""
            addressing_style = "path" if host and not host.endswith("amazonaws.com") else "auto"
        session = boto3.session.Session(
            profile_name=profile or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            aws_session_token=session_token or None,
            region_name=region or None,
        )
        self.client = session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            verify=verify_tls,
            config=Config(
                s3={"addressing_style": addressing_style},
                # botocore's max_attempts counts the retries, not the first try
                retries={"max_attempts": self.transfer.retries, "mode": "standard"},
                connect_timeout=self.transfer.connect_timeout,
                read_timeout=self.transfer.read_timeout,
                # the parts of two files at once, each on a connection of its own
                max_pool_connections=max(10, 2 * self.transfer.max_concurrency),
            ),
        )
        self._deadlines = Deadlines()
        track_connections(self.client, self._deadlines)
        self._multipart = MultipartUploader(
            self.client, bucket, self.transfer.max_concurrency, self._deadlines
        )
        from boto3.s3.transfer import TransferConfig

        self._transfer_config = TransferConfig(
            multipart_threshold=self.transfer.multipart_threshold,
            multipart_chunksize=self.transfer.multipart_chunksize,
            max_concurrency=self.transfer.max_concurrency,
        )

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3Store:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise PushError(f"no bucket in {uri!r}: write s3://BUCKET/PREFIX")
        return cls(parts.netloc, parts.path, **options)

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _where(self) -> str:
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"

    def _explain(self, exc: BaseException, doing: str) -> PushError:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        endpoint = self.endpoint_url or "AWS S3"
        tries = self.transfer.retries + 1
        if isinstance(exc, DeadlineExceeded):
            return PushError(f"{doing} timed out on {endpoint}: {exc} (the deadline of one object)")
        if isinstance(exc, ReadTimeoutError):
            return PushError(f"{endpoint} timed out while {doing}: no answer within "
                             f"{self.transfer.read_timeout:g} s, {tries} tries")  # fmt: skip
        if isinstance(exc, ConnectTimeoutError):
            return PushError(f"{endpoint} timed out while {doing}: no connection within "
                             f"{self.transfer.connect_timeout:g} s, {tries} tries")  # fmt: skip

        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return PushError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE, or a shared credentials file"
            )
        if isinstance(exc, EndpointConnectionError):
            return PushError(
                f"cannot reach {self.endpoint_url or 'AWS S3'} while {doing}: check --endpoint-url"
                " / AWS_ENDPOINT_URL and that the server is up"
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket", "404", "NotFound") or (status == 404 and doing == "check"):
                return PushError(
                    f"{self._where()} does not exist: create it or pass --create-bucket"
                )
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403",
                        "Forbidden", "InvalidToken", "ExpiredToken") or status == 403:  # fmt: skip
                return PushError(
                    f"access denied to {self._where()} ({code or status}) while {doing}: check "
                    "the access key and secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                    "AWS_PROFILE) and the bucket's permissions"
                )
            return PushError(f"{self._where()} refused {doing}: {code or status}")
        name = type(exc).__name__
        return PushError(f"{doing} failed on {self._where()}: {name}")

    def check(self, create: bool = False) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except Exception as exc:
            error = self._explain(exc, "check")
            if not (create and "does not exist" in str(error)):
                raise error from None
        try:
            self.client.create_bucket(Bucket=self.bucket)
            logger.info("created %s", self._where())
        except Exception as exc:
            raise self._explain(exc, "creating the bucket") from None

    def deadline(self) -> AbstractContextManager[Any]:
        """The block (one object's upload and verification) ends by object_timeout."""
        return self._deadlines.hold(self.transfer.object_timeout)

    def unfinished(self) -> dict[str, list[str]]:
        """Multipart uploads under the prefix that were never completed nor aborted, oldest
        first: upload ids by key."""
        found: dict[str, list[tuple[Any, str]]] = {}
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.key("")
            ):
                for upload in page.get("Uploads", []):
                    found.setdefault(upload["Key"], []).append(
                        (upload.get("Initiated"), upload["UploadId"])
                    )
        except Exception as exc:
            raise self._explain(exc, "listing unfinished uploads") from None
        return {key: [uid for _, uid in sorted(ups, key=lambda u: str(u[0]))]
                for key, ups in found.items()}  # fmt: skip

    def abort(self, key: str, upload_id: str) -> None:
        try:
            self._multipart.abort(key, upload_id)
        except Exception as exc:
            raise self._explain(exc, f"aborting the upload of {key}") from None

    def put(self, path: Path, key: str, digest: FileDigest, *, unfinished: Sequence[str] = (),
            ledger: UploadLedger | None = None) -> PutResult:  # fmt: skip
        """Upload `path` as `key`, in parts when `digest` has them (resuming the ledger's upload
        among `unfinished`, aborting the others). Under a deadline() when called in one."""
        from s3transfer.utils import ReadFileChunk

        from storage.deadline import current

        deadline = current()
        try:
            if digest.parts and self.part_size:
                return self._multipart.upload(path, key, digest, self.part_size, unfinished,
                                              ledger, deadline)  # fmt: skip
            for upload_id in unfinished:  # the file is no longer multipart: none is of use
                self.abort(key, upload_id)
            callbacks = [deadline.check] if deadline else None  # a slow upload stops mid-body
            reader = ReadFileChunk.from_filename(str(path), 0, digest.size, callbacks=callbacks)
            with reader as body:
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=digest.sha256_b64, Metadata={"sha256": digest.sha256},
                )  # fmt: skip
            return PutResult(aborted=len(unfinished))
        except PushError:
            raise
        except Exception as exc:
            raise self._explain(exc, f"uploading {key}") from None

    def verify(self, key: str, digest: FileDigest) -> str:
        """HEAD the object: its size, its metadata sha256 and the server's own checksum must
        be the local file's. Returns how it was verified."""
        size, sha256 = digest.size, digest.sha256
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as exc:
            raise self._explain(exc, f"checking {key}") from None
        if head.get("ContentLength") != size:
            raise PushError(f"{key}: {head.get('ContentLength')} bytes stored, {size} sent")
        if head.get("Metadata", {}).get("sha256") != sha256:
            raise PushError(f"{key}: the stored object's sha256 is not the file's")
        server = head.get("ChecksumSHA256")
        if not server:
            return "metadata"
        expected = digest.composite if "-" in server else digest.sha256_b64
        if server != expected:
            raise PushError(f"{key}: the server's SHA-256 checksum is not the file's")
        return "checksum"

    def list(self, relative_dir: str) -> list[str]:
        """Relative paths of the objects under `relative_dir` (the merge reads the parts)."""
        prefix = self.key(relative_dir.rstrip("/") + "/")
        strip = len(self.key(""))
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                found += [obj["Key"][strip:] for obj in page.get("Contents", [])]
        except Exception as exc:
            raise self._explain(exc, f"listing {prefix}") from None
        return sorted(found)

    def get(self, relative: str, dest: Path) -> None:
        key = self.key(relative)
        try:
            self.client.download_file(self.bucket, key, str(dest), Config=self._transfer_config)
        except Exception as exc:
            raise self._explain(exc, f"downloading {key}") from None


STORE_SCHEMES: dict[str, Any] = {"s3": S3Store, "file": FSStore}


def store_for(uri: str, **options: Any) -> ObjectStore:
    scheme = urlsplit(check_target(uri)).scheme
    cls = STORE_SCHEMES[scheme]
    store: ObjectStore = cls.from_uri(uri, **(options if scheme == "s3" else {}))
    return store
