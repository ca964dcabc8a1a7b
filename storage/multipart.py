"""Multipart uploads to S3 that resume after a killed push and abort after a failed one.

boto3's transfer manager starts an interrupted upload again from zero, and a push killed in the
middle of one (SIGKILL: no cleanup runs) leaves it on the server, its parts stored (and billed)
until someone aborts it. Here a file goes up in parts of ``part_size``, each with its SHA-256
(the server checks it, and the object's checksum is the composite of the parts', which the push
verifies). A failure aborts the upload. The id of every upload is kept in a :class:`UploadLedger`
(the archive's manifest) from its start to its end, so the next push, which lists the unfinished
uploads under its prefix, resumes the one it started for the same bytes: every part whose size
and checksum are the local part's is kept (where the server lists no checksum of a part, as
SeaweedFS does, its ETag, the part's MD5), the rest go up, and the upload is completed. Any other
unfinished upload of the key is aborted as stale.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from storage.deadline import Deadline, Deadlines

if TYPE_CHECKING:
    from storage.object_store import FileDigest

logger = logging.getLogger(__name__)


@dataclass
class PutResult:
    """What one put did, for the push's report."""

    parts: int = 0  # parts of a multipart upload; 0: one PUT
    reused: int = 0  # parts kept from the upload it resumed
    resumed: bool = False
    aborted: int = 0  # stale unfinished uploads of the key aborted


class UploadLedger(Protocol):
    """Where a push keeps the multipart uploads it started, so a killed push's can be resumed."""

    def started(self, key: str, upload_id: str, sha256: str) -> None: ...
    def sha256_of(self, key: str, upload_id: str) -> str | None: ...
    def ended(self, key: str, upload_id: str) -> None: ...


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """(offset, length) of each part, as digest_file cuts them."""
    return [(offset, min(part_size, size - offset)) for offset in range(0, size, part_size)]


def _md5(path: Path, offset: int, length: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        fh.seek(offset)
        while length > 0 and (block := fh.read(min(length, 4 * 1024 * 1024))):
            md5.update(block)
            length -= len(block)
    return md5.hexdigest()


class _Guard:
    """The part reader's callback: stops a part mid-body at the deadline or another's failure."""

    def __init__(self, deadline: Deadline | None, stop: threading.Event) -> None:
        self.deadline, self.stop = deadline, stop

    def __call__(self, *_: Any, bytes_transferred: int = 0, **__: Any) -> None:
        if bytes_transferred < 0:
            return  # the body rewound for a retry, which before-send stops if it must
        if self.deadline is not None:
            self.deadline.check()
        if self.stop.is_set():
            raise RuntimeError("stopped: another part failed")


class MultipartUploader:
    def __init__(self, client: Any, bucket: str, concurrency: int, deadlines: Deadlines) -> None:
        self.client, self.bucket = client, bucket
        self.concurrency = max(1, concurrency)
        self.deadlines = deadlines

    def abort(self, key: str, upload_id: str) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def upload(
        self,
        path: Path,
        key: str,
        digest: FileDigest,
        part_size: int,
        unfinished: Sequence[str] = (),
        ledger: UploadLedger | None = None,
        deadline: Deadline | None = None,
    ) -> PutResult:
        ranges = part_ranges(digest.size, part_size)
        if len(ranges) != len(digest.parts):
            raise ValueError(f"{key}: digest of {len(digest.parts)} parts, {len(ranges)} to send")
        result = PutResult(parts=len(ranges))
        upload_id, etags = None, {}
        for old in unfinished:
            if upload_id is None and ledger and ledger.sha256_of(key, old) == digest.sha256:
                upload_id, etags = old, self._reusable(path, key, old, ranges, digest)
                result.resumed, result.reused = True, len(etags)
                logger.info("%s: resuming upload %s, %d of %d parts there", key, old,
                            len(etags), len(ranges))  # fmt: skip
                continue
            # not ours, or for other bytes (the file changed since): its parts are of no use
            self.abort(key, old)
            if ledger:
                ledger.ended(key, old)
            result.aborted += 1
            logger.info("%s: aborted stale upload %s", key, old)
        if upload_id is None:
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256",
                Metadata={"sha256": digest.sha256},
            )["UploadId"]  # fmt: skip
            if ledger:
                ledger.started(key, upload_id, digest.sha256)
        try:
            etags.update(self._send_parts(path, key, upload_id, ranges, digest, etags, deadline))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [
                    {"PartNumber": n, "ETag": etags[n], "ChecksumSHA256": digest.parts[n - 1]}
                    for n in range(1, len(ranges) + 1)
                ]},
            )  # fmt: skip
        except BaseException:
            try:
                self.abort(key, upload_id)
            except Exception as exc:  # the server is gone: the next push finds it in the ledger
                logger.warning("%s: could not abort upload %s (%s): the next push resumes or "
                               "aborts it", key, upload_id, type(exc).__name__)  # fmt: skip
            else:
                if ledger:
                    ledger.ended(key, upload_id)
            raise
        if ledger:
            ledger.ended(key, upload_id)
        return result

    def _reusable(
        self, path: Path, key: str, upload_id: str, ranges: list[tuple[int, int]],
        digest: FileDigest,
    ) -> dict[int, str]:  # fmt: skip
        """ETags of the upload's parts that are the local file's, by part number."""
        listed: dict[int, list[dict[str, Any]]] = {}
        for page in self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        ):
            for part in page.get("Parts", []):
                listed.setdefault(part["PartNumber"], []).append(part)
        keep: dict[int, str] = {}
        for number, entries in listed.items():
            # SeaweedFS lists a part sent twice twice: which one it would complete is unclear
            if not 1 <= number <= len(ranges) or len(entries) != 1:
                continue
            part = entries[0]
            offset, length = ranges[number - 1]
            if part.get("Size") != length:
                continue
            if part.get("ChecksumSHA256"):
                same = part["ChecksumSHA256"] == digest.parts[number - 1]
            else:
                same = part.get("ETag", "").strip('"') == _md5(path, offset, length)
            if same:
                keep[number] = part["ETag"]
        return keep

    def _send_parts(
        self, path: Path, key: str, upload_id: str, ranges: list[tuple[int, int]],
        digest: FileDigest, done: dict[int, str], deadline: Deadline | None,
    ) -> dict[int, str]:  # fmt: skip
        from s3transfer.utils import ReadFileChunk

        todo = [n for n in range(1, len(ranges) + 1) if n not in done]
        stop = threading.Event()
        guard = _Guard(deadline, stop)

        def send(number: int) -> tuple[int, str]:
            offset, length = ranges[number - 1]
            with (
                self.deadlines.hold(deadline),
                ReadFileChunk.from_filename(str(path), offset, length, callbacks=[guard]) as body,
            ):
                guard()  # not one more part past the deadline
                response = self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=digest.parts[number - 1],
                )  # fmt: skip
            return number, response["ETag"]

        if not todo:
            return {}
        with ThreadPoolExecutor(min(self.concurrency, len(todo)), "push-part") as pool:
            futures = [pool.submit(send, n) for n in todo]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f.exception() for f in finished if f.exception()), None)
            if failed is not None:
                stop.set()  # the parts still sending stop at their next read
                pool.shutdown(wait=True, cancel_futures=True)
                raise failed
            return dict(f.result() for f in futures)
