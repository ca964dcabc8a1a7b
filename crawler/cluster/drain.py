"""The leasing scheduler's close: what it holds is drained into Redis, or recorded as failed.

When the crawl closes, :class:`crawler.cluster.scheduler.LeasingScheduler` stops its timer and
:func:`drain` takes over: it waits for the step in flight, puts the requests taken ahead and not
started back into the queue (their leases end with them, :func:`put_back_unstarted`) and sends
the last batched steps until nothing is held. When a step fails (Redis gone, or Redis lost the
run: :class:`.connection.StateLost`), what never reached Redis is recorded as a failure
due at once (:func:`record_lost`), so the next run asks for it again; leases not ended stay in
Redis and come back to the queue once this worker is found dead (if Redis lost them too, the
re-seeded run finds their pages again through the outlets' hubs).

:func:`record_lost` is also how the scheduler gives up on a request it cannot queue at all (its
meta does not serialize; one the other workers would not admit, in ``newsarchiver seed``).

Settings: none of its own (the scheduler's). Stats: ``cluster/enqueue_failed``,
``cluster/unqueueable``, ``cluster/redis_errors/enqueue``, ``cluster/redis_errors/complete``
(finished leases Redis never heard of), ``cluster/drain/unstarted_dropped`` (taken ahead, not
started, not put back).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from scrapy import Request
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.cluster.queue_state import Push
from pipelines import page_failure
from pipelines import signals as na_signals

if TYPE_CHECKING:
    from crawler.cluster.scheduler import LeasingScheduler

logger = logging.getLogger(__name__)


@dataclass
class Held:
    """A request accepted by the scheduler, on its way to the shared queue."""

    request: Request | None  # None: one taken ahead and not started, going back at the close
    push: Push


async def drain(scheduler: LeasingScheduler) -> None:
    """The scheduler's close (its timer stopped): the last steps, then what is left recorded."""
    s = scheduler
    while s._in_flight:
        d: Deferred[None] = Deferred()
        s._waiters.append(d)
        await maybe_deferred_to_future(d)
    put_back_unstarted(s)
    error: Exception | None = None
    while (batch := s._take(final=True)) is not None:
        s._in_flight = True
        try:
            out = await maybe_deferred_to_future(threads.deferToThread(s._run, batch))
        except Exception as exc:
            s._sync_failed(Failure(exc), batch)
            error = exc
            break
        finally:
            s._in_flight = False
        s._synced(out, batch)
        put_back_unstarted(s)
    if error is None:
        return
    # Redis is gone: what never reached it is recorded, due at once (the next run asks
    # for it again); leases not ended come back to the queue once this worker is found dead
    lost, s._held = list(s._held), deque()
    for held in lost:
        if held.request is not None:
            record_lost(s, held.request, error)
        else:  # only its serialized form is here: its page's next crawl finds it again
            s._inc("cluster/drain/unstarted_dropped")
    if left := len(s.state.take_done(limit=2**31)):
        s._inc("cluster/redis_errors/complete", left)


def put_back_unstarted(scheduler: LeasingScheduler) -> None:
    """Requests taken ahead and not started: back into the queue with the last steps."""
    s = scheduler
    while s._ready:
        lease, data = s._ready.popleft()
        try:
            score = -int(s.serializer.loads(data).get("priority", 0))
        except Exception:
            score = 0
        if s.state.release(lease):
            s._held.append(Held(None, Push("", 0, score, data, release=lease)))


def record_lost(scheduler: LeasingScheduler, request: Request, exc: Exception) -> None:
    """`request` never reaches the shared queue: a failure row, due at once."""
    reason = "cluster_unavailable" if isinstance(exc, redis.RedisError) else "unqueueable"
    scheduler._inc("cluster/enqueue_failed")
    scheduler._inc("cluster/redis_errors/enqueue" if reason == "cluster_unavailable" else
                   "cluster/unqueueable")  # fmt: skip
    logger.error("could not queue %s in Redis (%s): recorded as a failure", request.url, exc)
    scheduler.crawler.signals.send_catch_log(
        na_signals.page_failed,
        **page_failure.from_request(request, reason, detail=str(exc)[:500], due_now=True),
    )
