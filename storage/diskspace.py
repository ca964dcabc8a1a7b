"""Free space where the archive lives: the floor a crawl keeps, and what counts as a full disk.

A crawl that fills its disk cannot write its evidence, its texts, its manifest or its log, and
each of those fails in its own way. So a crawl refuses to start below a floor of free space, and
stops (cleanly, with room left for its manifest and summary) once a write would take it below
that floor; a disk that fills anyway (another process, a quota) is recognised by its errno.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class DiskFull(OSError):
    """The archive's file system has less free space than the crawl needs."""

    def __init__(self, path: Path, free: int, floor: int) -> None:
        self.path, self.free, self.floor = path, free, floor
        super().__init__(
            errno.ENOSPC,
            f"no space left for the archive: {path} has {free / 1e6:.1f} MB free"
            + (f", below the floor of {floor / 1e6:.0f} MB" if floor else ""),
        )

    def __str__(self) -> str:
        return str(self.strerror)


def _existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (a new archive's directory is made later)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding `path`."""
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize


def check_free(path: Path, floor: int) -> None:
    """Raise DiskFull when the file system of `path` has less than `floor` bytes free."""
    if floor <= 0:
        return
    free = free_bytes(path)
    if free < floor:
        raise DiskFull(_existing(path), free, floor)


def is_disk_full(exc: BaseException | None) -> bool:
    """A write failed because the disk (or the quota, or the file size limit) is full; sqlite
    says so in words."""
    while exc is not None:  # a later error "because of" a full disk is one too
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__
    return False


def full_error(exc: BaseException, path: Path) -> DiskFull:
    """A DiskFull naming the archive and its free space, for any disk-full error."""
    if isinstance(exc, DiskFull):
        return exc
    return DiskFull(_existing(path), free_bytes(path), 0)
