"""The kill -9 soak: crawls of a local outlet SIGKILLed at random moments, then audited.

Each round starts ``newsarchiver crawl`` on one archive and kills it (SIGKILL, the main process or
its whole process group, by turns) once a random number of new texts has landed, plus a random
fraction of a second so kills fall between and inside writes too; the next round's crawl starts
on what the kill left. A last crawl runs to its end. Then the archive is audited as an archivist
would check it:

- every article of the outlet has a text (the archive is complete);
- every text's sidecar names a WARC record that is there, with that record id (no text without
  its evidence);
- every response and revisit record in the WARC files has its ``captures`` row;
- ``warcio check`` passes on every WARC file, and no ``.open`` file is left;
- no run is left ``running`` (killed ones are marked ``killed``), no NNN is used twice;
- no kill left a process behind (the extraction workers and the forkserver die with the crawl).

    python -m bench.soak [--kills 20] [--pages 300] [--seed 1]      # make soak

Exit status 1 when any of those counts is not zero. ``tests/test_soak.py`` runs a short loop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bench.site_server import SiteServer
from bench.synthetic_site import Site

CRAWL_SETTINGS = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "LOG_LEVEL=INFO",
                  "CONCURRENT_REQUESTS_PER_DOMAIN=8"]  # fmt: skip
KILL_DEADLINE = 180.0  # seconds a round may take to reach its kill point
EXIT_DEADLINE = 15.0  # seconds a killed crawl's processes get to be gone


@dataclass
class Audit:
    articles: int = 0  # articles of the outlet
    archived: int = 0  # of them, with a text
    texts: int = 0
    texts_without_record: int = 0
    records_without_row: int = 0
    warcio_check_failures: int = 0
    open_left: int = 0
    runs_running: int = 0
    runs_killed: int = 0
    numbers_reused: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.archived == self.articles and not (
            self.texts_without_record or self.records_without_row or self.warcio_check_failures
            or self.open_left or self.runs_running or self.numbers_reused
        )  # fmt: skip


@dataclass
class Kill:
    mode: str  # "process" or "group"
    texts_before: int
    texts_at_kill: int
    left_behind: int  # processes of the crawl still alive EXIT_DEADLINE after the kill
    finished_first: bool = False  # the crawl ended before its kill point


def crawl_cmd(config: Path, archive: Path) -> list[str]:
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", "--config", str(config),
           "--archive", str(archive)]  # fmt: skip
    for item in CRAWL_SETTINGS:
        cmd += ["-s", item]
    return cmd


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is gone; only its parent's wait() is missing


def _count_texts(text_dir: Path) -> int:
    try:
        return sum(1 for name in os.listdir(text_dir) if name.endswith(".txt"))
    except FileNotFoundError:
        return 0


def kill_round(cmd: list[str], archive: Path, rng: random.Random, mode: str, log: Path,
               max_new: int) -> Kill:  # fmt: skip
    """Start a crawl, SIGKILL it after a random number of new texts (1..max_new) and a random
    fraction of a second; wait until every process of it is gone (or EXIT_DEADLINE)."""
    text_dir = archive / "text"
    before = _count_texts(text_dir)
    target = before + rng.randint(1, max(1, max_new))
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + KILL_DEADLINE
    while _count_texts(text_dir) < target and proc.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)  # polling for progress: the kill point is a count, not a time
    if proc.poll() is not None:
        return Kill(mode, before, _count_texts(text_dir), 0, finished_first=True)
    time.sleep(rng.random() * 0.25)  # between, or inside, the writes that follow
    family = descendants(proc.pid)
    if mode == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)
    at_kill = _count_texts(text_dir)
    proc.wait()
    gone_by = time.monotonic() + EXIT_DEADLINE
    while any(_alive(p) for p in family) and time.monotonic() < gone_by:
        time.sleep(0.05)
    left = [p for p in family if _alive(p)]
    for pid in left:  # leave the machine as we found it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return Kill(mode, before, at_kill, len(left))


def audit(archive: Path, article_urls: set[str]) -> Audit:
    a = Audit(articles=len(article_urls))
    warc_dir = archive / "warc"
    db = sqlite3.connect(f"file:{archive / 'manifest.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        archived = {r["url"] for r in db.execute("SELECT url FROM articles")}
        a.archived = len(article_urls & archived)
        rows = {(r["warc_file"], r["warc_offset"])
                for r in db.execute("SELECT warc_file, warc_offset FROM captures")}  # fmt: skip
        a.runs_running = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'"
                                    ).fetchone()[0]  # fmt: skip
        a.runs_killed = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'killed'"
                                   ).fetchone()[0]  # fmt: skip
    finally:
        db.close()
    numbers = []
    for sidecar_path in sorted((archive / "text").glob("*.json")):
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        a.texts += 1
        numbers.append(int(sidecar_path.name.split("_")[0]))
        if not _has_record(warc_dir, sidecar):
            a.texts_without_record += 1
            a.problems.append(f"no WARC record for {sidecar_path.name} ({sidecar['url']})")
    a.numbers_reused = len(numbers) - len(set(numbers))
    a.open_left = len(list(warc_dir.glob("*.open")))
    warcs = sorted(warc_dir.glob("*.warc.gz"))
    for path in warcs:
        with path.open("rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                at = (path.name, it.get_record_offset())
                if record.rec_type in ("response", "revisit") and at not in rows:
                    a.records_without_row += 1
                    a.problems.append(f"no captures row for {at[0]}@{at[1]}")
    warcio = Path(sys.executable).with_name("warcio")
    for path in warcs:
        check = subprocess.run([str(warcio), "check", str(path)], capture_output=True, text=True,
                               check=False)  # fmt: skip
        if check.returncode != 0:
            a.warcio_check_failures += 1
            a.problems.append(f"warcio check {path.name}: {check.stdout[-300:]}")
    return a


def _has_record(warc_dir: Path, sidecar: dict[str, object]) -> bool:
    path = warc_dir / str(sidecar.get("warc_file") or "")
    offset = sidecar.get("warc_record_offset")
    if not sidecar.get("warc_file") or not isinstance(offset, int) or not path.is_file():
        return False
    with path.open("rb") as fh:
        fh.seek(offset)
        try:
            record = next(iter(ArchiveIterator(fh)))
        except Exception:
            return False
        return bool(record.rec_headers.get_header("WARC-Record-ID") == sidecar["warc_record_id"])


def soak(kills: int, pages: int, seed: int, work: Path, out: object = sys.stdout) -> tuple[
        Audit, list[Kill]]:  # fmt: skip
    rng = random.Random(seed)
    site = Site(pages, seed)
    archive = work / "archive"
    log = work / "crawls.log"
    with SiteServer(site) as server:
        config = work / "outlets.yaml"
        config.write_text("outlets:\n  - name: synthetic\n"
                          f'    start_urls: ["{server.start_url}"]\n    depth: 2\n')  # fmt: skip
        cmd = crawl_cmd(config, archive)
        done: list[Kill] = []
        for k in range(kills):
            mode = "group" if k % 2 else "process"
            kill = kill_round(cmd, archive, rng, mode, log, max_new=max(2, pages // kills))
            done.append(kill)
            print(f"kill {k + 1:>2}/{kills} ({kill.mode:<7}) texts {kill.texts_before:>4} -> "
                  f"{kill.texts_at_kill:>4}"
                  + ("  (finished before the kill)" if kill.finished_first else "")
                  + (f"  {kill.left_behind} process(es) left behind" if kill.left_behind
                     else ""), file=out, flush=True)  # type: ignore[arg-type]  # fmt: skip
        with log.open("a") as fh:
            final = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
        if final.returncode != 0:
            raise RuntimeError(f"the last crawl exited {final.returncode}; see {log}")
        urls = {server.base + site.article_path(i) for i in range(pages)}
        return audit(archive, urls), done


def report(result: Audit, kills: list[Kill], out: object = sys.stdout) -> None:
    behind = sum(1 for k in kills if k.left_behind)
    lines = [
        ("kills", len(kills)),
        ("  of them finished before the kill point", sum(k.finished_first for k in kills)),
        ("archive complete (articles with a text)", f"{result.archived}/{result.articles}"),
        ("texts", result.texts),
        ("texts without a WARC record", result.texts_without_record),
        ("records without a captures row", result.records_without_row),
        ("warcio check failures", result.warcio_check_failures),
        (".open files left", result.open_left),
        ("runs left 'running' (killed ones marked 'killed')",
         f"{result.runs_running} ({result.runs_killed} killed)"),
        ("text numbers used twice", result.numbers_reused),
        ("kills leaving processes behind", behind),
    ]  # fmt: skip
    for name, value in lines:
        print(f"{name:<52} {value}", file=out)  # type: ignore[arg-type]
    for problem in result.problems[:20]:
        print(f"  {problem}", file=out)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the archive and the logs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsarchiver-soak-"))
    started = time.monotonic()
    result, kills = soak(args.kills, args.pages, args.seed, work)
    print(f"\n{args.kills} kills of a {args.pages}-article outlet, seed {args.seed}, "
          f"{time.monotonic() - started:.0f} s; work in {work}")  # fmt: skip
    report(result, kills)
    print(
        json.dumps(
            {
                "audit": {k: v for k, v in asdict(result).items() if k != "problems"},
                "kills_leaving_processes": sum(1 for k in kills if k.left_behind),
            }
        )
    )
    if not args.keep and result.ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if result.ok and not any(k.left_behind for k in kills) else 1


if __name__ == "__main__":
    sys.exit(main())
