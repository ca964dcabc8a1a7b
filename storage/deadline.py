"""A total deadline for one object's transfer to S3, which botocore's timeouts cannot give.

botocore's read timeout bounds each socket read, so a server that trickles a byte a second never
trips it, and its retries multiply the time a stalled server holds a push. :class:`Deadlines`
gives each object a deadline (``with deadlines.hold(seconds):`` in every thread working on it);
past it the object's transfer really ends, three ways:

- botocore's ``before-send`` event refuses every new request of the object (a retry, the next
  part, the HEAD that verifies), and caps a request's read timeout at the time left;
- a watchdog thread shuts down the sockets the object's requests are on, so a read blocked on a
  stalled or trickling server, or a write to one that stopped reading, returns at once;
- :meth:`Deadline.check`, which the part reader calls as it reads, stops an upload mid-body.

Aborting a multipart upload is let through: it is how a failed upload cleans up after itself.
The sockets are found through connection classes installed into the client's connection pools
(botocore has no public hook for them); if botocore changes, :func:`track_connections` logs it
and the deadline is enforced at the next request only.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

_current = threading.local()  # .deadline: the Deadline the running thread works under
# requests a deadline lets through once it has passed: the cleanup of a failed upload
CLEANUP_OPERATIONS = ("AbortMultipartUpload",)


class DeadlineExceeded(Exception):
    """An object's transfer ran past its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"not done within {seconds:g} s")
        self.seconds = seconds


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False  # its object is done: its connections carry others' requests
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, *_: Any, bytes_transferred: int = 0, **__: Any) -> None:
        """Raise DeadlineExceeded once past the deadline (also a reader's progress callback)."""
        if bytes_transferred < 0:
            return  # the body rewound for a retry: before-send refuses the retry itself
        if self.expired or self.left() <= 0:
            self.expired = True
            raise DeadlineExceeded(self.seconds)

    def cut(self) -> int:
        """Shut down the sockets this object's requests are on; how many."""
        self.expired = True
        cut = 0
        for conn in [] if self.finished else list(self.connections):
            sock = getattr(conn, "sock", None)
            if sock is None or getattr(conn, "newsarchiver_deadline", None) is not self:
                continue  # closed, or reused since by another object's request
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                cut += 1
        return cut


def current() -> Deadline | None:
    return getattr(_current, "deadline", None)


class Deadlines:
    """The deadlines of one client's objects, and the watchdog that enforces them."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._cond = threading.Condition()
        self._watchdog: threading.Thread | None = None
        self._seq = 0

    @contextlib.contextmanager
    def hold(self, deadline: Deadline | float | None) -> Iterator[Deadline | None]:
        """Run the block under `deadline` (a Deadline to share it with another thread, seconds
        for a new one, None or 0 for none)."""
        if not deadline:
            yield None
            return
        own = not isinstance(deadline, Deadline)
        if not isinstance(deadline, Deadline):
            deadline = Deadline(deadline)
            self._watch(deadline)
        before, _current.deadline = current(), deadline
        try:
            yield deadline
        finally:
            _current.deadline = before
            if own:
                deadline.finished = True

    def _watch(self, deadline: Deadline) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (deadline.at, self._seq, deadline))
            if self._watchdog is None:
                # a daemon: it only ever waits, and must not keep a finished push alive
                self._watchdog = threading.Thread(
                    target=self._run, name="push-deadline", daemon=True
                )
                self._watchdog.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, deadline = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            # a deadline whose object is done has no connection of its own left: cut() is a no-op
            if cut := deadline.cut():
                logger.info("deadline of %g s passed: cut %d connection(s)", deadline.seconds, cut)

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> None:
        """botocore's before-send: no request past the deadline; reads end by it."""
        deadline = current()
        if deadline is None or event_name.endswith(CLEANUP_OPERATIONS):
            return
        deadline.check()
        context = getattr(request, "context", None)
        if context is not None:
            config = context.get("client_config")
            read_timeout = context.get("read_timeout") or getattr(config, "read_timeout", None)
            left = max(0.1, deadline.left())
            context["read_timeout"] = min(read_timeout, left) if read_timeout else left


class _Tracked:
    """A connection that tells the deadline of the request it carries (see Deadline.cut)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline = current()
        self.newsarchiver_deadline = deadline
        if deadline is not None:
            deadline.connections.add(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


def track_connections(client: Any, deadlines: Deadlines) -> None:
    """Install the tracking connection classes and the before-send check into `client`."""
    client.meta.events.register("before-send.s3", deadlines.before_send)
    from botocore import awsrequest

    class HTTPConnection(_Tracked, awsrequest.AWSHTTPConnection):
        pass

    class HTTPSConnection(_Tracked, awsrequest.AWSHTTPSConnection):
        pass

    class HTTPPool(awsrequest.AWSHTTPConnectionPool):
        ConnectionCls = HTTPConnection

    class HTTPSPool(awsrequest.AWSHTTPSConnectionPool):
        ConnectionCls = HTTPSConnection

    try:
        # the dict the pool managers share (botocore.httpsession.URLLib3Session)
        classes = client._endpoint.http_session._pool_classes_by_scheme
        classes.update({"http": HTTPPool, "https": HTTPSPool})
    except AttributeError:
        logger.warning("botocore's connection pools have changed: a push deadline will only be "
                       "enforced at the next request, not during one")  # fmt: skip
