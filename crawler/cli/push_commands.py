"""``newsarchiver push`` and ``newsarchiver status``: sending the archive to its object store and
where the archive stands (runs, retries, what is not yet pushed).

::

    newsarchiver push   --archive DIR [--to s3://BUCKET/PREFIX] [--endpoint-url URL]
                        [--create-bucket] [--dry-run] [--delete-local-after-verify]
                        [--worker-id ID] [-s N=V ...]
    newsarchiver status --archive DIR [--runs N] [-s PUSH_TO=URI]

The push runs under the archive's lock through :func:`crawler.runner.run_push`. Settings read:
``PUSH_TO`` (and the PUSH_* ones :func:`crawler.runner.run_push` reads).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from crawler.cli.common import add_set, checked_target, open_manifest
from crawler.cluster.identity import check_worker_id
from crawler.outlets import ConfigError
from crawler.runner import EXIT_OK, build_settings, run_push
from crawler.settings_check import check_archive_dir
from storage import lock
from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.push import push_files


def cmd_push(args: argparse.Namespace) -> int:
    layout = ArchiveLayout(args.archive)
    check_archive_dir(args.archive)  # the push records what it pushed in the manifest
    open_manifest(args.archive).close()  # an archive, or exit 2
    settings = build_settings(args.archive, args.set)
    target = checked_target(args.to or settings.get("PUSH_TO"), "--to")
    if not target:
        raise ConfigError("no target: pass --to s3://BUCKET/PREFIX (or set PUSH_TO)")
    if args.worker_id:  # it names the worker's objects in the store (manifests/ID.sqlite)
        try:
            check_worker_id(args.worker_id, "--worker-id")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    with lock.held(layout.lock_path):
        return run_push(
            layout, target, settings, endpoint_url=args.endpoint_url, dry_run=args.dry_run,
            create=args.create_bucket or None,
            delete_local=args.delete_local_after_verify or None,
            part=args.worker_id,
        )  # fmt: skip


def cmd_status(args: argparse.Namespace) -> int:
    """The last runs with their counts, pending retries, and what is not yet pushed to each target
    it is meant to go to (:func:`push_targets`; none configured: no backlog line)."""
    layout = ArchiveLayout(args.archive)
    manifest = open_manifest(args.archive)
    try:
        runs = manifest.query(
            "SELECT run_id, started_at, finished_at, status, summary FROM runs"
            " ORDER BY started_at DESC LIMIT ?", (args.runs,),
        )  # fmt: skip
        failures = manifest.failures()
        targets = push_targets(manifest, build_settings(args.archive, args.set).get("PUSH_TO"))
        pushed = {t: manifest.pushed(t) for t in targets}
    finally:
        manifest.close()
    print(f"archive {layout.root}")
    holder = lock.holder(layout.lock_path)
    print(f"crawling now: pid {holder['pid']}, started {holder.get('started', '?')}" if holder
          else "crawling now: no")  # fmt: skip
    print(f"\nlast {len(runs)} run(s):")
    print(f"  {'run':<24} {'started':<20} {'status':<10} fetched  archived  dup  failed")
    for run in runs:
        t = json.loads(run["summary"])["totals"] if run["summary"] else {}
        print(f"  {run['run_id']:<24} {run['started_at']:<20} {run['status']:<10} "
              f"{t.get('fetched', '-'):>7}  {t.get('archived', '-'):>8}  "
              f"{t.get('duplicates', '-'):>3}  {t.get('failed', '-'):>6}")  # fmt: skip
    now = iso(utc_now())
    pending = [f for f in failures if f["state"] == "pending"]
    due = [f for f in pending if f["next_retry_at"] and f["next_retry_at"] <= now]
    print(f"\nfailures: {len(pending)} pending ({len(due)} due now), "
          f"{len(failures) - len(pending)} gave up")  # fmt: skip
    if pending:
        print(f"  next retry at {min(f['next_retry_at'] for f in pending if f['next_retry_at'])}")
    print()
    pusher_files = list(push_files(layout))  # what a push would take
    if not targets:  # nothing to fall behind: a backlog is no news for an archive never pushed
        print("push: none configured (PUSH_TO, the outlet config's push:, or newsarchiver push)")
    for target in targets:
        done = pushed[target]
        waiting = [
            rel for rel, path in pusher_files
            if rel not in done or done[rel]["mtime_ns"] != path.stat().st_mtime_ns
        ]  # fmt: skip
        warcs = sum(1 for rel in waiting if rel.startswith("warc/"))
        last = max((d["pushed_at"] for d in done.values()), default="never")
        print(f"not yet pushed to {target}: {len(waiting)} file(s), {warcs} of them WARC "
              f"(last push {last})")  # fmt: skip
    return EXIT_OK


def push_targets(manifest: Manifest, push_to: str | None) -> list[str]:
    """The targets an archive is meant to be pushed to: the PUSH_TO setting, its last run's
    outlet config's ``push``, and every target a push went to before (the pushes table)."""
    config = manifest.last_run_config() or {}
    named = [t.rstrip("/") for t in (push_to, config.get("push")) if isinstance(t, str) and t]
    done = [r["target"] for r in manifest.query("SELECT DISTINCT target FROM pushes")]
    return list(dict.fromkeys([*done, *named]))


def add_push_parser(sub: Any) -> None:
    push = sub.add_parser("push", help="push the archive to S3-compatible storage")
    push.add_argument("--archive", required=True, help="archive directory")
    push.add_argument("--to", metavar="URI", help="s3://BUCKET/PREFIX or file:///PATH")
    push.add_argument(
        "--endpoint-url", help="S3 endpoint (MinIO, SeaweedFS, R2…); or AWS_ENDPOINT_URL"
    )
    push.add_argument("--create-bucket", action="store_true", help="create the bucket if missing")
    push.add_argument("--dry-run", action="store_true", help="list what would go, upload nothing")
    push.add_argument("--delete-local-after-verify", action="store_true",
                      help="remove local WARC files once their upload is verified")  # fmt: skip
    push.add_argument("--worker-id", help="a distributed crawl's worker: push its part and merge "
                      "the manifests")  # fmt: skip
    add_set(push)
    push.set_defaults(func=cmd_push)


def add_status_parser(sub: Any) -> None:
    status = sub.add_parser("status", help="the archive's last runs, pending retries, backlog")
    status.add_argument("--archive", required=True, help="archive directory")
    status.add_argument("--runs", type=int, default=5, help="how many runs to show")
    add_set(status)  # PUSH_TO: the target it is meant to go to
    status.set_defaults(func=cmd_status)
