"""What an archive is pushed to, whatever the store: the :class:`ObjectStore` interface, the
files' digests, :class:`PushError`, and :class:`FSStore`, a directory as the target.

Every store has the same small interface: ``check`` (the target is reachable and writable),
``put`` (one file, carrying its SHA-256) and ``verify`` (the stored object has the file's size
and SHA-256). A file's digest (:func:`digest_file`) is its SHA-256 and, for a multipart upload,
the composite checksum S3 gives it, made in one read. Errors are :class:`PushError` with one line
saying what to fix, and never a credential. ``s3://`` targets are :class:`storage.s3.S3Store`;
the URI scheme picks the class (:data:`storage.s3.STORE_SCHEMES`); :func:`check_target` reads a
target's URI. Reads no settings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from storage.multipart import PutResult, UploadLedger

MiB = 1024 * 1024
# the URI schemes a push may go to (storage.s3.STORE_SCHEMES gives each its class)
TARGET_SCHEMES = ("s3", "file")


class PushError(RuntimeError):
    """A push cannot go on; the message says what to fix (and holds no credential)."""


@dataclass(frozen=True)
class FileDigest:
    """A file's SHA-256, and the checksum S3 gives it when it goes up in parts of part_size."""

    sha256: str  # hex
    size: int
    composite: str | None  # base64 "…-N": sha256 of the parts' sha256s; None when one part
    parts: tuple[str, ...] = ()  # base64 sha256 of each part, when multipart

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def digest_file(path: Path, part_size: int | None = None, threshold: int | None = None,
                chunk: int = 4 * MiB) -> FileDigest:  # fmt: skip
    """One read of the file for both digests: hashing is the push's CPU cost."""
    whole, part, part_fill, size = hashlib.sha256(), hashlib.sha256(), 0, 0
    digests: list[bytes] = []
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            whole.update(block)
            size += len(block)
            while part_size and block:
                take = block[: part_size - part_fill]
                part.update(take)
                part_fill += len(take)
                block = block[len(take) :]
                if part_fill == part_size:
                    digests.append(part.digest())
                    part, part_fill = hashlib.sha256(), 0
    if part_fill:
        digests.append(part.digest())
    if not (part_size is not None and size >= (threshold or part_size)):
        return FileDigest(whole.hexdigest(), size, None)
    composite = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    return FileDigest(whole.hexdigest(), size, f"{composite}-{len(digests)}",
                      tuple(base64.b64encode(d).decode() for d in digests))  # fmt: skip


def file_sha256(path: Path) -> str:
    return digest_file(path).sha256


class ObjectStore(Protocol):
    target: str
    part_size: int | None  # multipart part size, for the composite checksum
    threshold: int | None  # files from this size go multipart

    def key(self, relative: str) -> str: ...
    def check(self, create: bool = False) -> None: ...
    def unfinished(self) -> dict[str, list[str]]: ...
    def abort(self, key: str, upload_id: str) -> None: ...
    def deadline(self) -> AbstractContextManager[Any]: ...
    def put(self, path: Path, key: str, digest: FileDigest, *, unfinished: Sequence[str] = (),
            ledger: UploadLedger | None = None) -> PutResult: ...  # fmt: skip
    def verify(self, key: str, digest: FileDigest) -> str: ...
    def list(self, relative_dir: str) -> list[str]: ...
    def get(self, relative: str, dest: Path) -> None: ...


class FSStore:
    """A directory as the target (file:///mnt/backup/news): copy, fsync, rename, re-read."""

    scheme: ClassVar[str] = "file"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.target = f"file://{self.root}"
        self.part_size: int | None = None
        self.threshold: int | None = None

    @classmethod
    def from_uri(cls, uri: str, **_: Any) -> FSStore:
        return cls(urlsplit(check_target(uri)).path)

    def key(self, relative: str) -> str:
        return relative

    def _path(self, key: str) -> Path:
        """The file of `key`, which stays under the root (a key is a relative path, no '..')."""
        if key.startswith("/") or ".." in Path(key).parts:
            raise PushError(f"{key!r} is no key inside {self.target}")
        return self.root / key

    def check(self, create: bool = False) -> None:
        if not self.root.is_dir():
            if not create:
                raise PushError(f"{self.root} does not exist: create it or pass --create-bucket")
            self.root.mkdir(parents=True)

    def unfinished(self) -> dict[str, list[str]]:
        return {}  # a copy is renamed into place whole, or not at all

    def abort(self, key: str, upload_id: str) -> None:
        pass

    def deadline(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def put(self, path: Path, key: str, digest: FileDigest, *, unfinished: Sequence[str] = (),
            ledger: UploadLedger | None = None) -> PutResult:  # fmt: skip
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            shutil.copyfileobj(src, out, 4 * MiB)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        return PutResult()

    def verify(self, key: str, digest: FileDigest) -> str:
        dest = self._path(key)
        if (
            not dest.is_file()
            or dest.stat().st_size != digest.size
            or file_sha256(dest) != digest.sha256
        ):
            raise PushError(f"{dest}: not the same bytes as the local file")
        return "checksum"

    def list(self, relative_dir: str) -> list[str]:
        base = self._path(relative_dir)
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))  # fmt: skip

    def get(self, relative: str, dest: Path) -> None:
        shutil.copyfile(self._path(relative), dest)


def check_target(uri: str) -> str:
    """`uri` when it names a store unambiguously; else a PushError saying how to write it.

    ``file://backup/x`` is a URI of the host ``backup`` and the path ``/x``: taken as it stands
    it would push to ``/x``, not to ``./backup/x`` as it reads, so a file URI must name no host
    (``file:///abs/path``, or ``localhost``)."""
    try:
        parts = urlsplit(uri)
        host = parts.netloc.rpartition("@")[2]  # host and port, without any user info
    except ValueError:
        raise PushError("cannot push to a URI that cannot be read: write s3://BUCKET/PREFIX or "
                        "file:///PATH") from None  # fmt: skip
    # the target is logged and stored (the manifest's push records, every warcinfo record), so
    # it carries no secret: nothing in the user info, no query or fragment (where a token
    # would go); messages show it without them
    shown = parts._replace(netloc=host, query="", fragment="").geturl()
    if parts.scheme not in TARGET_SCHEMES:
        raise PushError(f"cannot push to {shown!r}: use s3://BUCKET/PREFIX or file:///PATH")
    if parts.username is not None or parts.password is not None:
        raise PushError(
            f"cannot push to {shown!r}: credentials in the URI are not supported (the AWS_* "
            "environment variables, the AWS config files, or AWS_*_ENV settings give them)"
        )
    if parts.query or parts.fragment:
        raise PushError(f"cannot push to {shown + '?…'!r}: a push URI takes no query or fragment")
    if parts.scheme == "s3" and not parts.netloc:
        raise PushError(f"no bucket in {shown!r}: write s3://BUCKET/PREFIX")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise PushError(
                f"{uri!r} names the host {parts.netloc!r}, so its path is {parts.path or '/'!r}: "
                f"write file:///ABSOLUTE/PATH (three slashes)"
            )
        if not parts.path.startswith("/"):
            raise PushError(f"{uri!r} is not file:///ABSOLUTE/PATH")
    return uri
