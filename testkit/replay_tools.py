"""pywb and `wacz validate` for the tests, from a separate venv the test setup creates.

The project's WARCs must replay in pywb and its WACZ exports must pass `wacz validate`. Neither
tool may be installed into the project's venv: pywb 2.10 pins redis 2.10.6 and pulls brotlipy
(which breaks Scrapy's brotli decoding), and `wacz` pulls the heavy `frictionless`. So
`ensure_tools()` creates `<repo>/.venv-replay` (git-ignored) once, from the project's base
interpreter, and the tools run as subprocesses from there.

tests/conftest.py may import the session-scoped fixture, as it does `s3_server`::

    from testkit.replay_tools import replay_tools  # noqa: E402, F401

or a test module registers this module as a plugin (importing the fixture into a test module
would make ruff flag each `replay_tools` argument as a redefinition, F811)::

    pytest_plugins = ["testkit.replay_tools"]

    def test_replay(replay_tools: ReplayTools, tmp_path: Path) -> None:
        with replay_tools.pywb([warc]) as base:  # "http://127.0.0.1:PORT/news/"
            body = urlopen(replay_tools.replay_url(base, "http://example.test/page")).read()
        assert replay_tools.wacz_validate(wacz).returncode == 0

Facts about pywb 2.10.0 and wacz 0.6.0 this module depends on (checked by
tests/test_replay_tools.py):
- `wb-manager init COLL` then `wb-manager add COLL FILE...` (cwd: the archive root) copies the
  WARCs to collections/COLL/archive/ and writes a sorted collections/COLL/indexes/index.cdxj.
- `wayback --bind 127.0.0.1 -p PORT` serves every collection under the cwd; without --bind it
  listens on 0.0.0.0. It logs "[Errno 2] No such file or directory: './config.yaml'" at start:
  harmless, the defaults apply. It exits promptly on SIGTERM.
- `BASE/[TIMESTAMP]id_/URL` replays the original bytes. A response stored with
  `Content-Encoding: gzip` comes back decoded (with `X-Archive-Orig-Content-Encoding: gzip`) to a
  client that sends no `Accept-Encoding: gzip` (urllib), and gzipped as stored to one that does.
- `wacz validate -f FILE` exits 0 if valid, 1 if not (for a zip without datapackage.json it
  prints a traceback and exits 1).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.server_process import set_parent_death_signal

REPO = Path(__file__).resolve().parent.parent
VENV_NAME = ".venv-replay"
REQUIREMENTS = ("pywb==2.10.0", "wacz==0.6.0")
# written into the venv after a complete install; a venv without a matching one is (re)built
STAMP_NAME = "newsarchiver-replay.json"
INSTALL_LOG_NAME = "install.log"
# inside the venv dir, so the repo needs only `/.venv-replay/` in .gitignore; never deleted,
# so a process waiting on it locks the same file the holder has
LOCK_NAME = ".lock"
INSTALL_TIMEOUT = 900.0
START_DEADLINE = 60.0
STOP_GRACE = 10.0
# the tools' own environment: nothing of the project's venv or pytest's import path
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV")
# a loopback server: never through an HTTP proxy from the environment
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def base_python() -> Path:
    """The interpreter the project's venv was made from (a venv's python cannot make a clean
    venv of its own: `-m venv` from it would work but tie the new venv to the project's)."""
    candidate = getattr(sys, "_base_executable", None)
    in_venv = sys.prefix != sys.base_prefix
    if candidate and Path(candidate).is_file():
        inside = Path(candidate).resolve().is_relative_to(Path(sys.prefix).resolve())
        if not (in_venv and inside):
            return Path(candidate)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for name in (f"python{version}", "python3"):
        path = Path(sys.base_prefix) / "bin" / name
        if path.is_file():
            return path
    raise RuntimeError(f"no base interpreter under {sys.base_prefix} for {sys.executable}")


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError as exc:
        return f"(no log: {exc})"


