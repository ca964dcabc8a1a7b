"""Push throughput: newsarchiver's verified push against a plain boto3 upload_file loop.

Both push the same WARC-sized files to the same local SeaweedFS server (testkit/s3_server.py, on
loopback) in one run, each into its own bucket; the push with its whole work (hashing, SHA-256
checksums on upload, a HEAD check of every object, the manifest records), the loop with boto3's
defaults and nothing else. Prints MB/s and the ratio, writes JSON to bench/results/.

    python -m bench.push_bench [--size-mb 1024] [--file-mb 128] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.push import Pusher
from storage.s3 import S3Store, TransferSettings
from testkit.s3_server import S3Server

RESULTS = Path(__file__).resolve().parent / "results"


def make_archive(root: Path, size_mb: int, file_mb: int) -> list[Path]:
    layout = ArchiveLayout(root).ensure()
    Manifest(layout.manifest_path).close()
    files = []
    for i in range(max(1, size_mb // file_mb)):
        path = layout.warc_dir / f"bench-20260101000000-{i:05d}-host.warc.gz"
        with path.open("wb") as fh:  # incompressible, like gzipped WARC records
            for _ in range(file_mb):
                fh.write(os.urandom(1024 * 1024))
        files.append(path)
    return files


def plain_loop(server: S3Server, bucket: str, files: list[Path]) -> float:
    client = server.client()
    start = time.perf_counter()
    for path in files:
        client.upload_file(str(path), bucket, f"warc/{path.name}")
    return time.perf_counter() - start


def newsarchiver_push(server: S3Server, bucket: str, root: Path, args: argparse.Namespace) -> float:
    part = args.part_mb * 1024 * 1024
    store = S3Store(
        bucket, endpoint_url=server.endpoint_url, access_key=server.access_key,
        secret_key=server.secret_key, region="us-east-1",
        transfer=TransferSettings(part, part, args.concurrency),
    )  # fmt: skip
    start = time.perf_counter()
    report = Pusher(ArchiveLayout(root), store, create=False, delete_local=False,
                    workers=args.workers).run()  # fmt: skip
    elapsed = time.perf_counter() - start
    assert report.uploaded, "nothing was pushed"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="total size of the WARC files")
    parser.add_argument("--file-mb", type=int, default=128, help="size of each file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part-mb", type=int, default=64, help="PUSH_MULTIPART_CHUNKSIZE")
    parser.add_argument("--concurrency", type=int, default=8, help="PUSH_MAX_CONCURRENCY")
    parser.add_argument("--workers", type=int, default=2, help="PUSH_WORKERS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-bench-") as tmp:
        root = Path(tmp)
        files = make_archive(root / "archive", args.size_mb, args.file_mb)
        total = sum(p.stat().st_size for p in files) / 1e6
        server = S3Server(root / "s3").start()
        try:
            plain, ours = [], []
            for run in range(args.runs):
                for name in (f"plain{run}", f"push{run}"):
                    server.make_bucket(name)
                # alternate which goes first: the server warms up within a run
                order = ["plain", "push"] if run % 2 == 0 else ["push", "plain"]
                for which in order:
                    if which == "plain":
                        plain.append(total / plain_loop(server, f"plain{run}", files))
                        continue
                    # a fresh ledger each run, so that every run uploads everything
                    Path(root / "archive" / "manifest.sqlite").unlink()
                    Manifest(root / "archive" / "manifest.sqlite").close()
                    seconds = newsarchiver_push(server, f"push{run}", root / "archive", args)
                    ours.append(total / seconds)
                print(f"run {run + 1}: plain boto3 {plain[-1]:.1f} MB/s, "
                      f"newsarchiver push {ours[-1]:.1f} MB/s")  # fmt: skip
        finally:
            server.stop()
    result = {
        "benchmark": "push",
        "at": iso(utc_now()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "megabytes": round(total, 1),
        "files": len(files),
        "runs": args.runs,
        "push_settings": {
            "part_mb": args.part_mb,
            "concurrency": args.concurrency,
            "workers": args.workers,
        },
        "plain_boto3_mb_s": [round(x, 1) for x in plain],
        "push_mb_s": [round(x, 1) for x in ours],
        "median_plain_mb_s": round(statistics.median(plain), 1),
        "median_push_mb_s": round(statistics.median(ours), 1),
        "ratio": round(statistics.median(ours) / statistics.median(plain), 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"push-{result['at'].replace(':', '')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{total:.0f} MB in {len(files)} files, median of {args.runs}: plain boto3 "
          f"{result['median_plain_mb_s']} MB/s, newsarchiver push {result['median_push_mb_s']}"
          f" MB/s (verified), ratio {result['ratio']} (target >= 0.9); {out}")  # fmt: skip


if __name__ == "__main__":
    main()
