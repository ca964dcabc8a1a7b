"""JSON for the requests in the Redis queue (scrapy-redis's ``SCHEDULER_SERIALIZER``).

scrapy-redis pickles by default, and unpickling runs code: anyone who can write to the shared
Redis could run anything on every worker. JSON cannot, and a queue stays readable with
``redis-cli``. Bytes (bodies, headers) are tagged ``{"$b": base64}``; a tuple becomes a list.
Meta keys that only make sense inside one process (the pending WARC write, the lease, download
slot bookkeeping) are left out, and so are the headers a worker's downloader middlewares set
(User-Agent, Accept…, Cookie from its own jar): only :data:`crawler.cluster.admission.HEADERS`
go. What a worker reads back is not trusted either way (:mod:`crawler.cluster.admission`). Any
other value JSON cannot hold is a TypeError, which the
scheduler counts and records as a failure rather than lose the request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from crawler.cluster.admission import HEADERS

# meta of this process only: a Deferred-bearing WARC Pending, this worker's lease, timings, what
# its downloader middlewares set (timeout, proxy: each worker's own settings), and what
# describes an answer rather than the request (set again when the next answer comes)
LOCAL_META = frozenset({"warc", "cluster_lease", "cluster_parent", "download_latency",
                        "download_slot", "download_timeout", "proxy", "_auth_proxy",
                        "_scheme_proxy", "not_modified", "charset_unfit", "soft_failure",
                        "requisite_counted", "_slot_fingerprint", "is_start_request",
                        # made again by the worker that reads the request: not queue data's
                        # to say (OutletsSpider.identity)
                        "url_identity"})  # fmt: skip


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, bytes) else k.decode("latin-1"): _encode(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in the Redis queue")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$b" in value:
            return base64.b64decode(value["$b"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _name(key: Any) -> str:
    return key.decode("latin-1") if isinstance(key, bytes) else str(key)


def dumps(obj: dict[str, Any]) -> bytes:
    """A request dict (``Request.to_dict``) as compact JSON."""
    obj = dict(obj)
    if obj.get("meta"):
        obj["meta"] = {k: v for k, v in obj["meta"].items() if k not in LOCAL_META}
    if obj.get("headers"):
        obj["headers"] = {k: v for k, v in obj["headers"].items()
                          if _name(k).lower() in HEADERS}  # fmt: skip
    return json.dumps(_encode(obj), separators=(",", ":"), sort_keys=True).encode("utf-8")


def loads(data: bytes | str) -> dict[str, Any]:
    decoded: dict[str, Any] = _decode(json.loads(data))
    return decoded
