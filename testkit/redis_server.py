"""A real Redis server (Debian's `redis-server`) on loopback for the distributed-crawl tests.

`RedisServer` runs `redis-server` on 127.0.0.1 only, on a free port picked here, with its working
dir under a pytest temp dir and no persistence unless asked for, optionally with a password. It
can be stopped (SIGTERM) or killed (SIGKILL, like a server lost in the middle of a crawl) and
started again on the same port, so a client keeps its URL across the outage.

tests/conftest.py imports both fixtures, so a test only asks for them (importing them in a test
module instead would make ruff flag each argument as a redefinition, F811)::

    from testkit.redis_server import RedisServer

    def test_queue(redis_server: RedisServer) -> None:
        redis_server.flushall()  # or keys under a prefix of the test's own: the server is shared
        settings = {"REDIS_URL": redis_server.url}

    def test_outage(redis_server_factory: Callable[..., RedisServer]) -> None:
        server = redis_server_factory(persist=True)  # a server of the test's own, to kill
        server.kill()
        server.start()

`redis-server` is a system package, not a pip one: `make test` installs it (apt-get). Without
it the fixtures fail, they do not skip: a skipped Redis test would hide that nothing checked the
distributed crawl.

Facts about redis-server 7.0 (Debian 12) this module depends on (checked by
tests/test_redis_server.py):
- Command-line `--option value` pairs stand in for a config file, and without a config file
  nothing is read from /etc/redis: the system server's config cannot change ours.
- `--save ''` (an empty argument) switches RDB snapshots off, including the one on shutdown.
- With `--requirepass`, PING before AUTH is refused (NOAUTH), so readiness is probed with the
  password.
- After SIGKILL the port can be bound again at once (the server sets SO_REUSEADDR).
- `--appendonly yes --appendfsync always` (persist=True) writes every command to the AOF in
  `appendonlydir/` before replying, so data survives a SIGKILL.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from testkit.server_process import ServerProcess

INSTALL_HINT = (
    "no `redis-server` on PATH: `make test` installs it "
    "(Debian: apt-get install --no-install-recommends redis-server)"
)


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def require_redis_server() -> Path:
    """The redis-server binary; fails the calling test (not skips) if it is not installed."""
    binary = find_redis_server()
    if binary is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return binary


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (free when asked: start() retries if it is taken since)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer(ServerProcess):
    """`redis-server` on 127.0.0.1:<port>, database 0, optionally with a password.

    Everything lives under `root`: the working dir (the AOF in `appendonlydir/` when `persist`)
    and `redis.log` (the server's own log, appended on each start).
    """

    def __init__(
        self,
        root: Path,
        password: str | None = None,
        persist: bool = False,
        port: int | None = None,
    ) -> None:
        self.binary = require_redis_server()
        self.root = Path(root)
        super().__init__(self.root / "redis.log")
        self.password = password
        self.persist = persist
        # picked once: start() after stop()/kill() comes back on the same port
        self._port_given = port is not None
        self.port = port if port is not None else free_port()
        self._started_once = False

    def __repr__(self) -> str:
        return f"RedisServer({self.url}, root={self.root}, pid={self.pid})"

    @property
    def url(self) -> str:
        """redis://[:password@]127.0.0.1:<port>/0, as REDIS_URL for scrapy-redis."""
        auth = f":{urllib.parse.quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        """The redis-server command line (also written at the top of each start in redis.log)."""
        command = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.root),
            # the log goes to stdout, our log file; no pid file, no daemon, no unix socket
            "--logfile", "",
            "--daemonize", "no",
            # no RDB snapshots at all, not even on shutdown
            "--save", "",
        ]  # fmt: skip
        if self.persist:
            # every write is in the AOF before the reply: nothing is lost to a SIGKILL
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            command += ["--appendonly", "no"]
        if self.password:
            command += ["--requirepass", self.password]
        return command

    def start(self, timeout: float = 15) -> RedisServer:
        """Start the server and wait until PING answers; returns self."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.root.mkdir(parents=True, exist_ok=True)
        # the port was free when picked, not necessarily now: a first start on a port picked
        # here may move to another; a restart must keep its port (clients hold the URL)
        attempts = 1 if self._started_once or self._port_given else 3
        for attempt in range(attempts):
            if attempt:
                self.port = free_port()
            try:
                self._launch(timeout)
                break
            except _PortInUse:
                if attempt + 1 == attempts:
                    raise RuntimeError(f"port {self.port} is in use\n{self.log_tail()}") from None
        self._started_once = True
        return self

    def _launch(self, timeout: float) -> None:
        log_start = self._spawn(self.command(), self.root)
        try:
            self._wait_ready(timeout, log_start)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float, log_start: int) -> None:
        # short timeouts and no retries (redis-py's default backs off for seconds between its
        # 3 retries): each probe fails fast and the loop does the retrying
        probe = self.client(socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        try:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    with self.log_path.open("rb") as log:
                        log.seek(log_start)
                        this_start = log.read().decode(errors="replace")
                    if "Address already in use" in this_start:
                        self._reap()
                        raise _PortInUse
                    raise RuntimeError(
                        f"redis-server exited with code {self._proc.returncode} during start\n"
                        f"{self.log_tail()}"
                    )
                try:
                    if probe.ping():
                        return
                except redis.RedisError as error:  # refused until it listens, LOADING the AOF
                    last_error = error
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"redis-server not answering PING after {timeout}s on port {self.port}:"
                        f" {last_error!r}\n{self.log_tail()}"
                    )
                time.sleep(0.02)
        finally:
            probe.close()

    def client(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client for database 0 of this server (bytes replies); kwargs override.

        It has redis-py's default retries (3, with backoff), as scrapy-redis's client does: pass
        `retry=Retry(NoBackoff(), 0)` for one that fails at once while the server is down.
        """
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "db": 0,
            "password": self.password,
            "socket_connect_timeout": 5,
            "socket_timeout": 10,
            **kwargs,
        }
        return redis.Redis(**options)

    def flushall(self) -> None:
        """Delete every key of every database: for a test that needs the shared server empty."""
        with contextlib.closing(self.client()) as client:
            client.flushall()


class _PortInUse(Exception):
    """redis-server could not bind its port (someone took it after free_port())."""


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis server for the session, stopped at the end; fails if redis-server is missing.

    Shared by every test: one that needs it empty calls flushall(), or keeps to keys of its own.
    """
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start servers of the test's own (to stop, kill, restart); all stopped after the test.

    `redis_server_factory(password=None, persist=False)` returns a started RedisServer.
    """
    require_redis_server()
    servers: list[RedisServer] = []

    def make(password: str | None = None, persist: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", password=password, persist=persist)
        servers.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
