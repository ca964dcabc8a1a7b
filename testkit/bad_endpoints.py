"""S3 endpoints that misbehave, on 127.0.0.1 free ports, for the push's timeout and resume tests.

- :class:`SilentServer` accepts connections and never answers (a stalled endpoint).
- :class:`TrickleServer` answers HEAD at once (the bucket check passes) and the listing of
  unfinished uploads (there are none), and any other request (the upload of an object)
  with headers and then a body of a byte every ``interval`` seconds: each read gets a byte well
  within the read timeout, so only a deadline on the whole object ends it.
- :class:`StallProxy` forwards to a real server (SeaweedFS), counts the UploadPart requests by
  part number, and stops forwarding a connection for good once it carries a part in ``stall``
  (the server looks stalled in the middle of a multipart upload; other requests, the abort
  included, go through on their connections).

Each runs in daemon threads, is a context manager, and closes every socket when it ends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from types import TracebackType

PART_RE = re.compile(rb"[?&]partNumber=(\d+)")
NO_UPLOADS = (
    b"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"
)


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Listener:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.closed.set()
        self.sock.close()
        with self._lock:
            for conn in self._conns:
                conn.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _drain(self, conn: socket.socket) -> None:
        """Read and drop what the client sends until it hangs up or we close."""
        try:
            while not self.closed.is_set() and conn.recv(65536):
                pass
        except OSError:
            pass


class SilentServer(_Listener):
    def _serve(self, conn: socket.socket) -> None:
        self._drain(conn)


class TrickleServer(_Listener):
    def __init__(self, interval: float = 0.2, length: int = 1000) -> None:
        super().__init__()
        self.interval, self.length = interval, length

    def _serve(self, conn: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        return
                    head += data
                if head.startswith(b"HEAD "):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    continue
                if head.startswith(b"GET ") and b"uploads" in head.split(b"\r\n", 1)[0]:
                    body = NO_UPLOADS
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    continue
                # the request body is left unread: the kernel buffers a small one
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode())
                for _ in range(self.length):
                    if self.closed.wait(self.interval):
                        return
                    conn.sendall(b"x")
        except OSError:
            return


class StallProxy(_Listener):
    def __init__(self, upstream_port: int, stall: Iterable[int] = ()) -> None:
        super().__init__()
        self.upstream_port = upstream_port
        self.stall = set(stall)
        self.parts: Counter[int] = Counter()  # UploadPart requests seen, by part number

    def _serve(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            conn.close()
            return
        with self._lock:
            self._conns.append(upstream)
        threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()
        tail = b""
        try:
            while data := conn.recv(65536):
                # request lines only: a part number can straddle two reads, so the end of the
                # last read is scanned again (a body that happens to hold the pattern: 2^-90)
                scan = tail + data
                stalled = False
                for match in PART_RE.finditer(scan):
                    if match.end() > len(tail):  # not counted with the last read
                        number = int(match.group(1))
                        with self._lock:
                            self.parts[number] += 1
                        stalled = stalled or number in self.stall
                tail = scan[-64:]
                if stalled:
                    self._drain(conn)  # never forwarded: the server looks stalled
                    return
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `predicate()` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout} s: {what}")
        time.sleep(0.02)
