"""ReplayWeb.page (npm `replaywebpage` 2.5.3) serving WACZ files to the session's Chromium.

The WACZ and ReplayWeb.page's own files are served on loopback with Range requests
(testkit/range_server.py); each replay() / collection() opens a new browser context of
testkit/chromium.py's Chromium. tests/conftest.py imports the session fixture::

    from testkit.replaywebpage import ReplayWebPage

    def test_article(replaywebpage: ReplayWebPage) -> None:
        with replaywebpage.replay(wacz, "http://news.example.test/article") as shown:
            expect(shown.frame.locator("h1")).to_have_text("Heron returns to the estuary")
        with replaywebpage.collection(wacz) as coll:
            assert coll.titles() == ["Tide tables revised", "Heron returns to the estuary"]
            assert coll.search("lighthouse") == ["Heron returns to the estuary"]
            shown = coll.open("Heron returns to the estuary", url)  # a click on the entry

Facts about ReplayWeb.page 2.5.3 this module depends on (checked by
tests/test_browser_replay.py):
- `npm install replaywebpage` fails on a dependency, but the package is prebuilt: `npm pack
  replaywebpage@2.5.3` fetches its tarball (pinned here by its sha512) and ui.js (the UI) and
  sw.js (the service worker, which reads the WACZ and serves the archived responses) are all
  it needs. ensure_replaywebpage() unpacks it once into `<repo>/.replaywebpage/` (git-ignored).
- Embedding: a page that loads ui.js and holds `<replay-web-page source=WACZ url=URL
  replaybase=/replay/>`. The element registers `replaybase + "sw.js?serveIndex=1"` with scope
  replaybase, then shows an iframe at `replaybase?source=...#url=...`, which the service worker
  answers with the app's page and ui.js renders; the archived page is a further iframe,
  `wr-coll-replay iframe`, at `/replay/w/<coll>/:<wacz hash>/<14-digit ts>mp_/<url>`. ui.js and
  sw.js are both served under /replay/, the embedding guide's layout for a custom replayBase.
  127.0.0.1 is a secure context, so the service worker runs on plain http, headless too.
- The element shows that iframe as soon as the worker is registered, before it is active; a
  frame loaded before the worker controls it is reloaded 3 times, 100 ms apart, then left
  blank. With both cores busy that happened in 2 of 6 opens here, so EMBED_HTML activates the
  worker first (see there); 6 of 6 then replayed under the same load.
- The WACZ is read with HTTP Range requests (the zip's end, then each record: `bytes=-65558`,
  `bytes=A-B`, a HEAD with `bytes=0-` first), so it is served by testkit/range_server.py.
- `embed="full"` without a url shows the collection: `wr-page-view` (the pages list, fed by
  the WACZ's pages/pages.jsonl) with one `wr-page-entry` per page, its title in `.page-title`,
  a search box (`input`, placeholder "Search by Page URL, Title, or Text"; searched after a
  250 ms debounce, over url + title + the page's `text` field) and, for each hit, a snippet
  of that text (`div.text`). The element's Lit properties tell when a search is done (`query`
  equals the one typed, `loading` and `updatingSearch` false): read by the helpers, they are
  not public API. Playwright's CSS locators pierce the open shadow roots it all lives in; a
  host's inner_text() does not (text inside shadow roots is read with text_content()). The
  search does not need the pages.jsonl header's `hasText` (seen here: `wacz create -p` without
  `-c` drops it, and the text was still searched).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest

from testkit.chromium import REPO, TIMEOUT_MS, ArchivedPage, BrowserLog, Chromium, archived_frame
from testkit.mockserver import MockServer
from testkit.range_server import RangeServer

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator, Page

RWP_SPEC = "replaywebpage@2.5.3"
# npm's integrity of that tarball (sha512, base64): another file under the same name is refused
RWP_INTEGRITY = (
    "sha512-nCj2PSON3BxeSJKE8AsYPyULv0XPZKJWfy4l9PyQre9SqwLZ+"
    "WKZVs/sfLqPOQ4GrH+0YkjbwOhr8cSTH08gsQ=="
)
RWP_DIR_NAME = ".replaywebpage"
RWP_FILES = ("ui.js", "sw.js")
RWP_STAMP = "stamp.json"
RWP_LOCK = ".lock"
NPM_TIMEOUT = 300.0

# The page ReplayWeb.page is embedded in: its query string becomes the element's attributes.
# The element shows its iframe once the service worker is *registered*, not yet active; an
# iframe loaded before the worker controls it gets our server's 404, and the element reloads it
# only 3 times, 100 ms apart, then leaves it blank (seen here with the other core busy). So the
# page registers the same worker (same script URL and scope, so the element's own registration
# is a no-op) and adds the element once that worker is activated.
EMBED_PATH = "/embed.html"
REPLAY_BASE = "/replay/"
EMBED_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>replay harness</title>
<script src="/replay/ui.js"></script>
<link rel="icon" href="data:,">
<style>html, body { margin: 0; width: 100%; height: 100%; }</style>
</head><body><script>
async function activated(registration) {
  const worker = registration.installing || registration.waiting || registration.active;
  while (worker.state !== "activated") {
    await new Promise((resolve) => worker.addEventListener("statechange", resolve, {once: true}));
  }
}
(async () => {
  const registration = await navigator.serviceWorker.register(
    "/replay/sw.js?serveIndex=1", {scope: "/replay/"});
  await activated(registration);
  const el = document.createElement("replay-web-page");
  for (const [name, value] of new URLSearchParams(location.search)) el.setAttribute(name, value);
  el.setAttribute("replaybase", "/replay/");
  document.body.appendChild(el);
})();
</script></body></html>
"""