def _tool_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ReplayTools:
    """The pywb and wacz command-line tools of a venv made by ensure_tools()."""

    def __init__(self, venv: Path) -> None:
        self.venv = Path(venv)
        self.bin = self.venv / "bin"

    def __repr__(self) -> str:
        return f"ReplayTools({self.venv})"

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """One of the venv's commands (`wacz`, `wb-manager`, ...), output captured, no check."""
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]], cwd=cwd, env=_tool_env(self.venv),
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def wacz_validate(self, path: Path) -> subprocess.CompletedProcess[str]:
        """`wacz validate -f PATH`: returncode 0 if the WACZ is valid, 1 if not."""
        return self.run("wacz", "validate", "-f", str(Path(path).resolve()))

    def _manager(self, root: Path, *args: str) -> None:
        result = self.run("wb-manager", *args, cwd=root)
        if result.returncode != 0:
            raise RuntimeError(
                f"wb-manager {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )

    @contextlib.contextmanager
    def pywb(
        self, warcs: list[Path], collection: str = "news", index: Path | None = None
    ) -> Iterator[str]:
        """A pywb (`wayback`) serving these WARC files on 127.0.0.1, a free port, in a temp dir.

        Without `index`, `wb-manager add` copies and indexes the WARCs; with one (a CDXJ file,
        sorted, its `filename` fields the WARCs' base names) the WARCs are copied as they are
        and that index is served instead of pywb's own. Yields the collection's base URL,
        "http://127.0.0.1:PORT/news/"; wayback's output is in `<temp dir>/wayback.log`.
        """
        warcs = [Path(w).resolve() for w in warcs]
        for warc in warcs:
            if not warc.is_file():
                raise FileNotFoundError(warc)
        with tempfile.TemporaryDirectory(prefix="pywb-") as tmp:
            root = Path(tmp)
            self._manager(root, "init", collection)
            coll = root / "collections" / collection
            if index is None:
                if warcs:
                    self._manager(root, "add", collection, *map(str, warcs))
            else:
                for warc in warcs:
                    shutil.copy2(warc, coll / "archive" / warc.name)
                shutil.copy2(index, coll / "indexes" / "index.cdxj")
            with self._wayback(root, collection) as base:
                yield base

    @contextlib.contextmanager
    def _wayback(self, root: Path, collection: str) -> Iterator[str]:
        log_path = root / "wayback.log"
        # the port is free when picked and bound by wayback a moment later: if another process
        # took it in between, wayback exits at once and it is tried again on another port
        for attempt in range(3):
            port = free_port()
            base = f"http://127.0.0.1:{port}/{collection}/"
            with open(log_path, "ab") as log:
                log.write(f"--- attempt {attempt + 1}: port {port}\n".encode())
                log.flush()
                proc = subprocess.Popen(
                    [str(self.bin / "wayback"), "--bind", "127.0.0.1", "-p", str(port)],
                    cwd=root, env=_tool_env(self.venv), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, preexec_fn=set_parent_death_signal,
                )  # fmt: skip
            try:
                if _wait_until_up(proc, base, START_DEADLINE):
                    yield base
                    return
                if proc.poll() is None:
                    raise TimeoutError(
                        f"wayback did not answer {base} within {START_DEADLINE:.0f} s; "
                        f"log {log_path}:\n{_tail(log_path)}"
                    )
                if "Address already in use" not in _tail(log_path, 2000):
                    raise RuntimeError(
                        f"wayback exited with {proc.returncode} before answering {base}; "
                        f"log {log_path}:\n{_tail(log_path)}"
                    )
            finally:
                _stop(proc)
        raise RuntimeError(f"wayback found no free port in 3 tries; log:\n{_tail(log_path)}")

    def replay_url(self, base: str, url: str, timestamp: str = "") -> str:
        """The raw (`id_`: original bytes, no rewriting) replay URL of `url` in the collection
        at `base`, the capture closest to `timestamp` (a 1-14 digit prefix; "" = the latest)."""
        if not base.endswith("/"):
            base += "/"
        return f"{base}{timestamp}id_/{url}"


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, deadline_s: float) -> bool:
    """Poll `url` until it answers 200 (True), the process exits or the deadline (False)."""
    deadline = time.monotonic() + deadline_s
    delay = 0.05
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with _NO_PROXY.open(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE seconds; reaps the process either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_GRACE)


def _stamp() -> dict[str, object]:
    return {"requirements": list(REQUIREMENTS), "python": str(base_python())}


def _installed(venv: Path) -> bool:
    try:
        stamp = json.loads((venv / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    tools = ("python", "wayback", "wb-manager", "wacz")
    return stamp == _stamp() and all((venv / "bin" / t).is_file() for t in tools)


def _clear(venv: Path) -> None:
    """Everything in the venv dir but the lock file (held by this process)."""
    for child in venv.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def ensure_tools(repo: Path = REPO) -> ReplayTools:
    """The replay venv `<repo>/.venv-replay`, created and installed on first use.

    A stamp file in the venv, written after a complete install, makes later calls reuse it; a
    venv without it (an interrupted or failed install, other requirements) is rebuilt. An flock
    serializes concurrent pytest processes. The install's output goes to `install.log` in the
    venv; a failure raises with its tail.
    """
    venv = Path(repo).resolve() / VENV_NAME
    tools = ReplayTools(venv)
    if _installed(venv):
        return tools
    venv.mkdir(exist_ok=True)
    with open(venv / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _installed(venv):  # another process finished it while this one waited
                return tools
            _clear(venv)
            log_path = venv / INSTALL_LOG_NAME
            python = str(venv / "bin" / "python")
            steps = [
                [str(base_python()), "-m", "venv", str(venv)],
                [python, "-m", "pip", "install", "--upgrade", "pip"],
                [python, "-m", "pip", "install", *REQUIREMENTS],
            ]
            started = time.monotonic()
            with open(log_path, "ab") as log:
                for step in steps:
                    log.write(f"$ {' '.join(step)}\n".encode())
                    log.flush()
                    try:
                        code = subprocess.run(
                            step, cwd=venv, env=_tool_env(venv), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT,
                            check=False,
                        ).returncode  # fmt: skip
                    except subprocess.TimeoutExpired:
                        code = -1
                    if code != 0:
                        raise RuntimeError(
                            f"creating {venv} failed ({code}) at: {' '.join(step)}\n"
                            f"log {log_path}:\n{_tail(log_path)}"
                        )
                log.write(f"installed in {time.monotonic() - started:.1f} s\n".encode())
            (venv / STAMP_NAME).write_text(json.dumps(_stamp()), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return tools


@pytest.fixture(scope="session")
def replay_tools() -> ReplayTools:
    """The replay venv's tools; the first run creates the venv (pip, from PyPI)."""
    return ensure_tools(REPO)
