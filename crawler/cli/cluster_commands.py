"""The distributed crawl's commands: ``crawl --redis``'s options, ``seed`` and ``merge``.

::

    newsarchiver crawl … --redis URL [--worker-id ID] [--cluster NAME]
    newsarchiver seed  --config FILE --redis URL [--cluster NAME] [--archive DIR]
    newsarchiver merge --to s3://BUCKET/PREFIX | --out FILE MANIFEST...

``seed`` queues a run's seeds in Redis and fetches nothing (``CLUSTER_SEED_ONLY``); ``merge``
combines the workers' manifests (:mod:`storage.merge`), in the object store or locally.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

from crawler.cluster.identity import check_worker_id, worker_id
from crawler.cluster.state import redact
from crawler.outlets import ConfigError, load_config
from crawler.runner import (
    EXIT_CRASH,
    EXIT_OK,
    EXIT_PUSH,
    build_settings,
    run_crawl,
    store_options,
)
from storage.merge import merge_in_store, merge_manifests
from storage.object_store import PushError
from storage.s3 import store_for


def cluster_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The CLUSTER_* settings of --redis, --worker-id, --cluster (none without --redis)."""
    if not args.redis:
        if args.worker_id or args.cluster:
            raise ConfigError("--worker-id and --cluster need --redis URL")
        return {}
    extra: dict[str, Any] = {"CLUSTER_ENABLED": True, "REDIS_URL": args.redis}
    if args.worker_id:
        try:  # it goes into file names and object keys
            extra["CLUSTER_WORKER_ID"] = check_worker_id(args.worker_id, "--worker-id")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if args.cluster:
        extra["CLUSTER_NAME"] = args.cluster
    return extra


def cmd_seed(args: argparse.Namespace) -> int:
    """Queue the outlets' seeds (and the due failures) in Redis for the workers; fetch nothing."""
    config = load_config(args.config).select(args.outlet)
    with tempfile.TemporaryDirectory(prefix="newsarchiver-seed-") as tmp:
        archive = args.archive or tmp
        extra = {
            **cluster_settings(args),
            "CLUSTER_SEED_ONLY": True,
            "WARC_ENABLED": False,
            "EXTRACT_ENABLED": False,
            "TEXT_ENABLED": False,
        }
        settings = build_settings(archive, args.set, **extra)
        summary = run_crawl(config, settings)
    if summary is None:
        return EXIT_CRASH
    queued = summary["stats"].get("cluster/seeds/queued", 0)
    print(f"queued {queued} seed request(s) in {redact(args.redis)} for cluster "
          f"{settings['CLUSTER_NAME']}")  # fmt: skip
    return EXIT_OK


def worker_part(settings: Settings) -> str | None:
    """A distributed crawl's worker id: its part of the pushed archive (None on one machine)."""
    if not settings.getbool("CLUSTER_ENABLED"):
        return None
    return worker_id(settings)


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge worker manifests: local files into --out, or a store's manifests/ into its own."""
    try:
        if args.to:
            settings = build_settings(".", args.set)
            store = store_for(args.to, **store_options(settings, args.endpoint_url))
            with tempfile.TemporaryDirectory() as tmp:
                report = merge_in_store(store, Path(tmp))
        else:
            if not args.out or not args.parts:
                raise ConfigError("merge takes --to URI, or --out FILE and the manifests to merge")
            missing = [p for p in args.parts if not Path(p).is_file()]
            if missing:
                raise ConfigError(f"no such manifest: {', '.join(missing)}")
            report = merge_manifests([Path(p) for p in args.parts], Path(args.out))
    except (PushError, ValueError, sqlite3.Error) as exc:
        print(f"newsarchiver: merge failed: {exc}", file=sys.stderr)
        return EXIT_PUSH
    print(report.line())
    return EXIT_OK


def add_crawl_arguments(crawl: argparse.ArgumentParser) -> None:
    crawl.add_argument(
        "--redis",
        metavar="URL",
        help="crawl with other workers through this Redis (redis://[:pw@]host/0)",
    )
    crawl.add_argument("--worker-id", help="this worker's id, unique in the cluster (default: "
                       "host name and a hash of the archive's path); it goes into WARC "
                       "names")  # fmt: skip
    crawl.add_argument(
        "--cluster",
        metavar="NAME",
        help="prefix of the Redis keys: one per shared archive (CLUSTER_NAME)",
    )


def add_parsers(sub: Any, add_set: Callable[[argparse.ArgumentParser], None]) -> None:
    seed = sub.add_parser("seed", help="queue the outlets' seeds in Redis for the workers")
    seed.add_argument("--config", required=True, help="outlet config file (YAML)")
    seed.add_argument("--redis", required=True, metavar="URL", help="the workers' Redis")
    seed.add_argument("--cluster", metavar="NAME", help="prefix of the Redis keys (CLUSTER_NAME)")
    seed.add_argument("--archive", help="an archive whose manifest says what is archived already")
    seed.add_argument("--outlet", action="append", default=[], metavar="NAME")
    seed.set_defaults(func=cmd_seed, worker_id="seed")
    add_set(seed)

    merge = sub.add_parser("merge", help="merge the manifests of a distributed crawl's workers")
    merge.add_argument("--to", metavar="URI", help="merge the store's manifests/*.sqlite into "
                       "its manifest.sqlite (s3://BUCKET/PREFIX or file:///PATH)")  # fmt: skip
    merge.add_argument("--endpoint-url", help="S3 endpoint; or AWS_ENDPOINT_URL")
    merge.add_argument("--out", metavar="FILE", help="write the merge of local manifests here")
    merge.add_argument("parts", nargs="*", metavar="MANIFEST", help="worker manifests (--out)")
    add_set(merge)
    merge.set_defaults(func=cmd_merge)
