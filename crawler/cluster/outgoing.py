"""What a request this worker found becomes before the leasing scheduler's step sends it.

:func:`push_for` turns a request into the :class:`.queue_state.Push` the batched step
sends, or drops it: a duplicate of one this worker queued already at that depth or shallower
(remembered here, up to ``LOCAL_SEEN_MAX`` fingerprints: pages link the same URLs over and over,
and each is asked of the shared filter once), or one that cannot be serialized (recorded,
:func:`crawler.cluster.drain.record_lost`). One the other workers would not admit
(:meth:`crawler.cluster.admission.Admission.reason`) goes without its data, to the shared filter
only, and :func:`keep_local` has it fetched here: at once under the lease of the request it
replaces (a redirect to another host), else once the filter says it is new.

Settings: ``CLUSTER_SEED_ONLY`` (through the scheduler: ``seed`` fetches nothing, so what it
would keep is recorded instead). Stats: ``cluster/kept_local/<reason>``, and
:mod:`.drain`'s for what is recorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request

from crawler.cluster.drain import record_lost
from crawler.cluster.queue_state import Push
from crawler.requisite_links import REQUISITE
from pipelines import signals as na_signals

if TYPE_CHECKING:
    from crawler.cluster.scheduler import LeasingScheduler

logger = logging.getLogger(__name__)

LOCAL_SEEN_MAX = 200_000  # fingerprints this worker remembers adding to the shared filter


def keep_local(scheduler: LeasingScheduler, request: Request, lease: str | None) -> bool:
    """One of this process's own the others would not admit, fetched here at once: under
    the lease of the request it replaces (a redirect to another host: a kill requeues that
    one), or past no filter (dont_filter). Others wait for the shared filter's word."""
    s = scheduler
    if s.seed_only:  # it fetches nothing: recorded, the next run asks for it again
        record_lost(s, request, ValueError("not admitted by the other workers"))
        return False
    if lease is not None:
        request.meta["cluster_lease"] = lease
    else:  # the page that found it may end its lease now
        s.crawler.signals.send_catch_log(na_signals.request_queued, request=request)
    s._local.append(request)
    return True


def push_for(scheduler: LeasingScheduler, request: Request) -> Push | None:
    """What the step sends for `request`, or None: a duplicate of one this worker queued
    already, or unqueueable (recorded). One the other workers would not admit
    (:meth:`Admission.reason`) is sent without its data: the shared filter only, and
    fetched here (``cluster/kept_local/<reason>``)."""
    s = scheduler
    fingerprint, depth = "", 0
    if not request.dont_filter:
        fingerprint = s.df.request_fingerprint(request)
        # a requisite is wanted once whatever page names it: never again for a shallower one
        if request.meta.get("kind") != REQUISITE:
            depth = int(request.meta.get("depth", 0))
        # pages link the same URLs over and over: asked of the shared filter once here
        known = s._added_here.get(fingerprint)
        if known is not None and known <= depth:
            s.df.log(request, s.spider)
            return None
    try:
        data = s.serializer.dumps(request.to_dict(spider=s.spider))
    except TypeError as exc:
        record_lost(s, request, exc)
        return None
    if reason := s.admission.reason(s.serializer.loads(data)):
        s._inc(f"cluster/kept_local/{reason}")
        data = b""
    if fingerprint:
        if len(s._added_here) >= LOCAL_SEEN_MAX:
            s._added_here.clear()  # a cache, not the filter: memory stays bounded
        s._added_here[fingerprint] = depth
    return Push(fingerprint, depth, -request.priority, data)
