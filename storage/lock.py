"""One crawl per archive at a time: an flock on ARCHIVE/.lock.

The lock dies with its holder (the kernel drops an flock when the process ends, SIGKILL too), so
a lock left by a killed crawl never blocks. The file says who holds it (pid, start time, and
the command's name, ``newsarchiver crawl`` or ``scrapy crawl``: never its arguments, which may
hold a password) for the message a second crawl prints; it is its owner's only (mode 0600).
Taking the lock again in one process counts a hold (the CLI takes it before Scrapy starts, the
crawl's extension again); the last release frees it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.clock import iso, utc_now

LOCK_MODE = 0o600
_WORD = re.compile(r"^[a-z][a-z0-9-]{0,31}$")  # a subcommand, not an option or a value
# what `python -m crawler.cli` (and a script path) shows as argv[0]: its last two parts first
_PROGRAM_NAMES = {
    "cli/__main__.py": "newsarchiver",
    "__main__.py": "python",
}
_named: list[str] = []  # the command's name as its code gave it (name_command)
_held: dict[Path, list[int]] = {}  # lock path -> [fd, holds], for this process
_guard = threading.Lock()


class ArchiveLocked(RuntimeError):
    """Another process holds the archive's lock."""

    def __init__(self, path: Path, holder: dict[str, str]) -> None:
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("started"):
            who += f", started {holder['started']}"
        super().__init__(f"the archive {path.parent} is in use by another crawl ({who})")
        self.holder = holder


def _read_holder(fd: int) -> dict[str, str]:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def name_command(name: str) -> None:
    """The name lock files give this process's command (``scrapy crawl``: Scrapy takes the
    command's name out of ``sys.argv``)."""
    _named[:] = [name]


def command_name(argv: list[str] | None = None) -> str:
    """The program and its subcommand (``newsarchiver crawl``), no arguments: they may hold a
    password (``--redis redis://:PW@…``, ``-s AWS_SECRET_ACCESS_KEY=…``)."""
    if argv is None and _named:
        return _named[0]
    argv = sys.argv if argv is None else argv
    if not argv:
        return "?"
    program = os.path.basename(argv[0]) or "?"
    tail = "/".join(argv[0].replace(os.sep, "/").split("/")[-2:])
    program = _PROGRAM_NAMES.get(tail, _PROGRAM_NAMES.get(program, program))
    if program == "python" and "scrapy" in argv[0]:
        program = "scrapy"  # python -m scrapy
    sub = argv[1] if len(argv) > 1 and _WORD.match(argv[1]) else ""
    return f"{program} {sub}".strip()


def acquire(path: Path) -> None:
    """Take the lock at `path` or raise ArchiveLocked naming the holder."""
    path = path.resolve()
    with _guard:
        if path in _held:
            _held[path][1] += 1  # taken again in this process (the CLI, then the crawl)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, LOCK_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ArchiveLocked(path, holder) from None
        with contextlib.suppress(OSError):  # another user's file: theirs to mend
            os.fchmod(fd, LOCK_MODE)  # a lock file made before 0600 (it held the whole argv)
        os.ftruncate(fd, 0)
        info = f"pid={os.getpid()}\nstarted={iso(utc_now())}\ncommand={command_name()}\n"
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, info.encode("utf-8"))
        _held[path] = [fd, 1]


@contextmanager
def held(path: Path) -> Iterator[None]:
    """`with lock.held(layout.lock_path):` around anything that changes the archive."""
    acquire(path)
    try:
        yield
    finally:
        release(path)


def holder(path: Path) -> dict[str, str] | None:
    """Who holds the lock at `path` now, or None. Reads the file and checks that its pid is
    alive, never locks it: a status query must not make a starting crawl find it taken."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    info = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        os.kill(int(info["pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError):
        return None  # empty, or left by a killed crawl (the flock itself died with it)
    except PermissionError:
        pass  # alive, someone else's
    return info


def release(path: Path) -> None:
    path = path.resolve()
    with _guard:
        if path not in _held:
            return
        _held[path][1] -= 1
        if _held[path][1] > 0:
            return
        fd = _held.pop(path)[0]
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
