"""ServerProcess: a server binary a test fixture runs (redis-server, SeaweedFS's weed).

What both need the same way: the output appended to a log file of the server's own, with the
command line at the top of each start; the server killed if the test process dies without
stopping it (Linux's parent-death signal); stop() (SIGTERM, then SIGKILL), kill() (SIGKILL at
once, like a server lost midway); the end of the log for error messages. Subclasses say how to
start and when the server is ready.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, ClassVar

# Linux: loaded here, in the parent, so the child between fork and exec imports nothing (an
# import lock held by another thread at fork time would deadlock it)
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def set_parent_death_signal() -> None:
    """Runs in the child before exec: SIGKILL the server if the test process dies."""
    # Otherwise a crashed or SIGKILLed pytest would leave the server running, holding its
    # ports. The signal fires when the *thread* that started the server exits, so a start()
    # from a short-lived thread would kill it early: fixtures and tests run on the main thread.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerProcess:
    """One server process at a time, its output in `log_path`."""

    LOG_TAIL_LINES: ClassVar[int] = 30
    STOP_TIMEOUT: ClassVar[float] = 10.0

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _spawn(self, command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> int:
        """Start `command`, its output appended to the log; returns the log offset where this
        start's output begins."""
        self._log = self.log_path.open("ab")
        self._log.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
        self._log.flush()
        log_start = self.log_path.stat().st_size
        self._proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=set_parent_death_signal if _LIBC is not None else None,
        )
        return log_start

    def log_tail(self, lines: int | None = None) -> str:
        """The end of the log, for error messages."""
        lines = lines or self.LOG_TAIL_LINES
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no {self.log_path.name})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"---- last {lines} lines of {self.log_path} ----\n{tail}"

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to `timeout` s for a clean shutdown, then SIGKILL."""
        timeout = timeout or self.STOP_TIMEOUT
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                if self._log is not None:
                    self._log.write(f"\n==== no exit {timeout} s after SIGTERM: SIGKILL\n".encode())
        self._reap()

    def kill(self) -> None:
        """SIGKILL at once, like a server lost midway; its data dir is kept."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._reap()

    def _reap(self) -> None:
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
