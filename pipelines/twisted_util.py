"""Small bridges between the Twisted reactor and work done elsewhere (threads, processes)."""

from __future__ import annotations

from concurrent.futures import CancelledError, Future
from typing import Any, Generic, TypeVar

from twisted.internet import defer
from twisted.python.failure import Failure

T = TypeVar("T")


def deferred_from_future(future: Future[T]) -> defer.Deferred[T]:
    """A Deferred fired on the reactor thread when a concurrent.futures Future completes.

    Works with any reactor (not only asyncio's), which is why it does not use asyncio.wrap_future.
    """
    # imported here, not at module level: importing twisted.internet.reactor installs the
    # default reactor, and Scrapy must be the one to choose it (asyncio's)
    from twisted.internet import reactor

    d: defer.Deferred[T] = defer.Deferred()

    def done(fut: Future[T]) -> None:
        if fut.cancelled():  # its executor was shut down before it ran
            reactor.callFromThread(d.errback, Failure(CancelledError()))
            return
        exc = fut.exception()
        if exc is not None:
            reactor.callFromThread(d.errback, Failure(exc))
        else:
            reactor.callFromThread(d.callback, fut.result())

    future.add_done_callback(done)
    return d


class Pending(Generic[T]):
    """A result that several consumers may wait for, each with a Deferred of its own.

    A plain Deferred can be consumed once: its callbacks change the result for the next waiter.
    """

    def __init__(self, source: defer.Deferred[T]) -> None:
        self._done = False
        self._result: Any = None
        self._waiters: list[defer.Deferred[T]] = []
        source.addBoth(self._fire)

    def _fire(self, result: Any) -> None:
        self._done, self._result = True, result
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            (d.errback if isinstance(result, Failure) else d.callback)(result)

    def wait(self) -> defer.Deferred[T]:
        if not self._done:
            d: defer.Deferred[T] = defer.Deferred()
            self._waiters.append(d)
            return d
        if isinstance(self._result, Failure):
            return defer.fail(self._result)
        return defer.succeed(self._result)


def nudge_engine(engine: Any) -> None:
    """Have the engine look for requests now, not at its next 5 s heartbeat.

    Scrapy has no public "go on now"; its engine slot's ``nextcall`` is what ``engine.crawl()``
    schedules itself. Used after unpausing, and by a distributed worker waiting for others.
    """
    slot = getattr(engine, "_slot", None)
    if slot is not None:
        slot.nextcall.schedule()
