"""A crawl killed with SIGKILL midway leaves no partial text, and the next crawl completes."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from testkit.mockserver import MockServer
from tests.conftest import FAST, cli


def check_text_dir(text_dir: Path) -> list[str]:
    """Every .txt under its final name is whole (its name verifies) and has its sidecar."""
    hashes = []
    for path in text_dir.iterdir():
        assert path.suffix in (".txt", ".json"), f"stray file {path.name}"
        if path.suffix == ".txt":
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert path.stem.split("_")[1] == digest[:16], f"partial text {path.name}"
            sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            assert sidecar["sha256"] == digest
            hashes.append(digest)
    return hashes


def test_sigkill_midway_leaves_no_partial_text_and_a_rerun_completes(
    mockserver: MockServer, tmp_path: Path
) -> None:
    # each response takes 0.3 s, so the crawl is still running when its first text lands
    site = mockserver.site("in-flight", delay=0.3)
    config = site.write_config(tmp_path / "outlets.yaml")
    archive = tmp_path / "archive"
    args = ["crawl", "--config", str(config), "--archive", str(archive), *FAST]
    with (tmp_path / "killed.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", *args],
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 120
        text_dir = archive / "text"
        while not (text_dir.is_dir() and any(text_dir.glob("*.txt"))):
            assert proc.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "no text written within 120 s"
            time.sleep(0.01)  # polling for the first text, not waiting for luck
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    archivable = [a for a in site.articles if a.archivable]
    first = check_text_dir(text_dir)
    assert 0 < len(first) < len(archivable)  # killed midway, not at the end
    assert [w.name[-5:] for w in (archive / "warc").iterdir()] == [".open"]

    result = cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr

    hashes = check_text_dir(text_dir)
    assert len(hashes) == len(set(hashes))  # no text twice
    assert set(first) <= set(hashes)  # nothing the killed run finished was lost
    titles = {json.loads(p.read_text())["title"] for p in text_dir.glob("*.json")}
    assert {a.title for a in archivable} <= titles
    assert not list((archive / "tmp").iterdir())
    # the WARC the killed crawl left open was repaired (truncated tail dropped) and closed
    warcs = sorted((archive / "warc").iterdir())
    assert len(warcs) == 2 and not [w for w in warcs if w.name.endswith(".open")]
    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run([str(warcio), "check", *map(str, warcs)], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    numbers = sorted(int(p.name.split("_")[0]) for p in text_dir.glob("*.txt"))
    assert len(numbers) == len(set(numbers))