# wr-page-view (ReplayWeb.page's pages list) has the pages and its text index, and no search
# or filtering under way; then its own render and its entries' are awaited
_LIST_SETTLED = """([el, query]) => el.collInfo && el.textPages !== null
    && el.query === query && !el.loading && !el.updatingSearch"""
_LIST_RENDERED = """async (el) => {
    await el.updateComplete;
    const entries = [...el.shadowRoot.querySelectorAll("wr-page-entry")];
    await Promise.all(entries.map((e) => e.updateComplete));
}"""


# ---------------------------------------------------------------------------------------------
# ReplayWeb.page's files, from the npm registry, once


def npm_integrity(path: Path) -> str:
    """A file's integrity string as npm writes it: "sha512-" and the base64 SHA-512."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _rwp_installed(root: Path) -> bool:
    try:
        stamp = json.loads((root / RWP_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    package = root / "package"
    return stamp == {"spec": RWP_SPEC, "integrity": RWP_INTEGRITY} and all(
        (package / name).is_file() for name in RWP_FILES
    )


def ensure_replaywebpage(repo: Path = REPO) -> Path:
    """The unpacked `replaywebpage` npm package (its ui.js and sw.js), in
    `<repo>/.replaywebpage/package`, fetched with `npm pack` on first use.

    `npm install` cannot be used (a dependency of the package fails to install) and is not
    needed: the published tarball carries the built files. Its sha512 must be RWP_INTEGRITY.
    A stamp written after a complete unpack makes later calls reuse it; an flock serializes
    concurrent pytest processes, as testkit/replay_tools.py does for its venv.
    """
    root = Path(repo).resolve() / RWP_DIR_NAME
    if _rwp_installed(root):
        return root / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is not on PATH: it fetches {RWP_SPEC} for the browser replay tests "
            "(Debian: apt-get install npm)"
        )
    root.mkdir(exist_ok=True)
    with open(root / RWP_LOCK, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _rwp_installed(root):  # another process did it while this one waited
                return root / "package"
            for child in root.iterdir():
                if child.name != RWP_LOCK:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            download = root / "download"
            download.mkdir()
            # --ignore-scripts: nothing of the package runs here, it is only unpacked
            command = [npm, "pack", RWP_SPEC, "--pack-destination", str(download), "--json",
                       "--ignore-scripts"]  # fmt: skip
            try:
                result = subprocess.run(
                    command, cwd=root, capture_output=True, text=True, timeout=NPM_TIMEOUT,
                    stdin=subprocess.DEVNULL, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(f"{' '.join(command)} took over {NPM_TIMEOUT:.0f} s") from exc
            if result.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(command)} failed ({result.returncode}):\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
                )
            (tarball,) = download.glob("*.tgz")
            if npm_integrity(tarball) != RWP_INTEGRITY:
                raise RuntimeError(
                    f"{tarball} is not the {RWP_SPEC} this project checked: sha512 "
                    f"{npm_integrity(tarball)}, expected {RWP_INTEGRITY}"
                )
            unpacked = root / "unpacking"
            with tarfile.open(tarball, "r:gz") as tar:
                # the "data" filter: no absolute paths, links out of the tree or device files
                tar.extractall(unpacked, filter="data")
            os.replace(unpacked / "package", root / "package")
            shutil.rmtree(unpacked)
            (root / RWP_STAMP).write_text(
                json.dumps({"spec": RWP_SPEC, "integrity": RWP_INTEGRITY}), encoding="utf-8"
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not _rwp_installed(root):
        raise RuntimeError(f"{RWP_SPEC} unpacked into {root} lacks one of {RWP_FILES}")
    return root / "package"


# ---------------------------------------------------------------------------------------------
# what a test looks at


@dataclass
class Collection:
    """ReplayWeb.page's view of a whole WACZ: its pages list and the search over it."""

    page: Page
    app: FrameLocator  # the ReplayWeb.page app inside the <replay-web-page> element
    origin: str
    log: BrowserLog

    @property
    def page_list(self) -> Locator:
        """The pages list (`wr-page-view`)."""
        return self.app.locator("wr-page-view")

    @property
    def entries(self) -> Locator:
        """The list's rows, one per page shown (`wr-page-entry`)."""
        return self.page_list.locator("wr-page-entry")

    @property
    def search_box(self) -> Locator:
        return self.page_list.locator("input[placeholder*='Search']")

    def _settle(self, query: str) -> None:
        handle = self.page_list.element_handle(timeout=TIMEOUT_MS)
        frame = handle.owner_frame()
        if frame is None:
            raise RuntimeError("the pages list is in no frame")
        frame.wait_for_function(_LIST_SETTLED, arg=[handle, query], timeout=TIMEOUT_MS)
        handle.evaluate(_LIST_RENDERED)

    def titles(self) -> list[str]:
        """The titles the list shows, top to bottom, once the list has loaded."""
        self._settle(self.search_box.input_value(timeout=TIMEOUT_MS))
        return [t.strip() for t in self.entries.locator(".page-title").all_text_contents()]

    def snippets(self) -> list[str]:
        """The text snippet under each shown entry (a search hit's context; "" when none)."""
        self._settle(self.search_box.input_value(timeout=TIMEOUT_MS))
        return [
            " ".join(s.strip() for s in entry.locator("div.text").all_text_contents())
            for entry in self.entries.all()
        ]

    def search(self, query: str) -> list[str]:
        """Type `query` in the search box as a reader would; the titles of the hits shown."""
        self._settle(self.search_box.input_value(timeout=TIMEOUT_MS))  # the text index is in
        self.search_box.fill(query)
        return self.titles()

    def open(self, title: str, url: str) -> ArchivedPage:
        """Click the list entry titled `title`; the archived page `url` it replays."""
        self.entries.locator(".page-title", has_text=title).first.click()
        frame = archived_frame(self.app.locator("wr-coll-replay iframe"), url)
        return ArchivedPage(self.page, frame, self.origin, self.log)


