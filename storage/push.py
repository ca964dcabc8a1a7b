"""Push an archive to an object store: verified, idempotent, resumable.

What goes: closed WARC files (never ``.open``), text files and sidecars, ``failures.jsonl``, run
summaries and logs, indexes, and a consistent snapshot of the manifest, each under its path
relative to the archive. A file is uploaded with its SHA-256, checked on the server (size and
checksum) and only then recorded in the manifest's ``pushes`` table; a file recorded with the
same size and mtime is not uploaded again, one that changed is. A push cut short (killed, server
down) leaves unrecorded files, which the next push uploads. ``delete_local`` removes a WARC file
only after its upload was verified.

A multipart upload's id is kept in the manifest's ``meta`` table (:class:`ManifestLedger`) while
it runs; a push lists the target's unfinished uploads first, resumes the one a killed push left
for a file's same bytes, and aborts every other one of its files' keys (uploads of keys it does
not push, such as another worker's, are left alone). Each object's upload and verification run
under the store's deadline.

A worker of a distributed crawl pushes its part (``part`` = its worker id) into the shared
target: its WARCs and texts have names of their own; its index, failure log and manifest go to
``indexes/<part>/``, ``failures/<part>.jsonl`` and ``manifests/<part>.sqlite``, and the push ends
by merging every worker's manifest into the target's ``manifest.sqlite`` (:mod:`storage.merge`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.clock import iso, utc_now
from storage.layout import ArchiveLayout
from storage.manifest import Manifest
from storage.merge import MERGED_KEY as MANIFEST_KEY
from storage.merge import PARTS_DIR, merge_in_store
from storage.multipart import PutResult
from storage.object_store import ObjectStore, PushError, digest_file

logger = logging.getLogger(__name__)
FINGERPRINT_META = "push_manifest_fingerprint:"
UPLOAD_META = "push_upload:"  # + target + " " + key + " " + upload id: the file's sha256


class ManifestLedger:
    """The multipart uploads a push started, in the manifest's meta table (kept through a kill)."""

    def __init__(self, manifest: Manifest, target: str) -> None:
        self.manifest, self.prefix = manifest, f"{UPLOAD_META}{target} "

    def started(self, key: str, upload_id: str, sha256: str) -> None:
        self.manifest.query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                            (f"{self.prefix}{key} {upload_id}", sha256))  # fmt: skip

    def sha256_of(self, key: str, upload_id: str) -> str | None:
        rows = self.manifest.query("SELECT value FROM meta WHERE key = ?",
                                   (f"{self.prefix}{key} {upload_id}",))  # fmt: skip
        return str(rows[0]["value"]) if rows else None

    def ended(self, key: str, upload_id: str) -> None:
        self.manifest.query("DELETE FROM meta WHERE key = ?", (f"{self.prefix}{key} {upload_id}",))

    def forget_others(self, unfinished: dict[str, list[str]]) -> None:
        """Drop entries of uploads the server no longer has (aborted by hand, expired)."""
        live = {f"{self.prefix}{key} {uid}" for key, ids in unfinished.items() for uid in ids}
        for row in self.manifest.query("SELECT key FROM meta WHERE substr(key, 1, ?) = ?",
                                       (len(self.prefix), self.prefix)):  # fmt: skip
            if row["key"] not in live:
                self.manifest.query("DELETE FROM meta WHERE key = ?", (row["key"],))


@dataclass
class PushReport:
    target: str
    uploaded: list[str] = field(default_factory=list)
    skipped: int = 0
    bytes_uploaded: int = 0
    deleted: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # with dry_run: what would go
    merged: str = ""  # a distributed crawl's part: the merge of the manifests
    resumed: int = 0  # multipart uploads of a killed push, resumed
    parts_reused: int = 0
    parts_resumed: int = 0  # parts of the resumed uploads, reused or not
    aborted: int = 0  # stale unfinished uploads aborted

    def add(self, put: PutResult) -> None:
        self.aborted += put.aborted
        if put.resumed:
            self.resumed += 1
            self.parts_reused += put.reused
            self.parts_resumed += put.parts

    def line(self) -> str:
        mb = self.bytes_uploaded / 1e6
        merged = f"; {self.merged}" if self.merged else ""
        uploads = ""
        if self.resumed:
            uploads += (f"; resumed {self.resumed} upload(s) ({self.parts_reused} of "
                        f"{self.parts_resumed} parts reused)")  # fmt: skip
        if self.aborted:
            uploads += f"; aborted {self.aborted} stale upload(s)"
        return (f"pushed {len(self.uploaded)} file(s), {mb:.1f} MB to {self.target}; "
                f"{self.skipped} already there{uploads}{merged}")  # fmt: skip


