"""Archived pages replayed in a real browser: Debian's Chromium under Playwright, and pywb in it.

The archives must replay as a reader saw the page: text, styles applied, images loaded. Fetching
replay URLs with urllib (testkit/replay_tools.py) proves the bytes come back, not that a browser
puts the page together from them; this module drives Debian's Chromium (/usr/bin/chromium,
`make chromium`) with Python Playwright so tests assert on what is on screen. Playwright's own
browser builds (`playwright install`) are downloads this machine cannot make and do not need.
ReplayWeb.page (WACZ) in the same browser is testkit/replaywebpage.py.

tests/conftest.py imports the session-scoped fixtures (one Chromium for the whole run), so a
test only asks for them::

    from testkit.chromium import PywbBrowser

    def test_article(pywb_browser: PywbBrowser) -> None:
        with pywb_browser.replay([warc], "http://news.example.test/article") as shown:
            assert shown.style("h1", "color") == "rgb(1, 2, 3)"
            assert shown.image_size("img#photo")[0] > 0
            assert shown.foreign_requests() == []
        # or pywb_browser.open(base, url) for a running pywb

Each replay() / open() runs in a new browser context (a fresh profile: no service worker,
IndexedDB or cache left from another test) and closes it on exit. On an exception a screenshot
is saved and its path printed (pytest shows it with the failure).

Facts about Chromium 156 and pywb 2.10.0 this module depends on (checked by
tests/test_browser_replay.py):
- pywb: `BASE/URL` (or `BASE/TS/URL`) is the top frame, pywb's banner around an iframe
  (`#replay_iframe`) at `BASE/TSmp_/URL`, the page rewritten so its CSS loads as `cs_/` and its
  images as `im_/` through pywb. `mp_` loaded as the top window redirects itself (wombat) to
  the top frame, so open() goes to the top frame and reads the iframe. (`id_` serves the raw
  bytes: its CSS and image links would go to the live site.)
- The browser: Playwright's launch() gives each run a new temporary profile
  (--user-data-dir); the background-networking flags below keep Chromium from dialling
  Google's services, which this machine's closed network refuses; --host-resolver-rules makes
  every host name but localhost unresolvable, so an archived page's link can only be answered
  by the replay, never by a live site (a replayed page that reached out shows up in
  foreign_requests(); a service worker's requests are in the same log). Debian's
  /usr/bin/chromium is a shell wrapper (it adds flags from /etc/chromium.d); where findmnt
  lists /dev/shm twice, as here, it prints "[: ...: unexpected operator", harmless.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Frame,
        Locator,
        Page,
        Playwright,
        Request,
        Response,
    )

    from testkit.replay_tools import ReplayTools

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # only loopback resolves: nothing an archived page links to can come from a live site
    # (an IP literal is matched by the rules too, hence 127.0.0.1 excluded by name)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
# a bound for each wait; a page of ours replays in 1-3 s, a cold start of ReplayWeb.page too
TIMEOUT_MS = 30_000


# ---------------------------------------------------------------------------------------------
# what a test looks at


@dataclass
class BrowserLog:
    """What one browser context did: every request URL (service workers' own included), the
    answers of 400 and up, the console's errors and the pages' uncaught exceptions, for
    assertions and failure reports."""

    requests: list[str] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (status, URL)
    errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("console", self._on_console)
        context.on("weberror", lambda err: self.errors.append(f"pageerror: {err.error}"))

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed.append((response.status, response.url))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@dataclass
class ArchivedPage:
    """An archived page as the browser shows it.

    `page` is the top-level tab (the embedding page, or pywb's top frame); `frame` is the
    archived page's own document, where selectors and scripts apply as on the original site.
    """

    page: Page
    frame: Frame
    origin: str  # "http://127.0.0.1:PORT": the replay's server, all requests should go there
    log: BrowserLog

    def text(self) -> str:
        """The archived page's visible text (its body's innerText)."""
        text: str = self.frame.locator("body").inner_text()
        return text

    def style(self, selector: str, prop: str) -> str:
        """The computed value of CSS property `prop` (e.g. "color", "font-size") of the first
        element matching `selector` in the archived page: what the applied stylesheets made it."""
        value: str = self.frame.locator(selector).first.evaluate(
            "(el, prop) => getComputedStyle(el).getPropertyValue(prop)", prop
        )
        return value

    def image_size(self, selector: str) -> tuple[int, int]:
        """(naturalWidth, naturalHeight) of the image matching `selector` once the browser is
        done with it: (0, 0) if it could not be loaded or decoded."""
        image = self.frame.locator(selector).first
        handle = image.element_handle(timeout=TIMEOUT_MS)
        self.frame.wait_for_function("(img) => img.complete", arg=handle, timeout=TIMEOUT_MS)
        width, height = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
        return int(width), int(height)

    def foreign_requests(self) -> list[str]:
        """Requests that went anywhere but the replay server (data: and blob: URLs aside): an
        archived page whose CSS or images came from elsewhere did not replay from the archive."""
        return [
            url
            for url in self.log.requests
            if not url.startswith(self.origin + "/") and not url.startswith(("data:", "blob:"))
        ]


def archived_frame(iframe: Locator, url: str) -> Frame:
    """The frame of `iframe` once it has loaded the replay of `url` (any capture time),
    stylesheets and images included (the load event)."""
    handle = iframe.element_handle(timeout=TIMEOUT_MS)
    frame = handle.content_frame()
    if frame is None:
        raise RuntimeError(f"{iframe} is not a frame")
    pattern = re.compile(r"/\d{0,14}mp_/" + re.escape(url) + r"$")
    frame.wait_for_url(pattern, wait_until="load", timeout=TIMEOUT_MS)
    return frame


# ---------------------------------------------------------------------------------------------
# the browser


class Chromium:
    """Debian's Chromium under Playwright, one process for the session; a new context (fresh
    profile state) per use."""

    def __init__(self, artifacts: Path) -> None:
        if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
            raise RuntimeError(
                f"{CHROMIUM} not found: the browser replay tests use Debian's Chromium; "
                "`make chromium` (or `make test`) installs it (apt-get install chromium)"
            )
        from playwright.sync_api import sync_playwright

        self.artifacts = artifacts
        self._playwright: Playwright | None = sync_playwright().start()
        try:
            self.browser: Browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True,
                timeout=TIMEOUT_MS,
            )  # fmt: skip
        except BaseException:
            self._playwright.stop()
            raise
        self._shots = itertools.count(1)

    @property
    def version(self) -> str:
        version: str = self.browser.version
        return version

    @contextlib.contextmanager
    def context(self, label: str) -> Iterator[tuple[Page, BrowserLog]]:
        """A new browser context and a page in it, closed on exit; on an exception a
        screenshot of the page goes to the artifacts dir and its path is printed."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        log = BrowserLog()
        log.watch(context)
        try:
            page = context.new_page()
            try:
                yield page, log
            except BaseException:
                self._report(page, log, label)
                raise
        finally:
            context.close()

    def _report(self, page: Page, log: BrowserLog, label: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:60]
        shot = self.artifacts / f"{next(self._shots):03d}-{slug}.png"
        with contextlib.suppress(Exception):  # a crashed page: the report must not hide why
            page.screenshot(path=str(shot), full_page=True)
            print(f"chromium: screenshot of {label!r} at {shot}")
        print(f"chromium: frames: {[f.url for f in page.frames]}")
        print(f"chromium: answers >= 400: {log.failed[-20:]}")
        print(f"chromium: errors: {log.errors[-20:]}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


class PywbBrowser:
    """pywb (testkit/replay_tools.py's, from .venv-replay) replays opened in Chromium."""

    def __init__(self, chromium: Chromium, tools: ReplayTools) -> None:
        self.chromium = chromium
        self.tools = tools

    @contextlib.contextmanager
    def replay(
        self, warcs: list[Path], url: str, ts: str = "", index: Path | None = None
    ) -> Iterator[ArchivedPage]:
        """A pywb of its own serving `warcs` (see ReplayTools.pywb), and `url` opened in it."""
        with self.tools.pywb(warcs, index=index) as base, self.open(base, url, ts) as shown:
            yield shown

    @contextlib.contextmanager
    def open(self, base: str, url: str, ts: str = "") -> Iterator[ArchivedPage]:
        """`url` in the pywb collection at `base` ("http://127.0.0.1:PORT/news/"), the capture
        nearest `ts` ("" = the latest): pywb's top frame, the page in its `mp_` iframe."""
        if not base.endswith("/"):
            base += "/"
        top = f"{base}{ts}/{url}" if ts else f"{base}{url}"
        origin = "/".join(base.split("/")[:3])
        with self.chromium.context(f"pywb {url}") as (page, log):
            page.goto(top)
            frame = archived_frame(page.locator("iframe#replay_iframe"), url)
            yield ArchivedPage(page, frame, origin, log)


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One Chromium for the session (Debian's, driven by Playwright)."""
    started = time.monotonic()
    browser = Chromium(tmp_path_factory.mktemp("browser-artifacts"))
    print(f"Chromium {browser.version} up in {time.monotonic() - started:.1f} s")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def pywb_browser(chromium: Chromium, replay_tools: ReplayTools) -> PywbBrowser:
    """pywb replays in the session's Chromium."""
    return PywbBrowser(chromium, replay_tools)