class ReplayWebPage:
    """ReplayWeb.page's files and the WACZ files given to it, served on loopback (with Range),
    opened in Chromium."""

    def __init__(self, chromium: Chromium, package: Path, server: RangeServer) -> None:
        self.chromium = chromium
        self.package = package
        self.server = server
        for name in RWP_FILES:
            server.add(REPLAY_BASE + name, package / name)
        server.add_bytes(EMBED_PATH, EMBED_HTML, "text/html; charset=utf-8")
        self._sources: dict[Path, str] = {}
        self._serial = itertools.count(1)

    def source(self, wacz: Path) -> str:
        """The URL path the WACZ file is served at (registered on first use). Each file gets a
        path of its own, so two WACZ files of one name never share ReplayWeb.page's cache."""
        wacz = Path(wacz).resolve()
        if wacz not in self._sources:
            path = f"/archives/{next(self._serial)}/{wacz.name}"
            self.server.add(path, wacz)
            self._sources[wacz] = path
        return self._sources[wacz]

    def embed_url(self, wacz: Path, **attributes: str) -> str:
        """The harness page embedding `<replay-web-page source=WACZ ...attributes>`."""
        query = urlencode({"source": self.source(wacz), **attributes})
        return f"{self.server.base}{EMBED_PATH}?{query}"

    @contextlib.contextmanager
    def replay(self, wacz: Path, url: str, ts: str = "") -> Iterator[ArchivedPage]:
        """The archived page `url` of `wacz` (the capture nearest `ts`, a 14-digit timestamp;
        "" = the latest) in the default embed: ReplayWeb.page's location bar over the page."""
        attributes = {"url": url, **({"ts": ts} if ts else {})}
        with self.chromium.context(f"rwp {wacz.name} {url}") as (page, log):
            page.goto(self.embed_url(wacz, **attributes))
            app = page.frame_locator("replay-web-page iframe")
            frame = archived_frame(app.locator("wr-coll-replay iframe"), url)
            yield ArchivedPage(page, frame, self.server.base, log)

    @contextlib.contextmanager
    def collection(self, wacz: Path) -> Iterator[Collection]:
        """The WACZ's pages list and search (`embed="full"`, no url)."""
        with self.chromium.context(f"rwp {wacz.name} pages") as (page, log):
            page.goto(self.embed_url(wacz, embed="full"))
            coll = Collection(page, page.frame_locator("replay-web-page iframe"),
                              self.server.base, log)  # fmt: skip
            coll.page_list.wait_for(state="attached", timeout=TIMEOUT_MS)
            yield coll


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def replaywebpage(chromium: Chromium, mockserver: MockServer) -> ReplayWebPage:
    """ReplayWeb.page 2.5.3 on a site of the mock server's own, for the session; the first run
    fetches it from the npm registry (see ensure_replaywebpage)."""
    package = ensure_replaywebpage(REPO)
    return ReplayWebPage(chromium, package, mockserver.files("replaywebpage", fresh=False))