def push_files(layout: ArchiveLayout, part: str | None = None) -> Iterator[tuple[str, Path]]:
    """(relative path, local path) of everything a push of `layout` takes, the manifest aside
    (`part`: a cluster worker's push, whose indexes and failures go under its name)."""
    root = layout.root
    yield from ((p.relative_to(root).as_posix(), p) for p in layout.closed_warcs())
    for directory, pattern in (("text", "*"), ("runs", "*.json"), ("logs", "*.log"),
                               ("indexes", "**/*")):  # fmt: skip
        for path in sorted((root / directory).glob(pattern)):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(root).as_posix()
                if part and directory == "indexes":  # one index per worker
                    rel = f"indexes/{part}/{rel.removeprefix('indexes/')}"
                yield rel, path
    if layout.failures_path.exists():
        name = f"failures/{part}.jsonl" if part else layout.failures_path.name
        yield name, layout.failures_path


class Pusher:
    def __init__(
        self,
        layout: ArchiveLayout,
        store: ObjectStore,
        *,
        create: bool,  # PUSH_CREATE_BUCKET
        delete_local: bool,  # PUSH_DELETE_LOCAL_AFTER_VERIFY
        workers: int,  # PUSH_WORKERS
        dry_run: bool = False,
        progress: Callable[[str], None] | None = None,
        part: str | None = None,
    ) -> None:
        self.layout = layout
        self.store = store
        self.part = part
        self.manifest_key = f"{PARTS_DIR}/{part}.sqlite" if part else MANIFEST_KEY
        self.dry_run = dry_run
        self.delete_local = delete_local
        self.create = create
        self.workers = max(1, workers)
        self.progress = progress or (lambda message: None)
        self._report_lock = threading.Lock()

    def files(self) -> Iterator[tuple[str, Path]]:
        """(relative path, local path) of everything that goes, the manifest aside."""
        return push_files(self.layout, self.part)

    def run(self) -> PushReport:
        manifest = Manifest(self.layout.manifest_path)
        report = PushReport(self.store.target)
        try:
            unfinished: dict[str, list[str]] = {}
            if not self.dry_run:
                with self.store.deadline():  # a server trickling its answers: as for an object
                    self.store.check(create=self.create)
                    unfinished = self.store.unfinished()
            pushed = manifest.pushed(self.store.target)
            ledger = ManifestLedger(manifest, self.store.target)
            ledger.forget_others(unfinished)
            todo = []
            for rel, path in self.files():
                st = path.stat()
                done = pushed.get(rel)
                if done and done["size"] == st.st_size and done["mtime_ns"] == st.st_mtime_ns:
                    report.skipped += 1
                else:
                    todo.append((rel, path))
            fingerprint = manifest.content_fingerprint()
            snapshot = self._manifest_snapshot(manifest, pushed, fingerprint)
            if snapshot is not None:
                todo.append((self.manifest_key, snapshot))
            else:
                report.skipped += 1
            if self.dry_run:
                report.planned = [rel for rel, _ in todo]
                return report
            self._abort_done(unfinished, {rel for rel, _ in todo}, ledger, report)

            def push(item: tuple[str, Path]) -> tuple[str, int | None]:
                rel, path = item
                return self._push(manifest, rel, path, unfinished.get(self.store.key(rel), []),
                                  ledger, report)  # fmt: skip

            with ThreadPoolExecutor(self.workers, thread_name_prefix="push") as pool:
                futures = [pool.submit(push, item) for item in todo]
                try:
                    for future in futures:
                        rel, size = future.result()
                        if size is not None:
                            report.uploaded.append(rel)
                            report.bytes_uploaded += size
                except BaseException:
                    # the push has failed: the files not started wait for the next one, rather
                    # than each running into the same stalled server and its deadline
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            if snapshot is not None:
                manifest.query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               (FINGERPRINT_META + self.store.target, fingerprint))  # fmt: skip
                snapshot.unlink(missing_ok=True)
            for rel, path in todo:
                if self.delete_local and rel.startswith("warc/") and rel in report.uploaded:
                    path.unlink()
                    report.deleted.append(rel)
            if self.part:
                # every time, not only when this part changed: another worker's may have
                report.merged = merge_in_store(self.store, self.layout.tmp_dir).line()
        finally:
            manifest.close()
        return report

    def _abort_done(self, unfinished: dict[str, list[str]], todo: set[str],
                    ledger: ManifestLedger, report: PushReport) -> None:  # fmt: skip
        """Abort the unfinished uploads of this archive's files that are not pushed again (their
        object is there): uploads of other keys may be another worker's, running now."""
        ours = {self.store.key(rel) for rel, _ in [*self.files(), (self.manifest_key, None)]}
        going = {self.store.key(rel) for rel in todo}
        for key, ids in unfinished.items():
            if key in ours and key not in going:
                for upload_id in ids:
                    self.store.abort(key, upload_id)
                    ledger.ended(key, upload_id)
                    report.aborted += 1
                    logger.info("%s: aborted stale upload %s", key, upload_id)

    def _manifest_snapshot(
        self, manifest: Manifest, pushed: dict[str, dict[str, Any]], fingerprint: str
    ) -> Path | None:
        """A snapshot to push, or None when the manifest's content is what was pushed last."""
        rows = manifest.query("SELECT value FROM meta WHERE key = ?",
                              (FINGERPRINT_META + self.store.target,))  # fmt: skip
        if rows and rows[0]["value"] == fingerprint and self.manifest_key in pushed:
            return None
        self.layout.tmp_dir.mkdir(parents=True, exist_ok=True)
        path = self.layout.tmp_dir / "manifest.snapshot.sqlite"
        path.unlink(missing_ok=True)
        manifest.snapshot(path)
        return path

    def _push(self, manifest: Manifest, rel: str, path: Path, unfinished: list[str],
              ledger: ManifestLedger, report: PushReport) -> tuple[str, int | None]:  # fmt: skip
        """Runs in a push thread: upload, verify, record. (rel, size) once verified."""
        before = path.stat()
        digest = digest_file(path, self.store.part_size, self.store.threshold)
        sha = digest.sha256
        done = manifest.pushed(self.store.target).get(rel)
        key = self.store.key(rel)
        if done and done["sha256"] == sha and done["size"] == before.st_size:
            # touched, not changed: nothing to upload, remember the new mtime
            for upload_id in unfinished:  # the object is there: a left upload is of no use
                self.store.abort(key, upload_id)
                ledger.ended(key, upload_id)
            manifest.mark_pushed(self.store.target, rel, before.st_size, before.st_mtime_ns, sha,
                                 done["verified"], done["pushed_at"])  # fmt: skip
            return rel, None
        if digest.size != before.st_size:
            logger.warning("%s changed while it was read; it goes next push", rel)
            return rel, None
        with self.store.deadline():
            put = self.store.put(path, key, digest, unfinished=unfinished, ledger=ledger)
            how = self.store.verify(key, digest)
        with self._report_lock:
            report.add(put)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            logger.warning("%s changed during its upload; it goes again next push", rel)
            return rel, None
        mtime = 0 if rel == self.manifest_key else before.st_mtime_ns
        manifest.mark_pushed(self.store.target, rel, before.st_size, mtime, sha, how,
                             iso(utc_now()))  # fmt: skip
        self.progress(f"pushed {rel} ({before.st_size} bytes, verified by {how})")
        return rel, before.st_size


__all__ = ["PushError", "PushReport", "Pusher"]
