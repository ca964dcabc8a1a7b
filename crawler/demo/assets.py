"""The demo site's page requisites: stylesheets, a script, a font, icons and photos.

Every demo page links its outlet's ``/static/site.css`` (which ``@import``s ``/static/type.css``
with an ``@font-face``, and names a masthead image), ``/static/site.js``, a favicon, and the
shared stylesheet of the "CDN" (:data:`CDN_PATHS`, served on another loopback address, which
names an image relative to itself). Every article has a lead photo in two densities
(``srcset``), also its ``og:image``. The styles are what a replay test checks in a browser: each
outlet's headline colour (:func:`headline_rgb`) and the CDN's photo border are set only by them.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

CSS = "text/css; charset=utf-8"
PNG = "image/png"
CDN_CSS = "/lib/common.css"
CDN_LOGO = "/lib/logo.png"
CDN_PATHS = (CDN_CSS, CDN_LOGO)
OUTLET_PATHS = (
    "/static/site.css",
    "/static/type.css",
    "/static/demo-serif.woff2",
    "/static/masthead.png",
    "/static/site.js",
    "/favicon.png",
)
MISSING_ICON = "/apple-touch-icon.png"  # named by the wire outlet's articles, served 404
# named by the Beacon's articles, answering a 301 to itself: a requisite's redirect loop
LOOPING_CSS = "/static/print.css"
PHOTO_BORDER_RGB = (10, 20, 30)  # set by the CDN's stylesheet only


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no filter)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def _rgb(seed: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return digest[0], digest[1], digest[2]


def headline_rgb(outlet: str) -> tuple[int, int, int]:
    """The colour of an outlet's headlines, set only by its /static/site.css."""
    return _rgb("headline " + outlet)


def photo_path(story_path: str, density: int = 1) -> str:
    name = hashlib.sha256(story_path.encode("utf-8")).hexdigest()[:12]
    return f"/media/{name}{'' if density == 1 else f'@{density}x'}.png"


def head_links(cdn: str) -> tuple[str, ...]:
    """The requisites every page's <head> names."""
    return (
        '<link rel="stylesheet" href="/static/site.css">',
        f'<link rel="stylesheet" href="{cdn}{CDN_CSS}">',
        '<link rel="icon" type="image/png" href="/favicon.png">',
        '<script src="/static/site.js" defer></script>',
    )


def photo_html(story_path: str) -> str:
    one, two = photo_path(story_path), photo_path(story_path, 2)
    return (
        f'<img class="lead-photo" src="{one}" srcset="{one} 1x, {two} 2x" '
        'width="120" height="80" alt="">'
    )


def outlet_assets(outlet: str) -> dict[str, tuple[str, bytes]]:
    """path -> (Content-Type, body) of an outlet's own requisites."""
    r, g, b = headline_rgb(outlet)
    site_css = f"""@import url("/static/type.css");
/* the masthead image is named only here */
body {{ font-family: "Demo Serif", Georgia, serif; margin: 0 auto; max-width: 42em; }}
header {{ background: url(masthead.png) no-repeat right top; min-height: 40px; }}
h1 {{ color: rgb({r}, {g}, {b}); font-size: 34px; }}
"""
    type_css = """@font-face {
  font-family: "Demo Serif";
  src: url("demo-serif.woff2") format("woff2");
}
"""
    return {
        "/static/site.css": (CSS, site_css.encode("utf-8")),
        "/static/type.css": (CSS, type_css.encode("utf-8")),
        # not a usable font: a browser falls back to Georgia; the archive keeps what was served
        "/static/demo-serif.woff2": ("font/woff2", b"wOF2" + hashlib.sha256(b"font").digest()),
        "/static/masthead.png": (PNG, png(60, 20, _rgb("masthead " + outlet))),
        "/static/site.js": (
            "text/javascript; charset=utf-8",
            b'document.documentElement.dataset.js = "on";\n',
        ),
        "/favicon.png": (PNG, png(16, 16, _rgb("icon " + outlet))),
    }


def photo_assets(story_path: str) -> dict[str, tuple[str, bytes]]:
    rgb = _rgb("photo " + story_path)
    return {
        photo_path(story_path): (PNG, png(120, 80, rgb)),
        photo_path(story_path, 2): (PNG, png(240, 160, rgb)),
    }


def cdn_assets() -> dict[str, tuple[str, bytes]]:
    """The CDN's files, shared by every outlet: one request per run whatever links them."""
    r, g, b = PHOTO_BORDER_RGB
    css = f"""img.lead-photo {{ border: 3px solid rgb({r}, {g}, {b}); }}
.teasers {{ list-style: none; padding: 0; background: url(logo.png) no-repeat; }}
"""
    return {
        CDN_CSS: (CSS, css.encode("utf-8")),
        CDN_LOGO: (PNG, png(32, 32, _rgb("cdn logo"))),
        "/robots.txt": ("text/plain; charset=utf-8", b"User-agent: *\nAllow: /\n"),
    }
